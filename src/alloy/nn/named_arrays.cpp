#include "alloy/nn/named_arrays.h"

#include <stdexcept>

namespace alloy::nn {

NamedArrays::NamedArrays(std::initializer_list<Item> items) {
  for (const auto& [name, value] : items) insert(name, value);
}

void NamedArrays::insert(std::string name, array value) {
  if (contains(name)) throw std::invalid_argument("[NamedArrays] duplicate name '" + name + "'");
  index_.emplace(name, items_.size());
  items_.emplace_back(std::move(name), std::move(value));
}

void NamedArrays::set(const std::string& name, array value) {
  auto it = index_.find(name);
  if (it == index_.end()) {
    insert(name, std::move(value));
  } else {
    items_[it->second].second = std::move(value);
  }
}

const array& NamedArrays::at(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) throw std::out_of_range("[NamedArrays] no entry named '" + name + "'");
  return items_[it->second].second;
}

array& NamedArrays::at(const std::string& name) {
  return const_cast<array&>(static_cast<const NamedArrays&>(*this).at(name));
}

std::vector<std::string> NamedArrays::names() const {
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& item : items_) out.push_back(item.first);
  return out;
}

std::vector<array> NamedArrays::values() const {
  std::vector<array> out;
  out.reserve(items_.size());
  for (const auto& item : items_) out.push_back(item.second);
  return out;
}

std::unordered_map<std::string, array> NamedArrays::to_map() const {
  std::unordered_map<std::string, array> out;
  for (const auto& [name, value] : items_) out.emplace(name, value);
  return out;
}

size_t element_count(const NamedArrays& arrays) {
  size_t n = 0;
  for (const auto& item : arrays) n += item.second.size();
  return n;
}

}  // namespace alloy::nn
