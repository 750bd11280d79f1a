#include "alloy/optim/rmsprop.h"

#include "alloy/core/ops.h"

namespace alloy::optim {

RMSprop::RMSprop(RMSpropOptions options) : Optimizer("RMSprop", options.lr), options_(options) {
  require(options.alpha >= 0, "alpha must not be negative, got " + std::to_string(options.alpha));
  require(options.eps >= 0, "eps must not be negative, got " + std::to_string(options.eps));
  require(options.momentum >= 0, "momentum must not be negative, got " + std::to_string(options.momentum));
  require(options.weight_decay >= 0,
          "weight_decay must not be negative, got " + std::to_string(options.weight_decay));
}

nn::NamedArrays RMSprop::init_state(const array& param) const {
  nn::NamedArrays slots{{"square_avg", zeros_like(param)}};
  if (options_.momentum > 0) slots.insert("momentum_buffer", zeros_like(param));
  if (options_.centered) slots.insert("grad_avg", zeros_like(param));
  return slots;
}

array RMSprop::update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                          const StepInfo& step) const {
  const RMSpropOptions& o = options_;
  array g = o.weight_decay != 0 ? add(grad, multiply(array(o.weight_decay), param)) : grad;
  array sq = add(multiply(array(o.alpha), slots.at("square_avg")), multiply(array(1.0 - o.alpha), square(g)));
  slots.set("square_avg", sq);
  array avg = sq;
  if (o.centered) {
    array ga = add(multiply(array(o.alpha), slots.at("grad_avg")), multiply(array(1.0 - o.alpha), g));
    slots.set("grad_avg", ga);
    avg = subtract(sq, square(ga));
  }
  avg = add(sqrt(avg), array(o.eps));
  if (o.momentum > 0) {
    array buf = add(multiply(array(o.momentum), slots.at("momentum_buffer")), divide(g, avg));
    slots.set("momentum_buffer", buf);
    return subtract(param, multiply(array(step.lr), buf));
  }
  return subtract(param, multiply(array(step.lr), divide(g, avg)));
}

}  // namespace alloy::optim
