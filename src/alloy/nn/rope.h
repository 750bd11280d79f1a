// RoPE: rotary position embeddings as MLX's nn.RoPE, over the first `dims` features of inputs
// (..., L, D) (D >= dims; the others pass through), for positions offset .. offset + L - 1 along
// axis -2. traditional: rotates the pairs (2i, 2i + 1) (the RoFormer paper, GPT-J); otherwise
// the halves (i, i + dims / 2) (GPT-NeoX, Hugging Face Llama). Pair i turns by the angle
// (offset + t) * scale * base^(-2i / dims). No parameters; it runs fast::rope.
#pragma once

#include <string>

#include "alloy/core/array.h"
#include "alloy/nn/module.h"

namespace alloy::nn {

class RoPE : public UnaryModule {
 public:
  explicit RoPE(int dims, bool traditional = false, double base = 10000.0, double scale = 1.0);

  // x (..., L, D) -> the same shape and dtype.
  array forward(const array& x) override { return forward(x, 0); }
  array forward(const array& x, int offset);
  using UnaryModule::operator();
  array operator()(const array& x, int offset) { return forward(x, offset); }
  std::string describe() const override;

  int dims() const { return dims_; }
  bool traditional() const { return traditional_; }
  double base() const { return base_; }
  double scale() const { return scale_; }

 private:
  int dims_;
  bool traditional_;
  double base_, scale_;
};

}  // namespace alloy::nn
