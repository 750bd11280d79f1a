#include "alloy/nn/activations.h"

#include <cmath>
#include <stdexcept>

#include "alloy/core/ops.h"

namespace alloy::nn {
namespace {

// A Python-float-like scalar: weak, so it takes x's dtype.
array s(double v) { return array(v); }

}  // namespace

// The piecewise functions take PyTorch's gradient at their kinks (relu'(0) = 0, hardtanh' = 0 at
// both ends, leaky_relu'(0) = slope, elu'(0) = alpha): maximum and minimum pass a tie's gradient
// to their first argument, so the argument that should get it comes first (maximum(x, 0) gave
// relu'(0) = 1). maximum/minimum read one operand less than where and need no mask. Branches
// with an exponential get min(x, 0), so that exp never overflows for large x (its zero cotangent
// would become 0 * inf = NaN).
array relu(const array& x) { return maximum(s(0.0), x); }
array relu6(const array& x) { return hard_tanh(x, 0.0, 6.0); }

array leaky_relu(const array& x, double negative_slope) {
  // x for x > 0, slope * x below: the larger of the two for slope <= 1, the smaller above.
  array scaled = multiply(x, s(negative_slope));
  return negative_slope <= 1 ? maximum(scaled, x) : minimum(scaled, x);
}

array elu(const array& x, double alpha) {
  return add(maximum(s(0.0), x), multiply(s(alpha), expm1(minimum(x, s(0.0)))));
}

array selu(const array& x) {
  constexpr double alpha = 1.6732632423543772848170429916717;
  constexpr double scale = 1.0507009873554804934193349852946;
  return multiply(s(scale), elu(x, alpha));
}

array celu(const array& x, double alpha) {
  if (alpha == 0) throw std::invalid_argument("[celu] alpha must not be 0");
  return add(maximum(s(0.0), x), multiply(s(alpha), expm1(divide(minimum(x, s(0.0)), s(alpha)))));
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
  // log(1 + exp(bx)) as max(bx, 0) + log1p(exp(-|bx|)), stable for large bx, with max(bx, 0)
  // written (bx + |bx|) / 2: maximum's tie at bx = 0 gave the gradient 1 there, not sigmoid(0) =
  // 1/2. (logaddexp(bx, 0) is exact too but twice as slow on the CPU.)
  array abs_bx = abs(bx);
  array soft = divide(add(multiply(add(bx, abs_bx), s(0.5)), log1p(exp(negative(abs_bx)))), s(beta));
  // Where bx > threshold: soft + (x - soft), which is x exactly (x - soft is exact while soft
  // <= 2x, i.e. for thresholds of log 2 and more), with gradient 1.
  array linear = astype(greater(bx, s(threshold)), x.dtype());
  return add(soft, multiply(linear, subtract(x, soft)));
}

array softsign(const array& x) { return divide(x, add(s(1.0), abs(x))); }

// x * relu6(x + 3) / 6, in PyTorch's order of operations. At the kinks the gradient is the right
// derivative (-1/2 at -3, 1 at 3), as PyTorch's vectorized CPU kernel gives it (its scalar tail
// loop gives 3/2 at 3).
array hardswish(const array& x) {
  return divide(multiply(x, minimum(s(6.0), maximum(add(x, s(3.0)), s(0.0)))), s(6.0));
}

array hard_tanh(const array& x, double min_val, double max_val) {
  if (min_val > max_val) throw std::invalid_argument("[hard_tanh] min_val must not exceed max_val");
  return minimum(s(max_val), maximum(s(min_val), x));
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
  return add(maximum(s(0.0), x), multiply(weight, minimum(x, s(0.0))));
}

PReLU::PReLU(int64_t num_parameters, double init, Dtype dtype)
    : weight(full({num_parameters}, array(init), dtype)) {
  register_parameter("weight", weight);
}

}  // namespace alloy::nn
