// Adafactor (Shazeer & Stern 2018), with Hugging Face's and MLX's rule. Parameters of 2 or more
// dimensions keep factored second moments: a row and a column mean of g^2 + eps1, shapes
// (..., rows) and (..., cols), instead of a full (..., rows, cols) accumulator.
//   beta2_t = 1 - t^decay_rate
//   rho = relative_step ? min(warmup_init ? 1e-6 t : 1e-2, 1 / sqrt(t)) : lr
//   lr_t = scale_parameter ? max(eps2, rms(p)) rho : rho
//   u = g / sqrt(v_hat) (v_hat = row col / mean(row) when factored);  u /= max(1, rms(u) / clip)
//   u *= lr_t;  beta1: m = beta1 m + (1 - beta1) u, u = m
//   p -= weight_decay lr_t p;  p -= u
// For >2-D parameters the factors are those of Hugging Face's version (batched over the
// leading axes).
#pragma once

#include <optional>
#include <utility>

#include "alloy/optim/optimizer.h"

namespace alloy::optim {

struct AdafactorOptions {
  // A fixed rate or schedule, only with relative_step = false (then it is required).
  std::optional<LearningRate> lr = std::nullopt;
  std::pair<double, double> eps = {1e-30, 1e-3};  // added to g^2; the floor of rms(p)
  double clip_threshold = 1.0;
  double decay_rate = -0.8;
  std::optional<double> beta1 = std::nullopt;  // first moment, off by default
  double weight_decay = 0.0;
  bool scale_parameter = true;
  bool relative_step = true;
  bool warmup_init = false;
};

class Adafactor : public Optimizer {
 public:
  explicit Adafactor(AdafactorOptions options = {});
  const AdafactorOptions& options() const { return options_; }
  // The step size before scaling by rms(p): the relative step, or the learning rate.
  double learning_rate() const override;

 protected:
  nn::NamedArrays init_state(const array& param) const override;
  array update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                   const StepInfo& step) const override;

 private:
  AdafactorOptions options_;
};

}  // namespace alloy::optim
