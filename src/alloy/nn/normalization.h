// Normalization layers, as PyTorch's (parameter and buffer names, defaults, formulas), over
// alloy's channels-last layouts: the channel axis is the last one. Statistics are computed in
// float32 for half-precision inputs (float64 for float64) and use the biased variance; the output
// has the input's dtype.
//
//   LayerNorm    over the trailing normalized_shape dims   weight, bias: normalized_shape
//   RMSNorm      over the last dim                          weight: (dims,)
//   GroupNorm    (N, ..., C): over (spatial..., C / G)      weight, bias: (C,)
//   BatchNorm    (N, C) or (N, ..., C): over all but C      weight, bias, running stats: (C,)
//   InstanceNorm (N, spatial..., C): over spatial...        weight, bias: (C,) when affine
#pragma once

#include <optional>
#include <string>

#include "alloy/core/dtype.h"
#include "alloy/nn/module.h"

namespace alloy::nn {

// y = (x - mean) / sqrt(var + eps) * weight + bias over the trailing dims normalized_shape
// (one or more), computed by fast::layer_norm. bias=false keeps only the weight.
class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
                     bool bias = true, Dtype dtype = float32);
  explicit LayerNorm(int64_t dims, double eps = 1e-5, bool elementwise_affine = true, bool bias = true,
                     Dtype dtype = float32)
      : LayerNorm(Shape{dims}, eps, elementwise_affine, bias, dtype) {}
  array forward(const array& x) override;  // (..., normalized_shape...) -> same
  std::string describe() const override;

  std::optional<array> weight;  // normalized_shape, ones
  std::optional<array> bias;    // normalized_shape, zeros

 private:
  Shape shape_;
  double eps_;
};

// y = x / sqrt(mean(x^2) + eps) * weight over the last dim, computed by fast::rms_norm.
class RMSNorm : public UnaryModule {
 public:
  explicit RMSNorm(int64_t dims, double eps = 1e-5, Dtype dtype = float32);
  array forward(const array& x) override;  // (..., dims) -> same
  std::string describe() const override;

  array weight;  // (dims,), ones

 private:
  int64_t dims_;
  double eps_;
};

// Channels split into num_groups groups of consecutive channels; each (sample, group) is
// normalized over its channels and all spatial positions.
class GroupNorm : public UnaryModule {
 public:
  GroupNorm(int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true,
            Dtype dtype = float32);
  array forward(const array& x) override;  // (N, ..., C) -> same
  std::string describe() const override;

  std::optional<array> weight;  // (C,), ones
  std::optional<array> bias;    // (C,), zeros

 private:
  int64_t groups_, channels_;
  double eps_;
};

// Batch normalization for (N, C) and channels-last (N, ..., C) input (PyTorch's BatchNorm1d,
// 2d and 3d in one). Training mode normalizes with the batch statistics and, with
// track_running_stats, updates running_mean and running_var (the latter with the unbiased
// variance) by `momentum` (none: the cumulative average over num_batches_tracked), outside the
// gradient. Evaluation mode normalizes with the running statistics (the batch ones when they are
// not tracked). The updated buffers are lazy arrays like any other: evaluate them with the loss
// (e.g. eval(loss, model.buffers())), as in MLX, or each one keeps its batch alive until then.
class BatchNorm : public UnaryModule {
 public:
  explicit BatchNorm(int64_t num_features, double eps = 1e-5, std::optional<double> momentum = 0.1,
                     bool affine = true, bool track_running_stats = true, Dtype dtype = float32);
  array forward(const array& x) override;
  std::string describe() const override;

  std::optional<array> weight;               // (C,), ones
  std::optional<array> bias;                 // (C,), zeros
  std::optional<array> running_mean;         // (C,), zeros
  std::optional<array> running_var;          // (C,), ones
  std::optional<array> num_batches_tracked;  // int64 scalar

 private:
  int64_t features_;
  double eps_;
  std::optional<double> momentum_;
};

// Each (sample, channel) normalized over the spatial positions. No running statistics
// (PyTorch's default track_running_stats=false).
class InstanceNorm : public UnaryModule {
 public:
  explicit InstanceNorm(int64_t num_features, double eps = 1e-5, bool affine = false, Dtype dtype = float32);
  array forward(const array& x) override;  // (N, spatial..., C) -> same
  std::string describe() const override;

  std::optional<array> weight;  // (C,), ones, when affine
  std::optional<array> bias;    // (C,), zeros, when affine

 private:
  int64_t features_;
  double eps_;
};

}  // namespace alloy::nn
