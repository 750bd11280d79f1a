// Linear (y = x W^T + b) and Identity. Linear's weight is (out_features, in_features), as
// PyTorch's, initialized U(-1/sqrt(in), 1/sqrt(in)) like its bias (PyTorch's default).
//
// quantize(bits, group_size) turns a Linear quantized in place (modules are held by value, so
// nn::quantize cannot swap in another class): `weight` becomes its ggml blocks, a uint8 buffer
// (out_features, row_bytes) that is saved and loaded under the same name but is no parameter,
// and forward runs quantized_matmul on them; the bias stays a float parameter. See
// nn/quantized.h for the (bits, group_size) pairs and their formats.
#pragma once

#include <optional>

#include "alloy/core/dtype.h"
#include "alloy/core/quant_formats.h"
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

  // Replaces weight by its blocks in the format of (bits, group_size); in_features must be a
  // multiple of the format's block size. Quantizing twice is an error.
  void quantize(int bits = 4, int group_size = 32);
  bool is_quantized() const { return quant_type_.has_value(); }
  std::optional<quant::Type> quant_type() const { return quant_type_; }

  array weight;               // (out_features, in_features), or uint8 (out_features, row_bytes) quantized
  std::optional<array> bias;  // (out_features,)

 private:
  int64_t in_features_, out_features_;
  std::optional<quant::Type> quant_type_;
};

class Identity : public UnaryModule {
 public:
  array forward(const array& x) override { return x; }
};

}  // namespace alloy::nn
