// ModuleList<Layer>: owned submodules named "0", "1", ... (torch.nn.ModuleList), so state names
// read "layers.3.self_attn.q_proj.weight".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "alloy/nn/module.h"

namespace alloy::nn {

template <typename Layer>
class ModuleList : public Module {
 public:
  Layer& append(std::unique_ptr<Layer> layer) {
    Layer& ref = register_module(std::to_string(layers_.size()), std::move(layer));
    layers_.push_back(&ref);
    return ref;
  }
  size_t size() const { return layers_.size(); }
  Layer& operator[](size_t i) { return *layers_.at(i); }
  const Layer& operator[](size_t i) const { return *layers_.at(i); }
  auto begin() const { return layers_.begin(); }
  auto end() const { return layers_.end(); }
  std::string describe() const override { return "ModuleList(" + std::to_string(layers_.size()) + ")"; }

 private:
  std::vector<Layer*> layers_;
};

}  // namespace alloy::nn
