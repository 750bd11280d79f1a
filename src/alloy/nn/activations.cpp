#include "alloy/nn/activations.h"

#include <cmath>
#include <stdexcept>

#include "alloy/core/ops.h"

namespace alloy::nn {
namespace {

// A Python-float-like scalar: weak, so it takes x's dtype.
array s(double v) { return array(v); }

}  // namespace

array relu(const array& x) { return maximum(x, s(0.0)); }
array relu6(const array& x) { return minimum(maximum(x, s(0.0)), s(6.0)); }

array leaky_relu(const array& x, double negative_slope) {
  return where(greater(x, s(0.0)), x, multiply(x, s(negative_slope)));
}

array elu(const array& x, double alpha) {
  return where(greater(x, s(0.0)), x, multiply(s(alpha), expm1(x)));
}

array selu(const array& x) {
  constexpr double alpha = 1.6732632423543772848170429916717;
  constexpr double scale = 1.0507009873554804934193349852946;
  return multiply(s(scale), elu(x, alpha));
}

array celu(const array& x, double alpha) {
  if (alpha == 0) throw std::invalid_argument("[celu] alpha must not be 0");
  return add(maximum(x, s(0.0)), minimum(s(0.0), multiply(s(alpha), expm1(divide(x, s(alpha))))));
}

array gelu(const array& x, const std::string& approximate) {
  if (approximate == "none") {
    return multiply(multiply(x, s(0.5)), add(s(1.0), erf(multiply(x, s(M_SQRT1_2)))));
  }
  if (approximate == "tanh") {
    const double k = std::sqrt(2.0 / M_PI);
    array inner = multiply(s(k), add(x, multiply(s(0.044715), multiply(x, square(x)))));
    return multiply(multiply(x, s(0.5)), add(s(1.0), tanh(inner)));
  }
  throw std::invalid_argument("[gelu] approximate must be 'none' or 'tanh', got '" + approximate + "'");
}

GELU::GELU(std::string approximate) : approximate_(std::move(approximate)) {
  if (approximate_ != "none" && approximate_ != "tanh") {
    throw std::invalid_argument("[GELU] approximate must be 'none' or 'tanh', got '" + approximate_ + "'");
  }
}

array silu(const array& x) { return multiply(x, sigmoid(x)); }
array mish(const array& x) { return multiply(x, tanh(softplus(x))); }

array softplus(const array& x, double beta, double threshold) {
  array bx = multiply(x, s(beta));
  // log1p(exp(bx)) written stably as max(bx, 0) + log1p(exp(-|bx|)).
  array soft = divide(add(maximum(bx, s(0.0)), log1p(exp(negative(abs(bx))))), s(beta));
  return where(greater(bx, s(threshold)), x, soft);
}

array softsign(const array& x) { return divide(x, add(s(1.0), abs(x))); }

array hardswish(const array& x) { return divide(multiply(x, relu6(add(x, s(3.0)))), s(6.0)); }

array hard_tanh(const array& x, double min_val, double max_val) {
  if (min_val > max_val) throw std::invalid_argument("[hard_tanh] min_val must not exceed max_val");
  return clip(x, s(min_val), s(max_val));
}

array glu(const array& x, int axis) {
  int ax = normalize_axis(axis, x.ndim(), "glu");
  if (x.shape(ax) % 2 != 0) {
    throw std::invalid_argument("[glu] axis " + std::to_string(axis) + " of shape " +
                                shape_to_string(x.shape()) + " must have even length");
  }
  auto halves = split(x, 2, ax);
  return multiply(halves[0], sigmoid(halves[1]));
}

array prelu(const array& x, const array& weight) {
  if (weight.ndim() != 1 || (weight.size() != 1 && (x.ndim() == 0 || x.shape(-1) != int64_t(weight.size())))) {
    throw std::invalid_argument("[prelu] weight of shape " + shape_to_string(weight.shape()) +
                                " must be (1,) or (C,) with C the last axis of the input " +
                                shape_to_string(x.shape()));
  }
  return add(maximum(x, s(0.0)), multiply(weight, minimum(x, s(0.0))));
}

PReLU::PReLU(int64_t num_parameters, double init, Dtype dtype)
    : weight(full({num_parameters}, array(init), dtype)) {
  register_parameter("weight", weight);
}

}  // namespace alloy::nn
