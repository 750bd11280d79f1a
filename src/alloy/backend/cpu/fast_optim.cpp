// CPU kernel of the fused optimizer step: one pass over the parameter, its gradient and its
// state, computed in float (double for float64) and stored in the arrays' dtype.
#include <cmath>
#include <stdexcept>
#include <type_traits>

#include "alloy/backend/cpu/strided.h"
#include "alloy/backend/cpu/threading.h"
#include "alloy/core/fast_primitives.h"

namespace alloy {
namespace {

template <typename T, typename A>
void adam_rows(const fast::AdamStep& st, const T* p, const T* g, const T* m, const T* v, const T* vmax, T* po, T* mo,
               T* vo, T* vmaxo, int64_t n) {
  const A b2 = A(st.beta2), one_b1 = A(1.0 - st.beta1), one_b2 = A(1.0 - st.beta2);
  const A decay = A(st.decoupled ? 1.0 - st.lr * st.weight_decay : st.weight_decay);
  const bool has_decay = st.weight_decay != 0;
  const double t = double(st.t);
  const A step_size = A(st.lr / (1.0 - std::pow(st.beta1, t)));
  const A bc2 = A(std::sqrt(1.0 - std::pow(st.beta2, t)));
  const A eps = A(st.eps);
  for (int64_t i = 0; i < n; ++i) {
    A pi = A(p[i]), gi = A(g[i]), m0 = A(m[i]);
    if (has_decay) {
      if (st.decoupled) pi = pi * decay;
      else gi = gi + decay * pi;
    }
    A mi = m0 + one_b1 * (gi - m0);
    A vi = b2 * A(v[i]) + one_b2 * (gi * gi);
    mo[i] = T(mi);
    vo[i] = T(vi);
    if (vmax) {
      vi = std::max(A(vmax[i]), vi);
      vmaxo[i] = T(vi);
    }
    po[i] = T(pi - step_size * (mi / (std::sqrt(vi) / bc2 + eps)));
  }
}

}  // namespace

void AdamUpdate::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const int k_in = inputs_per_tensor(), k_out = outputs_per_tensor();
  const bool ams = amsgrad_;
  for (int t = 0; t < count_; ++t) {
    std::vector<array> in;
    for (int j = 0; j < k_in; ++j) in.push_back(cpu::as_row_contiguous(inputs[t * k_in + j]));
    array* out = &outputs[t * k_out];
    for (int j = 0; j < k_out; ++j) cpu::allocate(out[j]);
    const int64_t n = int64_t(in[0].size());
    auto run = [&](auto zero) {
      using T = decltype(zero);
      using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
      auto ptr = [](array& a) { return static_cast<T*>(a.raw_data_ptr()); };
      cpu::parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
        adam_rows<T, A>(step_, ptr(in[0]) + b, ptr(in[1]) + b, ptr(in[2]) + b, ptr(in[3]) + b,
                        ams ? ptr(in[4]) + b : nullptr, ptr(out[0]) + b, ptr(out[1]) + b, ptr(out[2]) + b,
                        ams ? ptr(out[3]) + b : nullptr, e - b);
      });
    };
    switch (inputs[0].dtype()) {
      case Dtype::float16: run(float16_t{}); break;
      case Dtype::bfloat16: run(bfloat16_t{}); break;
      case Dtype::float32: run(0.0f); break;
      case Dtype::float64: run(0.0); break;
      case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
      case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
        throw std::invalid_argument("[adam_update] needs floating-point arrays");
    }
  }
}

}  // namespace alloy
