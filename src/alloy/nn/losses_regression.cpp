// Regression and distribution losses: mse, l1, huber, smooth_l1, log_cosh, gaussian_nll, kl_div.
#include <cmath>
#include <stdexcept>
#include <string>

#include "alloy/core/ops.h"
#include "alloy/nn/losses.h"
#include "alloy/nn/losses_common.h"

namespace alloy::nn::losses {

using detail::s;

array mse_loss(const array& inputs, const array& targets, Reduction reduction) {
  detail::check_pair(inputs, targets, "mse_loss");
  return detail::reduce(square(subtract(inputs, targets)), reduction);
}

array l1_loss(const array& inputs, const array& targets, Reduction reduction) {
  detail::check_pair(inputs, targets, "l1_loss");
  return detail::reduce(abs(subtract(inputs, targets)), reduction);
}

array huber_loss(const array& inputs, const array& targets, double delta, Reduction reduction) {
  detail::check_pair(inputs, targets, "huber_loss");
  if (!(delta > 0)) {
    throw std::invalid_argument("[huber_loss] delta must be positive, got " + std::to_string(delta));
  }
  array d = subtract(inputs, targets);
  array ad = abs(d);
  array loss = where(less(ad, s(delta)), multiply(s(0.5), square(d)),
                     multiply(s(delta), subtract(ad, s(0.5 * delta))));
  return detail::reduce(loss, reduction);
}

array smooth_l1_loss(const array& inputs, const array& targets, double beta, Reduction reduction) {
  detail::check_pair(inputs, targets, "smooth_l1_loss");
  if (!(beta >= 0)) {
    throw std::invalid_argument("[smooth_l1_loss] beta must not be negative, got " +
                                std::to_string(beta));
  }
  array d = subtract(inputs, targets);
  array ad = abs(d);
  if (beta == 0) return detail::reduce(ad, reduction);  // PyTorch: l1_loss
  array loss = where(less(ad, s(beta)), multiply(s(0.5 / beta), square(d)), subtract(ad, s(0.5 * beta)));
  return detail::reduce(loss, reduction);
}

array log_cosh_loss(const array& inputs, const array& targets, Reduction reduction) {
  detail::check_pair(inputs, targets, "log_cosh_loss");
  array d = subtract(inputs, targets);
  return detail::reduce(subtract(logaddexp(d, negative(d)), s(std::log(2.0))), reduction);
}

array gaussian_nll_loss(const array& inputs, const array& targets, const array& var, bool full,
                        double eps, Reduction reduction) {
  const char* name = "gaussian_nll_loss";
  detail::check_pair(inputs, targets, name);
  detail::require_floating(var, name, "var");
  if (!(eps >= 0)) {
    throw std::invalid_argument("[gaussian_nll_loss] eps must not be negative, got " +
                                std::to_string(eps));
  }
  // var: the input's shape (one variance per element), or one per sample: the input's shape
  // without its last axis (then unsqueezed), or with 1 there.
  array v = var;
  if (var.shape() != inputs.shape()) {
    Shape lead(inputs.shape().begin(), inputs.shape().end() - (inputs.ndim() > 0 ? 1 : 0));
    if (inputs.ndim() > 0 && var.shape() == lead) {
      v = expand_dims(var, -1);
    } else if (inputs.ndim() > 0 && var.ndim() == inputs.ndim() && var.shape(-1) == 1 &&
               Shape(var.shape().begin(), var.shape().end() - 1) == lead) {
      v = var;
    } else {
      throw std::invalid_argument("[gaussian_nll_loss] var of shape " + shape_to_string(var.shape()) +
                                  " must have the input's shape " + shape_to_string(inputs.shape()) +
                                  ", or that shape without its last axis or with 1 there");
    }
  }
  // PyTorch clamps under no_grad: the value is clamped, the gradient flows as if it were not.
  v = add(v, stop_gradient(subtract(maximum(v, s(eps)), v)));
  array loss = multiply(s(0.5), add(log(v), divide(square(subtract(inputs, targets)), v)));
  if (full) loss = add(loss, s(0.5 * std::log(2 * M_PI)));
  return detail::reduce(loss, reduction);
}

array kl_div(const array& inputs, const array& targets, KLDivReduction reduction, bool log_target) {
  detail::check_pair(inputs, targets, "kl_div");
  array loss = inputs;
  if (log_target) {
    loss = multiply(exp(targets), subtract(targets, inputs));
  } else {
    // xlogy(t, t) - t x, with 0 log 0 = 0 (log reads 1 there, so no NaN reaches the gradient).
    array safe = where(equal(targets, s(0.0)), s(1.0), targets);
    loss = multiply(targets, subtract(log(safe), inputs));
  }
  switch (reduction) {
    case KLDivReduction::none:
      return loss;
    case KLDivReduction::mean:
      return mean(loss);
    case KLDivReduction::sum:
      return sum(loss);
    case KLDivReduction::batchmean:
      return inputs.ndim() == 0 ? sum(loss) : divide(sum(loss), s(double(inputs.shape(0))));
  }
  throw std::invalid_argument("[kl_div] unknown reduction");
}

}  // namespace alloy::nn::losses
