// Sequential: unary modules applied in order. Children are named "0", "1", ... as in
// torch.nn.Sequential, so its state names ("0.weight", "2.bias") match PyTorch's.
#pragma once

#include <memory>
#include <vector>

#include "alloy/nn/module.h"

namespace alloy::nn {

class Sequential : public UnaryModule {
 public:
  Sequential() = default;
  template <typename... Ms>
  explicit Sequential(std::unique_ptr<Ms>... layers) {
    (append(std::move(layers)), ...);
  }

  template <typename M>
  M& append(std::unique_ptr<M> layer) {
    static_assert(std::is_base_of_v<UnaryModule, M>, "Sequential holds unary modules");
    M& ref = register_module(std::to_string(layers_.size()), std::move(layer));
    layers_.push_back(&ref);
    return ref;
  }

  array forward(const array& x) override;
  size_t size() const { return layers_.size(); }
  UnaryModule& operator[](size_t i) { return *layers_.at(i); }

 private:
  std::vector<UnaryModule*> layers_;
};

}  // namespace alloy::nn
