#include "alloy/optim/adafactor.h"

#include <algorithm>
#include <cmath>

#include "alloy/core/ops.h"

namespace alloy::optim {
namespace {

array rms(const array& x) { return sqrt(mean(square(x))); }

}  // namespace

Adafactor::Adafactor(AdafactorOptions options) : Optimizer("Adafactor", options.lr), options_(options) {
  require(!(options.relative_step && options.lr), "takes no lr with relative_step (the step size is relative)");
  require(options.relative_step || options.lr, "needs an lr when relative_step is false");
  require(!options.warmup_init || options.relative_step, "warmup_init needs relative_step");
  require(!options.beta1 || (*options.beta1 >= 0 && *options.beta1 < 1),
          "beta1 must be in [0, 1), got " + std::to_string(options.beta1.value_or(0)));
  require(options.clip_threshold > 0, "clip_threshold must be positive, got " + std::to_string(options.clip_threshold));
  require(options.decay_rate <= 0, "decay_rate must not be positive, got " + std::to_string(options.decay_rate));
  require(options.weight_decay >= 0,
          "weight_decay must not be negative, got " + std::to_string(options.weight_decay));
}

double Adafactor::learning_rate() const {
  if (!options_.relative_step) return Optimizer::learning_rate();
  const double t = double(step() + 1);
  const double min_step = options_.warmup_init ? 1e-6 * t : 1e-2;
  return std::min(min_step, 1.0 / std::sqrt(t));
}

nn::NamedArrays Adafactor::init_state(const array& param) const {
  nn::NamedArrays slots;
  if (param.ndim() >= 2) {
    Shape row(param.shape().begin(), param.shape().end() - 1);  // (..., rows)
    Shape col = row;                                             // (..., cols)
    col.back() = param.shape(-1);
    slots.insert("exp_avg_sq_row", zeros(row, param.dtype()));
    slots.insert("exp_avg_sq_col", zeros(col, param.dtype()));
  } else {
    slots.insert("exp_avg_sq", zeros_like(param));
  }
  if (options_.beta1) slots.insert("exp_avg", zeros_like(param));
  return slots;
}

array Adafactor::update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                            const StepInfo& step) const {
  const AdafactorOptions& o = options_;
  const double beta2 = 1.0 - std::pow(double(step.t), o.decay_rate);
  // lr_t: a scalar array, since it depends on rms(p).
  array lr = o.scale_parameter ? multiply(maximum(rms(param), array(o.eps.second)), array(step.lr))
                               : full({}, array(step.lr), param.dtype());
  array u = add(square(grad), array(o.eps.first));
  if (param.ndim() >= 2) {
    array row = add(multiply(array(beta2), slots.at("exp_avg_sq_row")), multiply(array(1.0 - beta2), mean(u, -1)));
    array col = add(multiply(array(beta2), slots.at("exp_avg_sq_col")), multiply(array(1.0 - beta2), mean(u, -2)));
    slots.set("exp_avg_sq_row", row);
    slots.set("exp_avg_sq_col", col);
    array r = expand_dims(rsqrt(divide(row, mean(row, -1, true))), -1);  // (..., rows, 1)
    array c = expand_dims(rsqrt(col), -2);                                // (..., 1, cols)
    u = multiply(multiply(r, c), grad);
  } else {
    array v = add(multiply(array(beta2), slots.at("exp_avg_sq")), multiply(array(1.0 - beta2), u));
    slots.set("exp_avg_sq", v);
    u = multiply(rsqrt(v), grad);
  }
  u = divide(u, maximum(divide(rms(u), array(o.clip_threshold)), array(1.0)));
  u = multiply(lr, u);
  if (o.beta1) {
    array m = add(multiply(array(*o.beta1), slots.at("exp_avg")), multiply(array(1.0 - *o.beta1), u));
    slots.set("exp_avg", m);
    u = m;
  }
  array p = param;
  if (o.weight_decay != 0) p = add(p, multiply(p, multiply(lr, array(-o.weight_decay))));
  return subtract(p, u);
}

}  // namespace alloy::optim
