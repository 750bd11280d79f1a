// Fused SwiGLU: validation, the composition (multiply(multiply(gate, sigmoid(gate)), up), the
// reference of the kernels and what higher-order gradients come from) and the nodes.
#include "alloy/core/fast.h"
#include "alloy/core/fast_primitives.h"
#include "alloy/core/ops_util.h"
#include "alloy/core/transforms.h"

namespace alloy {
namespace {

array swiglu_composed(const array& gate, const array& up, Stream s) {
  return multiply(multiply(gate, sigmoid(gate, s), s), up, s);
}

array swiglu_impl(const array& gate, const array& up, StreamOrDevice sd, bool compose) {
  const char* op = "swiglu";
  if (gate.shape() != up.shape()) {
    detail::fail(op, "gate and up must have one shape, got ", shape_to_string(gate.shape()), " and ",
                 shape_to_string(up.shape()));
  }
  if (!is_floating(gate.dtype()) || gate.dtype() != up.dtype()) {
    detail::fail(op, "needs gate and up of one floating-point dtype, got ", gate.dtype(), " and ", up.dtype());
  }
  Stream s = to_stream(sd);
  if (compose) return swiglu_composed(gate, up, s);
  Fused::Fallback composed = [s](const std::vector<array>& in) {
    return std::vector<array>{swiglu_composed(in[0], in[1], s)};
  };
  return array::make_arrays({gate.shape()}, {gate.dtype()}, std::make_shared<SwiGLU>(s, composed), {gate, up})[0];
}

}  // namespace

std::vector<array> SwiGLU::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  Stream s = stream();
  // SwiGLUGrad's own fallback is the composition's vjp, so gradients of the gradient are exact.
  Fused::Fallback composed = [s](const std::vector<array>& in) {
    auto forward = [&](const std::vector<array>& x) { return std::vector<array>{swiglu_composed(x[0], x[1], s)}; };
    return alloy::vjp(forward, {in[0], in[1]}, {in[2]}).second;
  };
  auto grads = array::make_arrays({primals[0].shape(), primals[1].shape()}, {primals[0].dtype(), primals[1].dtype()},
                                  std::make_shared<SwiGLUGrad>(s, composed),
                                  {primals[0], primals[1], astype(cotangents[0], primals[0].dtype(), s)});
  std::vector<array> out;
  for (int a : argnums) out.push_back(grads[a]);
  return out;
}

namespace fast {

array swiglu(const array& gate, const array& up, StreamOrDevice s) { return swiglu_impl(gate, up, s, false); }

namespace composed {
array swiglu(const array& gate, const array& up, StreamOrDevice s) { return swiglu_impl(gate, up, s, true); }
}  // namespace composed

}  // namespace fast
}  // namespace alloy
