// Gradient checkpointing: trade compute for memory. A checkpointed function keeps none of its
// intermediate activations for the backward pass; its vjp runs the function again from its
// inputs (as torch.utils.checkpoint and mlx.nn.utils.checkpoint).
//
//   auto block = nn::checkpoint(model.layers[i]);   // a UnaryModule
//   x = block(x);                                    // same value, less memory under grad
#pragma once

#include <functional>

#include "alloy/core/transforms.h"
#include "alloy/nn/module.h"

namespace alloy::nn {

// fn's outputs, with a vjp that recomputes fn. fn must be a pure function of its inputs.
Fn checkpoint(Fn fn);

// module.forward with the module's trainable parameters passed as explicit inputs, so their
// gradients flow through the recomputation. The module must outlive the returned function.
std::function<array(const array&)> checkpoint(UnaryModule& module);

}  // namespace alloy::nn
