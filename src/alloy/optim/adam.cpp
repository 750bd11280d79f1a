#include "alloy/optim/adam.h"

#include <cmath>

#include "alloy/core/ops.h"

namespace alloy::optim {

Adam::Adam(AdamOptions options) : Adam("Adam", options, false) {}

AdamW::AdamW(AdamWOptions o)
    : Adam("AdamW", AdamOptions{o.lr, o.betas, o.eps, o.weight_decay, o.amsgrad}, true) {}

Adam::Adam(const char* name, AdamOptions options, bool decoupled)
    : Optimizer(name, options.lr), options_(options), decoupled_(decoupled) {
  auto [b1, b2] = options.betas;
  require(b1 >= 0 && b1 < 1, "beta1 must be in [0, 1), got " + std::to_string(b1));
  require(b2 >= 0 && b2 < 1, "beta2 must be in [0, 1), got " + std::to_string(b2));
  require(options.eps >= 0, "eps must not be negative, got " + std::to_string(options.eps));
  require(options.weight_decay >= 0,
          "weight_decay must not be negative, got " + std::to_string(options.weight_decay));
}

nn::NamedArrays Adam::init_state(const array& param) const {
  nn::NamedArrays slots{{"exp_avg", zeros_like(param)}, {"exp_avg_sq", zeros_like(param)}};
  if (options_.amsgrad) slots.insert("max_exp_avg_sq", zeros_like(param));
  return slots;
}

array Adam::update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                       const StepInfo& step) const {
  const auto [b1, b2] = options_.betas;
  const double wd = options_.weight_decay;
  array p = param, g = grad;
  if (wd != 0) {
    if (decoupled_) {
      p = multiply(p, array(1.0 - step.lr * wd));
    } else {
      g = add(g, multiply(array(wd), p));
    }
  }
  array m = slots.at("exp_avg");
  m = add(m, multiply(array(1.0 - b1), subtract(g, m)));  // PyTorch's lerp
  array v = add(multiply(array(b2), slots.at("exp_avg_sq")), multiply(array(1.0 - b2), square(g)));
  slots.set("exp_avg", m);
  slots.set("exp_avg_sq", v);
  if (options_.amsgrad) {
    v = maximum(slots.at("max_exp_avg_sq"), v);
    slots.set("max_exp_avg_sq", v);
  }
  const double t = double(step.t);
  const double step_size = step.lr / (1.0 - std::pow(b1, t));
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(b2, t));
  array denom = add(divide(sqrt(v), array(bias_correction2_sqrt)), array(options_.eps));
  return subtract(p, multiply(array(step_size), divide(m, denom)));
}

}  // namespace alloy::optim
