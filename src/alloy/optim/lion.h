// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), as mlx.optimizers.Lion:
//   c = beta1 m + (1 - beta1) g;  m = beta2 m + (1 - beta2) g
//   p = (1 - lr weight_decay) p - lr sign(c)
// Its updates have unit size per element, so it wants a learning rate 3-10x below AdamW's.
#pragma once

#include <utility>

#include "alloy/optim/optimizer.h"

namespace alloy::optim {

struct LionOptions {
  LearningRate lr = 1e-4;
  std::pair<double, double> betas = {0.9, 0.99};
  double weight_decay = 0.0;
};

class Lion : public Optimizer {
 public:
  explicit Lion(LionOptions options = {});
  const LionOptions& options() const { return options_; }

 protected:
  nn::NamedArrays init_state(const array& param) const override;
  array update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                   const StepInfo& step) const override;

 private:
  LionOptions options_;
};

}  // namespace alloy::optim
