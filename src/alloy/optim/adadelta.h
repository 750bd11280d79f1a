// AdaDelta: torch.optim.Adadelta's rule.
//   g += weight_decay p;  s = rho s + (1 - rho) g^2
//   delta = sqrt(a + eps) / sqrt(s + eps) * g;  a = rho a + (1 - rho) delta^2;  p -= lr delta
#pragma once

#include "alloy/optim/optimizer.h"

namespace alloy::optim {

struct AdadeltaOptions {
  LearningRate lr = 1.0;
  double rho = 0.9;
  double eps = 1e-6;
  double weight_decay = 0.0;
};

class Adadelta : public Optimizer {
 public:
  explicit Adadelta(AdadeltaOptions options = {});
  const AdadeltaOptions& options() const { return options_; }

 protected:
  nn::NamedArrays init_state(const array& param) const override;
  array update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                   const StepInfo& step) const override;

 private:
  AdadeltaOptions options_;
};

}  // namespace alloy::optim
