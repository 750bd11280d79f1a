#include "alloy/nn/normalization.h"

#include <cstdio>
#include <stdexcept>

#include "alloy/core/fast.h"
#include "alloy/core/ops.h"

namespace alloy::nn {
namespace {

[[noreturn]] void fail(const char* name, const std::string& msg) {
  throw std::invalid_argument(std::string("[") + name + "] " + msg);
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

const char* flag(bool b) { return b ? "true" : "false"; }

void check_positive(const char* name, const char* what, int64_t count) {
  if (count <= 0) fail(name, std::string(what) + " must be positive, got " + std::to_string(count));
}

void check_args(const char* name, double eps, Dtype dtype) {
  if (!(eps >= 0)) fail(name, "eps must be >= 0, got " + number(eps));
  if (!is_floating(dtype)) fail(name, "needs a floating dtype, got " + std::string(dtype_name(dtype)));
}

void check_floating_input(const char* name, const array& x) {
  if (!is_floating(x.dtype())) fail(name, "expects a floating input, got " + std::string(dtype_name(x.dtype())));
}

// The statistics' dtype: float32 for half-precision inputs.
Dtype acc_dtype(Dtype t) { return t == float64 ? float64 : float32; }

// (x - mean) / sqrt(var + eps), then * weight + bias (broadcast against the last axis).
array normalize(const array& xf, const array& mu, const array& var, double eps, const std::optional<array>& weight,
                const std::optional<array>& bias) {
  array y = multiply(subtract(xf, mu), rsqrt(add(var, array(eps))));
  if (weight) y = multiply(y, astype(*weight, xf.dtype()));
  if (bias) y = add(y, astype(*bias, xf.dtype()));
  return y;
}

// Mean and biased variance over axes, keeping them.
std::pair<array, array> moments(const array& xf, const Axes& axes) {
  array mu = mean(xf, axes, true);
  return {mu, mean(square(subtract(xf, mu)), axes, true)};
}

}  // namespace

// ---------- LayerNorm ----------
LayerNorm::LayerNorm(Shape normalized_shape, double eps, bool elementwise_affine, bool has_bias, Dtype dtype)
    : shape_(std::move(normalized_shape)), eps_(eps) {
  if (shape_.empty()) fail("LayerNorm", "normalized_shape needs at least one dimension");
  for (int64_t d : shape_) {
    if (d <= 0) fail("LayerNorm", "normalized_shape must be positive, got " + shape_to_string(shape_));
  }
  check_args("LayerNorm", eps, dtype);
  if (elementwise_affine) {
    weight = ones(shape_, dtype);
    register_parameter("weight", *weight);
    if (has_bias) {
      bias = zeros(shape_, dtype);
      register_parameter("bias", *bias);
    }
  }
}

array LayerNorm::forward(const array& x) {
  const int k = int(shape_.size());
  bool ok = x.ndim() >= k;
  for (int i = 0; ok && i < k; ++i) ok = x.shape(x.ndim() - k + i) == shape_[i];
  if (!ok) {
    std::string trailing = shape_to_string(shape_);
    fail("LayerNorm", "expects input (..., " + trailing.substr(1, trailing.size() - 2) + "), got shape " +
                          shape_to_string(x.shape()));
  }
  check_floating_input("LayerNorm", x);
  // The normalized dims flattened into one: (..., D).
  Shape flat(x.shape().begin(), x.shape().end() - k);
  flat.push_back(-1);
  auto flat_param = [](const std::optional<array>& p) -> std::optional<array> {
    if (!p) return std::nullopt;
    return reshape(*p, {-1});
  };
  array y = fast::layer_norm(reshape(x, flat), flat_param(weight), flat_param(bias), float(eps_));
  return reshape(y, x.shape());
}

std::string LayerNorm::describe() const {
  std::string dims = "(";
  for (size_t i = 0; i < shape_.size(); ++i) dims += (i ? ", " : "") + std::to_string(shape_[i]);
  dims += shape_.size() == 1 ? ",)" : ")";
  std::string s = "LayerNorm(" + dims + ", eps=" + number(eps_) + ", elementwise_affine=" + flag(bool(weight));
  if (weight && !bias) s += ", bias=false";
  return s + ")";
}

// ---------- RMSNorm ----------
RMSNorm::RMSNorm(int64_t dims, double eps, Dtype dtype) : weight(array(0.0f)), dims_(dims), eps_(eps) {
  check_positive("RMSNorm", "dims", dims);
  check_args("RMSNorm", eps, dtype);
  weight = ones({dims}, dtype);
  register_parameter("weight", weight);
}

array RMSNorm::forward(const array& x) {
  if (x.ndim() == 0 || x.shape(-1) != dims_) {
    fail("RMSNorm", "expects input (..., " + std::to_string(dims_) + "), got shape " + shape_to_string(x.shape()));
  }
  check_floating_input("RMSNorm", x);
  return fast::rms_norm(x, weight, float(eps_));
}

std::string RMSNorm::describe() const {
  return "RMSNorm(" + std::to_string(dims_) + ", eps=" + number(eps_) + ")";
}

// ---------- GroupNorm ----------
GroupNorm::GroupNorm(int64_t num_groups, int64_t num_channels, double eps, bool affine, Dtype dtype)
    : groups_(num_groups), channels_(num_channels), eps_(eps) {
  check_positive("GroupNorm", "num_groups", num_groups);
  check_positive("GroupNorm", "num_channels", num_channels);
  check_args("GroupNorm", eps, dtype);
  if (num_channels % num_groups != 0) {
    fail("GroupNorm", "num_channels " + std::to_string(num_channels) + " must be divisible by num_groups " +
                          std::to_string(num_groups));
  }
  if (affine) {
    weight = ones({num_channels}, dtype);
    bias = zeros({num_channels}, dtype);
    register_parameter("weight", *weight);
    register_parameter("bias", *bias);
  }
}

array GroupNorm::forward(const array& x) {
  if (x.ndim() < 2 || x.shape(-1) != channels_) {
    fail("GroupNorm", "expects input (N, ..., " + std::to_string(channels_) + "), got shape " +
                          shape_to_string(x.shape()));
  }
  check_floating_input("GroupNorm", x);
  // (N, S, G, C / G): S spatial positions, channels grouped consecutively as PyTorch's.
  array xf = reshape(astype(x, acc_dtype(x.dtype())), {x.shape(0), -1, groups_, channels_ / groups_});
  auto [mu, var] = moments(xf, {1, 3});
  array y = normalize(xf, mu, var, eps_, std::nullopt, std::nullopt);
  y = reshape(y, x.shape());
  if (weight) y = add(multiply(y, astype(*weight, y.dtype())), astype(*bias, y.dtype()));
  return astype(y, x.dtype());
}

std::string GroupNorm::describe() const {
  return "GroupNorm(" + std::to_string(groups_) + ", " + std::to_string(channels_) + ", eps=" + number(eps_) +
         ", affine=" + flag(bool(weight)) + ")";
}

// ---------- BatchNorm ----------
BatchNorm::BatchNorm(int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                     bool track_running_stats, Dtype dtype)
    : features_(num_features), eps_(eps), momentum_(momentum) {
  check_positive("BatchNorm", "num_features", num_features);
  check_args("BatchNorm", eps, dtype);
  if (momentum && !(*momentum >= 0 && *momentum <= 1)) {
    fail("BatchNorm", "momentum must be in [0, 1], got " + number(*momentum));
  }
  if (affine) {
    weight = ones({num_features}, dtype);
    bias = zeros({num_features}, dtype);
    register_parameter("weight", *weight);
    register_parameter("bias", *bias);
  }
  if (track_running_stats) {
    running_mean = zeros({num_features}, dtype);
    running_var = ones({num_features}, dtype);
    num_batches_tracked = array(int64_t(0));
    register_buffer("running_mean", *running_mean);
    register_buffer("running_var", *running_var);
    register_buffer("num_batches_tracked", *num_batches_tracked);
  }
}

array BatchNorm::forward(const array& x) {
  if (x.ndim() < 2 || x.shape(-1) != features_) {
    const std::string c = std::to_string(features_);
    fail("BatchNorm", "expects input (N, " + c + ") or (N, ..., " + c + "), got shape " + shape_to_string(x.shape()));
  }
  check_floating_input("BatchNorm", x);
  const Dtype acc = acc_dtype(x.dtype());
  array xf = astype(x, acc);
  Axes axes;  // every axis but the channels
  for (int i = 0; i + 1 < x.ndim(); ++i) axes.push_back(i);
  if (!training() && running_mean) {
    array mu = astype(*running_mean, acc), var = astype(*running_var, acc);
    return astype(normalize(xf, mu, var, eps_, weight, bias), x.dtype());
  }
  const int64_t n = int64_t(x.size()) / features_;  // values per channel
  if (training() && n < 2) {
    fail("BatchNorm", "expects more than 1 value per channel when training, got input shape " +
                          shape_to_string(x.shape()));
  }
  auto [mu, var] = moments(xf, axes);
  if (training() && running_mean) {
    *num_batches_tracked = add(*num_batches_tracked, array(int64_t(1)));
    // Cumulative average without a momentum: factor 1 / num_batches_tracked.
    array factor = momentum_ ? array(*momentum_) : reciprocal(astype(*num_batches_tracked, acc));
    array batch_mean = stop_gradient(reshape(mu, {features_}));
    array batch_var = stop_gradient(multiply(reshape(var, {features_}), array(double(n) / double(n - 1))));
    auto blend = [&](const array& running, const array& batch) {
      array r = astype(running, acc);
      return astype(add(r, multiply(factor, subtract(batch, r))), running.dtype());
    };
    *running_mean = blend(*running_mean, batch_mean);
    *running_var = blend(*running_var, batch_var);
  }
  return astype(normalize(xf, mu, var, eps_, weight, bias), x.dtype());
}

std::string BatchNorm::describe() const {
  return "BatchNorm(" + std::to_string(features_) + ", eps=" + number(eps_) +
         ", momentum=" + (momentum_ ? number(*momentum_) : std::string("none")) + ", affine=" + flag(bool(weight)) +
         ", track_running_stats=" + flag(bool(running_mean)) + ")";
}

// ---------- InstanceNorm ----------
InstanceNorm::InstanceNorm(int64_t num_features, double eps, bool affine, Dtype dtype)
    : features_(num_features), eps_(eps) {
  check_positive("InstanceNorm", "num_features", num_features);
  check_args("InstanceNorm", eps, dtype);
  if (affine) {
    weight = ones({num_features}, dtype);
    bias = zeros({num_features}, dtype);
    register_parameter("weight", *weight);
    register_parameter("bias", *bias);
  }
}

array InstanceNorm::forward(const array& x) {
  if (x.ndim() < 3 || x.shape(-1) != features_) {
    fail("InstanceNorm", "expects input (N, spatial..., " + std::to_string(features_) + "), got shape " +
                             shape_to_string(x.shape()));
  }
  check_floating_input("InstanceNorm", x);
  array xf = astype(x, acc_dtype(x.dtype()));
  Axes axes;  // the spatial axes
  for (int i = 1; i + 1 < x.ndim(); ++i) axes.push_back(i);
  auto [mu, var] = moments(xf, axes);
  return astype(normalize(xf, mu, var, eps_, weight, bias), x.dtype());
}

std::string InstanceNorm::describe() const {
  return "InstanceNorm(" + std::to_string(features_) + ", eps=" + number(eps_) + ", affine=" + flag(bool(weight)) +
         ")";
}

}  // namespace alloy::nn
