#include "alloy/optim/adadelta.h"

#include "alloy/core/ops.h"

namespace alloy::optim {

Adadelta::Adadelta(AdadeltaOptions options) : Optimizer("Adadelta", options.lr), options_(options) {
  require(options.rho >= 0 && options.rho <= 1, "rho must be in [0, 1], got " + std::to_string(options.rho));
  require(options.eps >= 0, "eps must not be negative, got " + std::to_string(options.eps));
  require(options.weight_decay >= 0,
          "weight_decay must not be negative, got " + std::to_string(options.weight_decay));
}

nn::NamedArrays Adadelta::init_state(const array& param) const {
  return {{"square_avg", zeros_like(param)}, {"acc_delta", zeros_like(param)}};
}

array Adadelta::update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                           const StepInfo& step) const {
  const AdadeltaOptions& o = options_;
  array g = o.weight_decay != 0 ? add(grad, multiply(array(o.weight_decay), param)) : grad;
  array sq = add(multiply(array(o.rho), slots.at("square_avg")), multiply(array(1.0 - o.rho), square(g)));
  array acc = slots.at("acc_delta");
  array delta = multiply(divide(sqrt(add(acc, array(o.eps))), sqrt(add(sq, array(o.eps)))), g);
  slots.set("square_avg", sq);
  slots.set("acc_delta", add(multiply(array(o.rho), acc), multiply(array(1.0 - o.rho), square(delta))));
  return subtract(param, multiply(array(step.lr), delta));
}

}  // namespace alloy::optim
