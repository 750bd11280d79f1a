// Adam (L2 weight decay, added to the gradient) and AdamW (decoupled weight decay, applied to
// the parameter): torch.optim.Adam's and AdamW's rules, amsgrad optional.
//   Adam:  g += weight_decay p          AdamW: p *= 1 - lr weight_decay
//   m = lerp(m, g, 1 - beta1);  v = beta2 v + (1 - beta2) g^2;  (amsgrad: v_max = max(v_max, v))
//   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
#pragma once

#include <utility>

#include "alloy/optim/optimizer.h"

namespace alloy::optim {

struct AdamOptions {
  LearningRate lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
};

struct AdamWOptions {
  LearningRate lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

class Adam : public Optimizer {
 public:
  explicit Adam(AdamOptions options = {});
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(const char* name, AdamOptions options, bool decoupled);
  nn::NamedArrays init_state(const array& param) const override;
  array update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                   const StepInfo& step) const override;
  // One fast::adam_update node per dtype for the whole step.
  std::vector<array> update_all(std::vector<Update>& updates) const override;

 private:
  AdamOptions options_;
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  explicit AdamW(AdamWOptions options = {});
};

}  // namespace alloy::optim
