// CUDA kernel of the fused optimizer step: one thread per element over the parameter, its
// gradient and its state, computed in float (double for float64), stored in the arrays' dtype.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <stdexcept>

#include "alloy/backend/cuda/cuda_utils.h"
#include "alloy/core/fast_primitives.h"

namespace alloy {
namespace {

struct AdamScalars {
  double b2, one_b1, one_b2, decay, step_size, bc2, eps;
  bool has_decay, decoupled;
};

template <typename T, typename A>
__global__ void adam_kernel(AdamScalars s, const T* p, const T* g, const T* m, const T* v, const T* vmax, T* po,
                            T* mo, T* vo, T* vmaxo, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    A pi = A(p[i]), gi = A(g[i]), m0 = A(m[i]);
    if (s.has_decay) {
      if (s.decoupled) pi = pi * A(s.decay);
      else gi = gi + A(s.decay) * pi;
    }
    A mi = m0 + A(s.one_b1) * (gi - m0);
    A vi = A(s.b2) * A(v[i]) + A(s.one_b2) * (gi * gi);
    mo[i] = T(mi);
    vo[i] = T(vi);
    if (vmax) {
      vi = max(A(vmax[i]), vi);
      vmaxo[i] = T(vi);
    }
    po[i] = T(pi - A(s.step_size) * (mi / (sqrt(vi) / A(s.bc2) + A(s.eps))));
  }
}

template <typename T>
void launch_adam(const fast::AdamStep& st, std::vector<array>& in, std::vector<array>& out, const Stream& stream) {
  using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const double t = double(st.t);
  AdamScalars s{st.beta2, 1.0 - st.beta1, 1.0 - st.beta2,
                st.decoupled ? 1.0 - st.lr * st.weight_decay : st.weight_decay,
                st.lr / (1.0 - std::pow(st.beta1, t)), std::sqrt(1.0 - std::pow(st.beta2, t)), st.eps,
                st.weight_decay != 0, st.decoupled};
  const bool ams = in.size() > 4;
  const int64_t n = int64_t(in[0].size());
  if (n == 0) return;
  const int threads = 256;
  const int blocks = int(std::min<int64_t>((n + threads - 1) / threads, 65536));
  adam_kernel<T, A><<<blocks, threads, 0, cuda::stream_of(stream)>>>(
      s, cuda::in_ptr<T>(in[0], stream), cuda::in_ptr<T>(in[1], stream), cuda::in_ptr<T>(in[2], stream),
      cuda::in_ptr<T>(in[3], stream), ams ? cuda::in_ptr<T>(in[4], stream) : nullptr, cuda::out_ptr<T>(out[0]),
      cuda::out_ptr<T>(out[1]), cuda::out_ptr<T>(out[2]), ams ? cuda::out_ptr<T>(out[3]) : nullptr, n);
  ALLOY_CUDA_LAUNCH_CHECK("adam_update");
}

}  // namespace

void AdamUpdate::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  std::vector<array> in;
  for (const array& a : inputs) in.push_back(cuda::as_row_contiguous(a, stream()));
  for (array& o : outputs) cuda::allocate(o);
  switch (inputs[0].dtype()) {
    case Dtype::float16: return launch_adam<__half>(step_, in, outputs, stream());
    case Dtype::bfloat16: return launch_adam<__nv_bfloat16>(step_, in, outputs, stream());
    case Dtype::float32: return launch_adam<float>(step_, in, outputs, stream());
    case Dtype::float64: return launch_adam<double>(step_, in, outputs, stream());
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      throw std::invalid_argument("[adam_update] needs floating-point arrays");
  }
}

}  // namespace alloy
