// Adamax (Adam with the infinity norm): torch.optim.Adamax's rule.
//   g += weight_decay p;  m = lerp(m, g, 1 - beta1);  u = max(beta2 u, |g| + eps)
//   p -= lr / (1 - beta1^t) * m / u
#pragma once

#include <utility>

#include "alloy/optim/optimizer.h"

namespace alloy::optim {

struct AdamaxOptions {
  LearningRate lr = 2e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class Adamax : public Optimizer {
 public:
  explicit Adamax(AdamaxOptions options = {});
  const AdamaxOptions& options() const { return options_; }

 protected:
  nn::NamedArrays init_state(const array& param) const override;
  array update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                   const StepInfo& step) const override;

 private:
  AdamaxOptions options_;
};

}  // namespace alloy::optim
