// NamedArrays: an insertion-ordered map from dotted names ("layers.0.weight") to arrays. It is
// the flat form of a module's parameter tree, of a gradient tree shaped like it, and of an
// optimizer's state; the names are those of PyTorch's state_dict and MLX's tree_flatten.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "alloy/core/array.h"

namespace alloy::nn {

class NamedArrays {
 public:
  using Item = std::pair<std::string, array>;

  NamedArrays() = default;
  NamedArrays(std::initializer_list<Item> items);

  // Adds a new name; an existing name is an error (use set to replace).
  void insert(std::string name, array value);
  // Replaces the value of a name, adding it when absent.
  void set(const std::string& name, array value);
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // Throws std::out_of_range naming the missing key.
  const array& at(const std::string& name) const;
  array& at(const std::string& name);

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::vector<std::string> names() const;
  std::vector<array> values() const;

  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }

  // For io: an unordered map of the same entries.
  std::unordered_map<std::string, array> to_map() const;

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, size_t> index_;
};

// Total number of elements over all entries.
size_t element_count(const NamedArrays& arrays);

}  // namespace alloy::nn
