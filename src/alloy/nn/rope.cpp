#include "alloy/nn/rope.h"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "alloy/core/fast.h"
#include "alloy/core/ops.h"

namespace alloy::nn {

RoPE::RoPE(int dims, bool traditional, double base, double scale)
    : dims_(dims), traditional_(traditional), base_(base), scale_(scale) {
  if (dims <= 0 || dims % 2 != 0) {
    throw std::invalid_argument("[RoPE] dims must be positive and even, got " + std::to_string(dims));
  }
  if (!(base > 0) || !std::isfinite(base)) {
    throw std::invalid_argument("[RoPE] base must be positive, got " + std::to_string(base));
  }
  if (!std::isfinite(scale)) throw std::invalid_argument("[RoPE] scale must be finite, got " + std::to_string(scale));
}

array RoPE::forward(const array& x, int offset) {
  if (x.ndim() < 2 || x.shape(-1) < dims_ || !is_floating(x.dtype())) {
    throw std::invalid_argument("[RoPE] expects a floating input (..., L, D) with D >= " + std::to_string(dims_) +
                                ", got " + std::string(dtype_name(x.dtype())) + " " + shape_to_string(x.shape()));
  }
  if (offset < 0) throw std::invalid_argument("[RoPE] offset must be non-negative, got " + std::to_string(offset));
  return fast::rope(x, dims_, traditional_, float(base_), float(scale_), offset);
}

std::string RoPE::describe() const {
  std::ostringstream s;
  s << "RoPE(" << dims_ << ", traditional=" << (traditional_ ? "true" : "false") << ", base=" << base_
    << ", scale=" << scale_ << ")";
  return s.str();
}

}  // namespace alloy::nn
