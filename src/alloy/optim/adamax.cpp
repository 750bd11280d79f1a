#include "alloy/optim/adamax.h"

#include <cmath>

#include "alloy/core/ops.h"

namespace alloy::optim {

Adamax::Adamax(AdamaxOptions options) : Optimizer("Adamax", options.lr), options_(options) {
  auto [b1, b2] = options.betas;
  require(b1 >= 0 && b1 < 1, "beta1 must be in [0, 1), got " + std::to_string(b1));
  require(b2 >= 0 && b2 < 1, "beta2 must be in [0, 1), got " + std::to_string(b2));
  require(options.eps >= 0, "eps must not be negative, got " + std::to_string(options.eps));
  require(options.weight_decay >= 0,
          "weight_decay must not be negative, got " + std::to_string(options.weight_decay));
}

nn::NamedArrays Adamax::init_state(const array& param) const {
  return {{"exp_avg", zeros_like(param)}, {"exp_inf", zeros_like(param)}};
}

array Adamax::update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                         const StepInfo& step) const {
  const auto [b1, b2] = options_.betas;
  array g = options_.weight_decay != 0 ? add(grad, multiply(array(options_.weight_decay), param)) : grad;
  array m = slots.at("exp_avg");
  m = add(m, multiply(array(1.0 - b1), subtract(g, m)));
  array u = maximum(multiply(array(b2), slots.at("exp_inf")), add(abs(g), array(options_.eps)));
  slots.set("exp_avg", m);
  slots.set("exp_inf", u);
  const double clr = step.lr / (1.0 - std::pow(b1, double(step.t)));
  return subtract(param, multiply(array(clr), divide(m, u)));
}

}  // namespace alloy::optim
