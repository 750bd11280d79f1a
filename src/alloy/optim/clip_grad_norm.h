// Gradient clipping by the global 2-norm, as torch.nn.utils.clip_grad_norm_.
#pragma once

#include <utility>

#include "alloy/core/array.h"
#include "alloy/nn/named_arrays.h"

namespace alloy::optim {

// (grads scaled by min(1, max_norm / (total + 1e-6)), total), with total the 2-norm of all the
// gradients together (a float32 scalar, float64 when any gradient is float64). Each clipped
// gradient keeps its dtype.
std::pair<nn::NamedArrays, array> clip_grad_norm(const nn::NamedArrays& grads, double max_norm);

}  // namespace alloy::optim
