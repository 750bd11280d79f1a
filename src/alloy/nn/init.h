// Parameter initializers, as torch.nn.init (the formulas and defaults are PyTorch's). Each
// returns a new array of `shape`; `key` makes the draw reproducible (without one the global
// key is split). Fans follow alloy's layouts, which keep the input channels last: a weight of
// shape (out, k..., in) has fan_in = in * prod(k) and fan_out = out * prod(k); for 2-D weights
// (out, in) that is PyTorch's rule.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include "alloy/core/array.h"
#include "alloy/core/dtype.h"

namespace alloy::nn::init {

using Key = std::optional<array>;

// (fan_in, fan_out); shapes of fewer than 2 dimensions are an error.
std::pair<int64_t, int64_t> fans(const Shape& shape);
// The recommended gain for a nonlinearity: linear, conv*, sigmoid (1), tanh (5/3),
// relu (sqrt 2), leaky_relu (sqrt(2 / (1 + slope^2))), selu (3/4).
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

array constant(const Shape& shape, double value, Dtype dtype = float32);
array uniform(const Shape& shape, double low = 0.0, double high = 1.0, Dtype dtype = float32,
              Key key = std::nullopt);
array normal(const Shape& shape, double mean = 0.0, double std = 1.0, Dtype dtype = float32,
             Key key = std::nullopt);
// Normal(mean, std) restricted to [a, b] (absolute bounds, as torch.nn.init.trunc_normal_).
array truncated_normal(const Shape& shape, double mean = 0.0, double std = 1.0, double a = -2.0,
                       double b = 2.0, Dtype dtype = float32, Key key = std::nullopt);
array xavier_uniform(const Shape& shape, double gain = 1.0, Dtype dtype = float32, Key key = std::nullopt);
array xavier_normal(const Shape& shape, double gain = 1.0, Dtype dtype = float32, Key key = std::nullopt);
// mode "fan_in" or "fan_out"; a is the negative slope used when nonlinearity is leaky_relu.
array kaiming_uniform(const Shape& shape, double a = 0.0, const std::string& mode = "fan_in",
                      const std::string& nonlinearity = "leaky_relu", Dtype dtype = float32,
                      Key key = std::nullopt);
array kaiming_normal(const Shape& shape, double a = 0.0, const std::string& mode = "fan_in",
                     const std::string& nonlinearity = "leaky_relu", Dtype dtype = float32,
                     Key key = std::nullopt);
// Rows (or columns, whichever are fewer) orthonormal, from the QR decomposition of a normal
// draw with the signs of R's diagonal fixed, as PyTorch; dims after the first are flattened.
array orthogonal(const Shape& shape, double gain = 1.0, Dtype dtype = float32, Key key = std::nullopt);

}  // namespace alloy::nn::init
