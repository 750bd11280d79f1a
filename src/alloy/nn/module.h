// nn::Module: a tree of named parameters, buffers and submodules, as torch.nn.Module and
// mlx.nn.Module. A layer keeps its arrays as plain members and registers them by name in its
// constructor; registration stores the member's address, so a module is neither copyable nor
// movable (construct it in place: as a member, with make_unique, or returned as a prvalue).
//
//   struct MLP : nn::Module {
//     nn::Linear fc1{784, 256}, fc2{256, 10};
//     MLP() { register_module("fc1", fc1); register_module("fc2", fc2); }
//     array forward(const array& x) { return fc2(nn::relu(fc1(x))); }
//   };
//
// Names are dotted paths ("fc1.weight", "layers.0.attention.query_proj.bias"): the keys of
// PyTorch's state_dict, so save_weights/load_weights interchange checkpoints with it and MLX.
// Parameters are what training updates; buffers (BatchNorm's running statistics) are state
// that is saved and loaded but never differentiated.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/core/dtype.h"
#include "alloy/nn/named_arrays.h"

namespace alloy::nn {

class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  // Every parameter, frozen or not, in registration order (depth first).
  NamedArrays parameters() const;
  // The parameters that are not frozen: what value_and_grad differentiates.
  NamedArrays trainable_parameters() const;
  NamedArrays buffers() const;
  // Parameters and buffers: what save_weights writes (PyTorch's state_dict).
  NamedArrays state() const;

  // Replaces named parameters or buffers. An unknown name, a shape that differs from the current
  // value or a non-floating array for a parameter is an error naming the entry.
  void update(const NamedArrays& values);

  // Freezes (excludes from trainable_parameters) the parameters whose dotted name matches one of
  // the glob patterns ('*' matches any run of characters, '?' one). No pattern: all of them.
  // A pattern that matches nothing is an error, so a typo is not silently ignored.
  void freeze(const std::vector<std::string>& patterns = {});
  void unfreeze(const std::vector<std::string>& patterns = {});

  // Training mode (the default) or evaluation mode, for this module and every submodule.
  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  // Casts the floating parameters and buffers to dtype (integer buffers stay as they are).
  void set_dtype(Dtype dtype);

  // safetensors (or .npz by extension), names as state(). load_weights casts each tensor to the
  // dtype of the entry it replaces; strict requires the file to hold exactly this module's state.
  void save_weights(const std::string& path) const;
  void load_weights(const std::string& path, bool strict = true);
  void load_weights(const NamedArrays& weights, bool strict = true);

  // A tree of the submodules with their parameter counts, and the total.
  std::string summary() const;
  // One line describing this module alone, e.g. "Linear(784, 256, bias=true)". The default is
  // the class name.
  virtual std::string describe() const;

  // Direct submodules with their names.
  const std::vector<std::pair<std::string, Module*>>& children() const { return children_; }
  // The submodule at a dotted path ("encoder.layers.3"); an unknown path is an error.
  Module& module_at(const std::string& path);

 protected:
  // Registers a member as parameter or buffer. A name holds letters, digits and '_' only.
  void register_parameter(const std::string& name, array& member);
  void register_buffer(const std::string& name, array& member);
  // Turns a registered parameter into a buffer (a weight replaced by its quantized blocks).
  void make_buffer(const std::string& name);
  // Registers a member submodule (not owned) or takes ownership of one.
  void register_module(const std::string& name, Module& child);
  template <typename M>
  M& register_module(const std::string& name, std::unique_ptr<M> child) {
    static_assert(std::is_base_of_v<Module, M>, "register_module takes nn::Module subclasses");
    M& ref = *child;
    owned_.push_back(std::move(child));
    register_module(name, ref);
    return ref;
  }

 private:
  struct Slot {
    std::string name;
    array* member;
    bool is_parameter;
    bool frozen = false;
  };
  template <typename F>
  void for_each_slot(const std::string& prefix, F&& f) const;
  void check_new_name(const std::string& name) const;
  void set_frozen(const std::vector<std::string>& patterns, bool frozen, const char* op);

  std::vector<Slot> slots_;
  std::vector<std::pair<std::string, Module*>> children_;
  std::vector<std::unique_ptr<Module>> owned_;
  bool training_ = true;
};

// A module with one input and one output: what Sequential chains.
class UnaryModule : public Module {
 public:
  virtual array forward(const array& x) = 0;
  array operator()(const array& x) { return forward(x); }
};

}  // namespace alloy::nn
