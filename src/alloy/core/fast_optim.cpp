// Fused optimizer steps: validation, the plain-op composition (the reference, and what runs for
// dtypes a backend has no kernel for) and the node.
#include <cmath>

#include "alloy/core/fast.h"
#include "alloy/core/fast_primitives.h"
#include "alloy/core/ops_util.h"

namespace alloy::fast {
using detail::fail;

namespace {

// in: (param, grad, exp_avg, exp_avg_sq[, max_exp_avg_sq]) -> (param, exp_avg, exp_avg_sq[, max]).
std::vector<array> adam_composed(const std::vector<array>& in, const AdamStep& st, Stream s) {
  array p = in[0], g = in[1];
  if (st.weight_decay != 0) {
    if (st.decoupled) {
      p = multiply(p, array(1.0 - st.lr * st.weight_decay), s);
    } else {
      g = add(g, multiply(array(st.weight_decay), p, s), s);
    }
  }
  array m = add(in[2], multiply(array(1.0 - st.beta1), subtract(g, in[2], s), s), s);  // PyTorch's lerp
  array v = add(multiply(array(st.beta2), in[3], s), multiply(array(1.0 - st.beta2), square(g, s), s), s);
  std::vector<array> out{p, m, v};
  if (in.size() > 4) {
    v = maximum(in[4], v, s);
    out.push_back(v);
  }
  const double t = double(st.t);
  const double step_size = st.lr / (1.0 - std::pow(st.beta1, t));
  const double bias_correction2_sqrt = std::sqrt(1.0 - std::pow(st.beta2, t));
  array denom = add(divide(sqrt(v, s), array(bias_correction2_sqrt), s), array(st.eps), s);
  out[0] = subtract(p, multiply(array(step_size), divide(m, denom, s), s), s);
  return out;
}

std::vector<array> adam_impl(const array& param, const array& grad, const array& exp_avg, const array& exp_avg_sq,
                             const std::optional<array>& max_exp_avg_sq, const AdamStep& step, StreamOrDevice sd,
                             bool compose) {
  std::vector<array> in{param, grad, exp_avg, exp_avg_sq};
  if (max_exp_avg_sq) in.push_back(*max_exp_avg_sq);
  const char* names[] = {"param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  if (!is_floating(param.dtype())) fail("adam_update", "needs a floating-point param, got ", param.dtype());
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i].shape() != param.shape() || in[i].dtype() != param.dtype()) {
      fail("adam_update", names[i], " is ", in[i].dtype(), " ", shape_to_string(in[i].shape()), " but param is ",
           param.dtype(), " ", shape_to_string(param.shape()));
    }
  }
  if (step.t < 1) fail("adam_update", "the step count t starts at 1, got ", step.t);
  Stream s = to_stream(sd);
  Fused::Fallback composed = [step, s](const std::vector<array>& inputs) { return adam_composed(inputs, step, s); };
  if (compose) return composed(in);
  size_t n_out = in.size() - 1;
  return array::make_arrays(std::vector<Shape>(n_out, param.shape()), std::vector<Dtype>(n_out, param.dtype()),
                            std::make_shared<AdamUpdate>(s, composed, step), in);
}

}  // namespace

std::vector<array> adam_update(const array& param, const array& grad, const array& exp_avg, const array& exp_avg_sq,
                               const std::optional<array>& max_exp_avg_sq, const AdamStep& step, StreamOrDevice s) {
  return adam_impl(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, s, false);
}

namespace composed {
std::vector<array> adam_update(const array& param, const array& grad, const array& exp_avg, const array& exp_avg_sq,
                               const std::optional<array>& max_exp_avg_sq, const AdamStep& step, StreamOrDevice s) {
  return adam_impl(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, s, true);
}
}  // namespace composed

}  // namespace alloy::fast
