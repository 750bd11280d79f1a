// CPU kernels of fused SwiGLU: one pass over the elements each way, in float32 (float64 for
// float64) registers with the vectorizing exp of the elementwise ops (ew::unary::Sigmoid).
#include <type_traits>

#include "alloy/backend/common/swiglu.h"
#include "alloy/backend/cpu/dispatch_float.h"
#include "alloy/backend/cpu/simd.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/backend/cpu/swiglu_rows.h"
#include "alloy/backend/cpu/threading.h"
#include "alloy/core/fast_primitives.h"

namespace alloy {
namespace cpu {
namespace {

template <typename T>
ALLOY_SIMD_CLONES void swiglu_rows_cloned(const T* gate, const T* up, T* out, int64_t n) {
  using A = ew::compute_t<T>;
  for (int64_t i = 0; i < n; ++i) out[i] = T(ew::swiglu(A(gate[i]), A(up[i])));
}

}  // namespace

template <typename T>
void swiglu_rows(const T* gate, const T* up, T* out, int64_t n) {
  swiglu_rows_cloned(gate, up, out, n);
}
template void swiglu_rows(const float16_t*, const float16_t*, float16_t*, int64_t);
template void swiglu_rows(const bfloat16_t*, const bfloat16_t*, bfloat16_t*, int64_t);
template void swiglu_rows(const float*, const float*, float*, int64_t);
template void swiglu_rows(const double*, const double*, double*, int64_t);

}  // namespace cpu

namespace {

template <typename T>
ALLOY_SIMD_CLONES void swiglu_grad_rows(const T* gate, const T* up, const T* g, T* d_gate, T* d_up, int64_t n) {
  using A = ew::compute_t<T>;
  for (int64_t i = 0; i < n; ++i) {
    A dg, du;
    ew::swiglu_grad(A(gate[i]), A(up[i]), A(g[i]), dg, du);
    d_gate[i] = T(dg);
    d_up[i] = T(du);
  }
}

constexpr int64_t kGrain = 1 << 14;

}  // namespace

void SwiGLU::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array gate = cpu::as_row_contiguous(inputs[0]), up = cpu::as_row_contiguous(inputs[1]);
  array& out = outputs[0];
  cpu::allocate(out);
  cpu::dispatch_float(gate.dtype(), "swiglu", [&](auto v) {
    using T = decltype(v);
    const T* gp = static_cast<const T*>(gate.raw_data_ptr());
    const T* up_ = static_cast<const T*>(up.raw_data_ptr());
    T* op = static_cast<T*>(out.raw_data_ptr());
    cpu::parallel_for(int64_t(out.size()), kGrain,
                      [&](int64_t b, int64_t e) { cpu::swiglu_rows<T>(gp + b, up_ + b, op + b, e - b); });
  });
}

void SwiGLUGrad::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array gate = cpu::as_row_contiguous(inputs[0]), up = cpu::as_row_contiguous(inputs[1]);
  array g = cpu::as_row_contiguous(inputs[2], gate.dtype());
  cpu::allocate(outputs[0]);
  cpu::allocate(outputs[1]);
  cpu::dispatch_float(gate.dtype(), "swiglu", [&](auto v) {
    using T = decltype(v);
    const T* gp = static_cast<const T*>(gate.raw_data_ptr());
    const T* up_ = static_cast<const T*>(up.raw_data_ptr());
    const T* cp = static_cast<const T*>(g.raw_data_ptr());
    T* dg = static_cast<T*>(outputs[0].raw_data_ptr());
    T* du = static_cast<T*>(outputs[1].raw_data_ptr());
    cpu::parallel_for(int64_t(gate.size()), kGrain, [&](int64_t b, int64_t e) {
      swiglu_grad_rows<T>(gp + b, up_ + b, cp + b, dg + b, du + b, e - b);
    });
  });
}

}  // namespace alloy
