#include "alloy/nn/mixed_precision.h"

#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/core/transforms.h"

namespace alloy::nn {

LossScaler::LossScaler(double init_scale, double growth_factor, double backoff_factor, int growth_interval)
    : scale_(init_scale), growth_factor_(growth_factor), backoff_factor_(backoff_factor),
      growth_interval_(growth_interval) {
  if (!(init_scale > 0) || !(growth_factor > 1) || !(backoff_factor > 0 && backoff_factor < 1) || growth_interval < 1) {
    throw std::invalid_argument(
        "[LossScaler] needs init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 and growth_interval >= 1");
  }
}

array LossScaler::scale(const array& loss) const {
  return multiply(astype(loss, float32), array(float(scale_)));
}

bool LossScaler::unscale(NamedArrays& grads) {
  const array inv(float(1.0 / scale_));
  array finite = array(true);
  for (auto& [name, g] : grads) {
    g = multiply(astype(g, float32), inv);
    finite = logical_and(finite, all(isfinite(g)));
  }
  found_overflow_ = !finite.item<bool>();
  if (found_overflow_) ++skipped_;
  return !found_overflow_;
}

void LossScaler::update() {
  if (found_overflow_) {
    scale_ *= backoff_factor_;
    clean_steps_ = 0;
  } else if (++clean_steps_ >= growth_interval_) {
    scale_ *= growth_factor_;
    clean_steps_ = 0;
  }
  found_overflow_ = false;
}

}  // namespace alloy::nn
