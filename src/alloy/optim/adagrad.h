// Adagrad: torch.optim.Adagrad's rule.
//   g += weight_decay p;  sum += g^2;  p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps)
#pragma once

#include "alloy/optim/optimizer.h"

namespace alloy::optim {

struct AdagradOptions {
  LearningRate lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
};

class Adagrad : public Optimizer {
 public:
  explicit Adagrad(AdagradOptions options = {});
  const AdagradOptions& options() const { return options_; }

 protected:
  nn::NamedArrays init_state(const array& param) const override;
  array update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                   const StepInfo& step) const override;

 private:
  AdagradOptions options_;
};

}  // namespace alloy::optim
