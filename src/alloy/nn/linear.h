// Linear (y = x W^T + b) and Identity. Linear's weight is (out_features, in_features), as
// PyTorch's, initialized U(-1/sqrt(in), 1/sqrt(in)) like its bias (PyTorch's default).
#pragma once

#include <optional>

#include "alloy/core/dtype.h"
#include "alloy/nn/module.h"

namespace alloy::nn {

class Linear : public UnaryModule {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Dtype dtype = float32);
  // x (..., in_features) -> (..., out_features)
  array forward(const array& x) override;
  std::string describe() const override;

  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

  array weight;               // (out_features, in_features)
  std::optional<array> bias;  // (out_features,)

 private:
  int64_t in_features_, out_features_;
};

class Identity : public UnaryModule {
 public:
  array forward(const array& x) override { return x; }
};

}  // namespace alloy::nn
