#include "alloy/optim/adam.h"

#include <cmath>

#include "alloy/core/fast.h"
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
  // One fused kernel per parameter (fast::adam_update holds the rule and its composition).
  const auto [b1, b2] = options_.betas;
  std::optional<array> max_sq;
  if (options_.amsgrad) max_sq = slots.at("max_exp_avg_sq");
  std::vector<array> out = fast::adam_update(
      param, grad, slots.at("exp_avg"), slots.at("exp_avg_sq"), max_sq,
      fast::AdamStep{step.lr, b1, b2, options_.eps, options_.weight_decay, decoupled_, step.t});
  slots.set("exp_avg", out[1]);
  slots.set("exp_avg_sq", out[2]);
  if (options_.amsgrad) slots.set("max_exp_avg_sq", out[3]);
  return out[0];
}

}  // namespace alloy::optim
