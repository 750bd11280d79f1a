// RMSprop: torch.optim.RMSprop's rule.
//   g += weight_decay p;  s = alpha s + (1 - alpha) g^2
//   centered: a = alpha a + (1 - alpha) g, avg = sqrt(s - a^2) + eps; else avg = sqrt(s) + eps
//   momentum > 0: buf = momentum buf + g / avg, p -= lr buf; else p -= lr g / avg
#pragma once

#include "alloy/optim/optimizer.h"

namespace alloy::optim {

struct RMSpropOptions {
  LearningRate lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(RMSpropOptions options = {});
  const RMSpropOptions& options() const { return options_; }

 protected:
  nn::NamedArrays init_state(const array& param) const override;
  array update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                   const StepInfo& step) const override;

 private:
  RMSpropOptions options_;
};

}  // namespace alloy::optim
