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

// Checks one parameter's arrays (in: param, grad, exp_avg, exp_avg_sq[, max]) against its param.
void check_adam_tensor(const std::vector<array>& in, Dtype dtype, size_t index) {
  const char* names[] = {"param", "grad", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  const array& param = in[0];
  const std::string which = index == 0 ? std::string() : " of parameter " + std::to_string(index);
  if (!is_floating(param.dtype())) fail("adam_update", "needs a floating-point param, got ", param.dtype());
  if (param.dtype() != dtype) fail("adam_update", "a group shares one dtype: param", which, " is ", param.dtype(), ", the first is ", dtype);
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i].shape() != param.shape() || in[i].dtype() != param.dtype()) {
      fail("adam_update", names[i], which, " is ", in[i].dtype(), " ", shape_to_string(in[i].shape()),
           " but param is ", param.dtype(), " ", shape_to_string(param.shape()));
    }
  }
}

// in: per tensor (param, grad, exp_avg, exp_avg_sq[, max]); out: per tensor all but grad.
std::vector<std::vector<array>> adam_group_impl(const std::vector<std::vector<array>>& tensors, const AdamStep& step,
                                                StreamOrDevice sd, bool compose) {
  if (tensors.empty()) return {};
  const Dtype dtype = tensors[0][0].dtype();
  for (size_t i = 0; i < tensors.size(); ++i) check_adam_tensor(tensors[i], dtype, i);
  if (step.t < 1) fail("adam_update", "the step count t starts at 1, got ", step.t);
  Stream s = to_stream(sd);
  const bool amsgrad = tensors[0].size() == 5;
  const size_t k_in = amsgrad ? 5 : 4, k_out = k_in - 1;
  Fused::Fallback composed = [step, s, k_in](const std::vector<array>& in) {
    std::vector<array> out;
    for (size_t i = 0; i < in.size(); i += k_in) {
      auto one = adam_composed(std::vector<array>(in.begin() + i, in.begin() + i + k_in), step, s);
      out.insert(out.end(), one.begin(), one.end());
    }
    return out;
  };
  std::vector<array> in;
  std::vector<Shape> shapes;
  for (const auto& t : tensors) {
    in.insert(in.end(), t.begin(), t.end());
    shapes.insert(shapes.end(), k_out, t[0].shape());
  }
  std::vector<array> flat =
      compose ? composed(in)
              : array::make_arrays(shapes, std::vector<Dtype>(shapes.size(), dtype),
                                   std::make_shared<AdamUpdate>(s, composed, step, int(tensors.size()), amsgrad), in);
  std::vector<std::vector<array>> out;
  for (size_t i = 0; i < tensors.size(); ++i) out.emplace_back(flat.begin() + i * k_out, flat.begin() + (i + 1) * k_out);
  return out;
}

std::vector<std::vector<array>> group_of(const std::vector<array>& params, const std::vector<array>& grads,
                                         const std::vector<array>& exp_avgs, const std::vector<array>& exp_avg_sqs,
                                         const std::vector<array>& max_exp_avg_sqs) {
  const size_t n = params.size();
  if (grads.size() != n || exp_avgs.size() != n || exp_avg_sqs.size() != n ||
      !(max_exp_avg_sqs.empty() || max_exp_avg_sqs.size() == n)) {
    fail("adam_update", "needs one grad, exp_avg and exp_avg_sq (and max_exp_avg_sq for amsgrad) per param; got ",
         n, " params, ", grads.size(), " grads, ", exp_avgs.size(), " exp_avgs, ", exp_avg_sqs.size(),
         " exp_avg_sqs and ", max_exp_avg_sqs.size(), " max_exp_avg_sqs");
  }
  std::vector<std::vector<array>> tensors;
  for (size_t i = 0; i < n; ++i) {
    tensors.push_back({params[i], grads[i], exp_avgs[i], exp_avg_sqs[i]});
    if (!max_exp_avg_sqs.empty()) tensors.back().push_back(max_exp_avg_sqs[i]);
  }
  return tensors;
}

std::vector<array> adam_impl(const array& param, const array& grad, const array& exp_avg, const array& exp_avg_sq,
                             const std::optional<array>& max_exp_avg_sq, const AdamStep& step, StreamOrDevice sd,
                             bool compose) {
  std::vector<array> one{param, grad, exp_avg, exp_avg_sq};
  if (max_exp_avg_sq) one.push_back(*max_exp_avg_sq);
  return adam_group_impl({one}, step, sd, compose)[0];
}

}  // namespace

std::vector<array> adam_update(const array& param, const array& grad, const array& exp_avg, const array& exp_avg_sq,
                               const std::optional<array>& max_exp_avg_sq, const AdamStep& step, StreamOrDevice s) {
  return adam_impl(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, s, false);
}

std::vector<std::vector<array>> adam_update(const std::vector<array>& params, const std::vector<array>& grads,
                                            const std::vector<array>& exp_avgs,
                                            const std::vector<array>& exp_avg_sqs,
                                            const std::vector<array>& max_exp_avg_sqs, const AdamStep& step,
                                            StreamOrDevice s) {
  return adam_group_impl(group_of(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs), step, s, false);
}

namespace composed {
std::vector<array> adam_update(const array& param, const array& grad, const array& exp_avg, const array& exp_avg_sq,
                               const std::optional<array>& max_exp_avg_sq, const AdamStep& step, StreamOrDevice s) {
  return adam_impl(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, s, true);
}
}  // namespace composed

}  // namespace alloy::fast
