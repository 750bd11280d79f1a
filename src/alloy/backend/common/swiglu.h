// SwiGLU's value and gradient per element, shared by the CPU and CUDA kernels (fast::swiglu), in
// the accumulation type A (float32, or float64 for float64).
#pragma once

#include "alloy/backend/common/unary_ops.h"

namespace alloy::ew {

// silu(gate) * up, with silu(x) = x sigmoid(x).
template <typename A>
ALLOY_HD inline A swiglu(A gate, A up) {
  return gate * unary::Sigmoid{}(gate) * up;
}

// With s = sigmoid(gate): d up = g silu(gate); d gate = g up s (1 + gate (1 - s)).
template <typename A>
ALLOY_HD inline void swiglu_grad(A gate, A up, A g, A& d_gate, A& d_up) {
  const A s = unary::Sigmoid{}(gate);
  d_up = g * gate * s;
  d_gate = g * up * s * (A(1) + gate * (A(1) - s));
}

}  // namespace alloy::ew
