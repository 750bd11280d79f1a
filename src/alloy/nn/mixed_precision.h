// Dynamic loss scaling for float16 training (as torch.cuda.amp.GradScaler): the loss is
// multiplied by a large scale so small gradients survive float16, the gradients are divided by
// it again, and a step whose gradients overflowed is skipped while the scale backs off.
//
//   nn::LossScaler scaler;
//   auto step = nn::value_and_grad(model, [&](const array& x, const array& y) {
//     return scaler.scale(loss_fn(x, y));
//   }, float16);
//   auto [scaled_loss, grads] = step(x, y);
//   if (scaler.unscale(grads)) optimizer.update(model, grads);   // false: overflow, skip
//   scaler.update();
#pragma once

#include "alloy/core/array.h"
#include "alloy/nn/named_arrays.h"

namespace alloy::nn {

class LossScaler {
 public:
  explicit LossScaler(double init_scale = 65536.0, double growth_factor = 2.0, double backoff_factor = 0.5,
                      int growth_interval = 2000);

  // loss * scale, in float32.
  array scale(const array& loss) const;
  // Divides every gradient by the scale (in float32) and checks them: true when all are
  // finite. Waits for the gradients (one scalar is read back).
  bool unscale(NamedArrays& grads);
  // After each step: backs off after an overflow, grows after growth_interval clean steps.
  void update();

  double scale_value() const { return scale_; }
  int64_t skipped_steps() const { return skipped_; }

 private:
  double scale_, growth_factor_, backoff_factor_;
  int growth_interval_, clean_steps_ = 0;
  bool found_overflow_ = false;
  int64_t skipped_ = 0;
};

}  // namespace alloy::nn
