#include "alloy/optim/clip_grad_norm.h"

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "alloy/core/ops.h"

namespace alloy::optim {

std::pair<nn::NamedArrays, array> clip_grad_norm(const nn::NamedArrays& grads, double max_norm) {
  if (!(max_norm >= 0)) {
    throw std::invalid_argument("[clip_grad_norm] max_norm must not be negative, got " + std::to_string(max_norm));
  }
  Dtype dt = float32;
  for (const auto& [name, g] : grads) {
    if (!is_floating(g.dtype())) {
      throw std::invalid_argument("[clip_grad_norm] the gradient of '" + name + "' must be floating, got " +
                                  dtype_name(g.dtype()));
    }
    if (g.dtype() == float64) dt = float64;
  }
  if (grads.empty()) return {grads, zeros({}, dt)};
  // PyTorch's order: the norm of the per-gradient norms.
  std::vector<array> norms;
  for (const auto& [name, g] : grads) norms.push_back(sqrt(sum(square(g.dtype() == dt ? g : astype(g, dt)))));
  array total = sqrt(sum(square(stack(norms))));
  array scale = minimum(divide(array(max_norm), add(total, array(1e-6))), array(1.0));
  nn::NamedArrays clipped;
  for (const auto& [name, g] : grads) clipped.insert(name, multiply(g, astype(scale, g.dtype())));
  return {clipped, total};
}

}  // namespace alloy::optim
