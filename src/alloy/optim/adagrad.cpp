#include "alloy/optim/adagrad.h"

#include "alloy/core/ops.h"

namespace alloy::optim {

Adagrad::Adagrad(AdagradOptions options) : Optimizer("Adagrad", options.lr), options_(options) {
  require(options.lr_decay >= 0, "lr_decay must not be negative, got " + std::to_string(options.lr_decay));
  require(options.weight_decay >= 0,
          "weight_decay must not be negative, got " + std::to_string(options.weight_decay));
  require(options.initial_accumulator_value >= 0, "initial_accumulator_value must not be negative, got " +
                                                      std::to_string(options.initial_accumulator_value));
  require(options.eps >= 0, "eps must not be negative, got " + std::to_string(options.eps));
}

nn::NamedArrays Adagrad::init_state(const array& param) const {
  return {{"sum", full_like(param, array(options_.initial_accumulator_value))}};
}

array Adagrad::update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                          const StepInfo& step) const {
  const AdagradOptions& o = options_;
  array g = o.weight_decay != 0 ? add(grad, multiply(array(o.weight_decay), param)) : grad;
  array acc = add(slots.at("sum"), square(g));
  slots.set("sum", acc);
  const double clr = step.lr / (1.0 + double(step.t - 1) * o.lr_decay);
  return subtract(param, multiply(array(clr), divide(g, add(sqrt(acc), array(o.eps)))));
}

}  // namespace alloy::optim
