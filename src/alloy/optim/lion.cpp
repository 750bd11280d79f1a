#include "alloy/optim/lion.h"

#include "alloy/core/ops.h"

namespace alloy::optim {

Lion::Lion(LionOptions options) : Optimizer("Lion", options.lr), options_(options) {
  auto [b1, b2] = options.betas;
  require(b1 >= 0 && b1 < 1, "beta1 must be in [0, 1), got " + std::to_string(b1));
  require(b2 >= 0 && b2 < 1, "beta2 must be in [0, 1), got " + std::to_string(b2));
  require(options.weight_decay >= 0,
          "weight_decay must not be negative, got " + std::to_string(options.weight_decay));
}

nn::NamedArrays Lion::init_state(const array& param) const { return {{"exp_avg", zeros_like(param)}}; }

array Lion::update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                       const StepInfo& step) const {
  const auto [b1, b2] = options_.betas;
  array m = slots.at("exp_avg");
  array c = add(multiply(array(b1), m), multiply(array(1.0 - b1), grad));
  slots.set("exp_avg", add(multiply(array(b2), m), multiply(array(1.0 - b2), grad)));
  array p = options_.weight_decay > 0 ? multiply(param, array(1.0 - step.lr * options_.weight_decay)) : param;
  return subtract(p, multiply(array(step.lr), sign(c)));
}

}  // namespace alloy::optim
