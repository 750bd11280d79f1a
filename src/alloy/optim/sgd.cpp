#include "alloy/optim/sgd.h"

#include "alloy/core/ops.h"

namespace alloy::optim {

SGD::SGD(SGDOptions options) : Optimizer("SGD", options.lr), options_(options) {
  require(options.momentum >= 0, "momentum must not be negative, got " + std::to_string(options.momentum));
  require(options.weight_decay >= 0,
          "weight_decay must not be negative, got " + std::to_string(options.weight_decay));
  require(!options.nesterov || (options.momentum > 0 && options.dampening == 0),
          "nesterov momentum needs momentum > 0 and dampening 0");
}

nn::NamedArrays SGD::init_state(const array& param) const {
  nn::NamedArrays slots;
  if (options_.momentum != 0) slots.insert("momentum_buffer", zeros_like(param));
  return slots;
}

array SGD::update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                      const StepInfo& step) const {
  const SGDOptions& o = options_;
  array d = o.weight_decay != 0 ? add(grad, multiply(array(o.weight_decay), param)) : grad;
  if (o.momentum != 0) {
    // PyTorch starts the buffer at the first gradient itself, not at (1 - dampening) times it.
    array buf = step.fresh ? d
                           : add(multiply(array(o.momentum), slots.at("momentum_buffer")),
                                 multiply(array(1.0 - o.dampening), d));
    slots.set("momentum_buffer", buf);
    d = o.nesterov ? add(d, multiply(array(o.momentum), buf)) : buf;
  }
  return subtract(param, multiply(array(step.lr), d));
}

}  // namespace alloy::optim
