// SGD with momentum, dampening, Nesterov momentum and L2 weight decay: torch.optim.SGD's rule.
//   d = g + weight_decay p
//   buf = d on the first step, else momentum buf + (1 - dampening) d
//   d = nesterov ? d + momentum buf : buf;  p -= lr d
#pragma once

#include "alloy/optim/optimizer.h"

namespace alloy::optim {

struct SGDOptions {
  LearningRate lr;  // required, as in PyTorch
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

class SGD : public Optimizer {
 public:
  explicit SGD(SGDOptions options);
  const SGDOptions& options() const { return options_; }

 protected:
  nn::NamedArrays init_state(const array& param) const override;
  array update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                   const StepInfo& step) const override;

 private:
  SGDOptions options_;
};

}  // namespace alloy::optim
