#include "alloy/optim/adam.h"

#include <algorithm>
#include <cmath>
#include <optional>

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
  std::vector<Update> one{Update{param, grad, &slots, step}};
  return update_all(one)[0];
}

std::vector<array> Adam::update_all(std::vector<Update>& updates) const {
  // fast::adam_update holds the rule and its composition; a group shares a dtype.
  std::vector<std::optional<array>> next(updates.size());
  std::vector<Dtype> dtypes;
  for (const auto& u : updates) {
    if (std::find(dtypes.begin(), dtypes.end(), u.param.dtype()) == dtypes.end()) dtypes.push_back(u.param.dtype());
  }
  const auto [b1, b2] = options_.betas;
  for (Dtype dt : dtypes) {
    std::vector<size_t> members;
    std::vector<array> params, grads, avgs, sqs, maxes;
    for (size_t i = 0; i < updates.size(); ++i) {
      if (updates[i].param.dtype() != dt) continue;
      members.push_back(i);
      params.push_back(updates[i].param);
      grads.push_back(updates[i].grad);
      avgs.push_back(updates[i].slots->at("exp_avg"));
      sqs.push_back(updates[i].slots->at("exp_avg_sq"));
      if (options_.amsgrad) maxes.push_back(updates[i].slots->at("max_exp_avg_sq"));
    }
    // Every update of a step shares its count and learning rate.
    const StepInfo& step = updates[members[0]].step;
    auto out = fast::adam_update(params, grads, avgs, sqs, maxes,
                                 fast::AdamStep{step.lr, b1, b2, options_.eps, options_.weight_decay, decoupled_, step.t});
    for (size_t k = 0; k < members.size(); ++k) {
      nn::NamedArrays& slots = *updates[members[k]].slots;
      slots.set("exp_avg", out[k][1]);
      slots.set("exp_avg_sq", out[k][2]);
      if (options_.amsgrad) slots.set("max_exp_avg_sq", out[k][3]);
      next[members[k]] = out[k][0];
    }
  }
  std::vector<array> result;
  for (auto& n : next) result.push_back(*n);
  return result;
}

}  // namespace alloy::optim
