// Helpers shared by the loss files (not part of the public API): argument checks whose messages
// name the loss, and the reduction.
#pragma once

#include <stdexcept>
#include <string>

#include "alloy/core/ops.h"
#include "alloy/nn/losses.h"

namespace alloy::nn::losses::detail {

// A Python-float-like scalar: weak, so it takes the other operand's dtype.
inline array s(double v) { return array(v); }

inline array reduce(const array& loss, Reduction reduction) {
  switch (reduction) {
    case Reduction::none:
      return loss;
    case Reduction::mean:
      return mean(loss);
    case Reduction::sum:
      return sum(loss);
  }
  throw std::invalid_argument("[losses] unknown reduction");
}

inline void require_floating(const array& a, const char* loss, const char* what) {
  if (!is_floating(a.dtype())) {
    throw std::invalid_argument(std::string("[") + loss + "] " + what + " must be floating, got " +
                                dtype_name(a.dtype()));
  }
}

inline void require_same_shape(const array& a, const array& b, const char* loss, const char* what_a,
                               const char* what_b) {
  if (a.shape() != b.shape()) {
    throw std::invalid_argument(std::string("[") + loss + "] " + what_a + " " +
                                shape_to_string(a.shape()) + " and " + what_b + " " +
                                shape_to_string(b.shape()) + " must have the same shape");
  }
}

// `a` must broadcast to `shape` without growing it (a weight against the input).
inline void require_broadcasts_to(const array& a, const Shape& shape, const char* loss,
                                  const char* what) {
  bool ok = a.ndim() <= int(shape.size());
  for (int i = 1; ok && i <= a.ndim(); ++i) {
    int64_t d = a.shape(-i);
    ok = d == 1 || d == shape[shape.size() - i];
  }
  if (!ok) {
    throw std::invalid_argument(std::string("[") + loss + "] " + what + " of shape " +
                                shape_to_string(a.shape()) + " does not broadcast to the input " +
                                shape_to_string(shape));
  }
}

// Regression-style losses: two floating arrays of one shape.
inline void check_pair(const array& inputs, const array& targets, const char* loss) {
  require_floating(inputs, loss, "inputs");
  require_floating(targets, loss, "targets");
  require_same_shape(inputs, targets, loss, "inputs", "targets");
}

}  // namespace alloy::nn::losses::detail
