// Dropout layers, as torch.nn.Dropout and Dropout2d: in training mode each element (Dropout) or
// each whole channel of each sample (Dropout2d) is zeroed with probability p and the kept values
// are scaled by 1 / (1 - p), so the expected output is the input; in evaluation mode, or with
// p = 0, the input is returned as it is. Masks are drawn from alloy::random's global key
// (random::seed makes them reproducible). p must be in [0, 1).
#pragma once

#include "alloy/nn/module.h"

namespace alloy::nn {

// x (any shape, floating) with each element zeroed with probability p and the others scaled by
// 1 / (1 - p), whatever the training mode (torch.nn.functional.dropout with training=True): what
// Dropout applies, and MultiHeadAttention to its attention weights. p must be in [0, 1]; p = 1
// gives zeros, as PyTorch's.
array dropout(const array& x, double p);

class Dropout : public UnaryModule {
 public:
  explicit Dropout(double p = 0.5);
  array forward(const array& x) override;  // any shape
  std::string describe() const override;
  double p() const { return p_; }

 private:
  double p_;
};

// Channels last: input (N, H, W, C) with mask (N, 1, 1, C), or unbatched (H, W, C) with mask
// (1, 1, C).
class Dropout2d : public UnaryModule {
 public:
  explicit Dropout2d(double p = 0.5);
  array forward(const array& x) override;
  std::string describe() const override;
  double p() const { return p_; }

 private:
  double p_;
};

}  // namespace alloy::nn
