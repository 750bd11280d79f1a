#include "alloy/nn/dropout.h"

#include <cstdio>
#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/core/random.h"

namespace alloy::nn {
namespace {

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

double checked_p(const char* name, double p) {
  if (!(p >= 0 && p < 1)) {
    throw std::invalid_argument(std::string("[") + name + "] p must be in [0, 1), got " + number(p));
  }
  return p;
}

// x * mask / (1 - p) with mask ~ Bernoulli(1 - p) of mask_shape (broadcast against x).
array drop(const array& x, const Shape& mask_shape, double p) {
  array keep = random::bernoulli(array(1.0 - p), mask_shape);
  // 0 or 1 / (1 - p) in x's dtype, so kept values are exactly x * (1 / (1 - p)).
  array scale = multiply(astype(keep, x.dtype()), array(1.0 / (1.0 - p)));
  return multiply(x, scale);
}

}  // namespace

array dropout(const array& x, double p) {
  if (!(p >= 0 && p <= 1)) throw std::invalid_argument("[dropout] p must be in [0, 1], got " + number(p));
  if (!is_floating(x.dtype())) {
    throw std::invalid_argument("[dropout] expects a floating input, got " + std::string(dtype_name(x.dtype())));
  }
  if (p == 0) return x;
  if (p == 1) return zeros_like(x);
  return drop(x, x.shape(), p);
}

Dropout::Dropout(double p) : p_(checked_p("Dropout", p)) {}

array Dropout::forward(const array& x) {
  if (!training() || p_ == 0) return x;
  if (!is_floating(x.dtype())) {
    throw std::invalid_argument("[Dropout] expects a floating input, got " + std::string(dtype_name(x.dtype())));
  }
  return dropout(x, p_);
}

std::string Dropout::describe() const { return "Dropout(p=" + number(p_) + ")"; }

Dropout2d::Dropout2d(double p) : p_(checked_p("Dropout2d", p)) {}

array Dropout2d::forward(const array& x) {
  if (x.ndim() != 3 && x.ndim() != 4) {
    throw std::invalid_argument("[Dropout2d] expects input (N, H, W, C) or (H, W, C), got shape " +
                                shape_to_string(x.shape()));
  }
  if (!training() || p_ == 0) return x;
  if (!is_floating(x.dtype())) {
    throw std::invalid_argument("[Dropout2d] expects a floating input, got " + std::string(dtype_name(x.dtype())));
  }
  Shape mask(x.ndim(), 1);  // (N, 1, 1, C) or (1, 1, C)
  mask.back() = x.shape(-1);
  if (x.ndim() == 4) mask[0] = x.shape(0);
  return drop(x, mask, p_);
}

std::string Dropout2d::describe() const { return "Dropout2d(p=" + number(p_) + ")"; }

}  // namespace alloy::nn
