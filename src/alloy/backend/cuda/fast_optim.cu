// CUDA kernel of the fused optimizer step over a group of tensors (PyTorch's multi-tensor apply):
// a launch takes up to kTensors tensors and kBlocks chunks of kChunk elements, described by a
// table passed by value; a block updates one chunk of one tensor, a thread an element at a
// time, in float (double for float64), stored in the arrays' dtype.
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

constexpr int kTensors = 24;
constexpr int kBlocks = 320;
constexpr int kThreads = 256;
constexpr int64_t kChunk = int64_t(kThreads) * 256;

// Kernel parameters are limited to 4 KB: 9 x 24 pointers, 24 sizes and 320 block entries fit.
struct AdamTable {
  const void* in[5][kTensors];  // param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq
  void* out[4][kTensors];       // param, exp_avg, exp_avg_sq, max_exp_avg_sq
  int64_t n[kTensors];
  uint8_t tensor[kBlocks];  // block b updates chunk chunk[b] of tensor tensor[b]
  int32_t chunk[kBlocks];
};
static_assert(sizeof(AdamTable) + sizeof(AdamScalars) + 8 <= 4096, "kernel parameters");

template <typename T, typename A>
__global__ void __launch_bounds__(kThreads) adam_kernel(AdamScalars s, AdamTable tab, bool ams) {
  const int t = tab.tensor[blockIdx.x];
  const int64_t begin = int64_t(tab.chunk[blockIdx.x]) * kChunk;
  const int64_t end = min(tab.n[t], begin + kChunk);
  const T* p = static_cast<const T*>(tab.in[0][t]);
  const T* g = static_cast<const T*>(tab.in[1][t]);
  const T* m = static_cast<const T*>(tab.in[2][t]);
  const T* v = static_cast<const T*>(tab.in[3][t]);
  const T* vmax = static_cast<const T*>(tab.in[4][t]);
  T* po = static_cast<T*>(tab.out[0][t]);
  T* mo = static_cast<T*>(tab.out[1][t]);
  T* vo = static_cast<T*>(tab.out[2][t]);
  T* vmaxo = static_cast<T*>(tab.out[3][t]);
  for (int64_t i = begin + threadIdx.x; i < end; i += kThreads) {
    A pi = A(p[i]), gi = A(g[i]), m0 = A(m[i]);
    if (s.has_decay) {
      if (s.decoupled) pi = pi * A(s.decay);
      else gi = gi + A(s.decay) * pi;
    }
    A mi = m0 + A(s.one_b1) * (gi - m0);
    A vi = A(s.b2) * A(v[i]) + A(s.one_b2) * (gi * gi);
    mo[i] = T(mi);
    vo[i] = T(vi);
    if (ams) {
      vi = max(A(vmax[i]), vi);
      vmaxo[i] = T(vi);
    }
    po[i] = T(pi - A(s.step_size) * (mi / (sqrt(vi) / A(s.bc2) + A(s.eps))));
  }
}

// in: per tensor k_in row-contiguous arrays; out: per tensor k_out allocated arrays.
template <typename T>
void launch_adam(const fast::AdamStep& st, const std::vector<array>& in, std::vector<array>& out, int count,
                 bool ams, const Stream& stream) {
  using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
  const double t = double(st.t);
  AdamScalars s{st.beta2, 1.0 - st.beta1, 1.0 - st.beta2,
                st.decoupled ? 1.0 - st.lr * st.weight_decay : st.weight_decay,
                st.lr / (1.0 - std::pow(st.beta1, t)), std::sqrt(1.0 - std::pow(st.beta2, t)), st.eps,
                st.weight_decay != 0, st.decoupled};
  const int k_in = ams ? 5 : 4, k_out = ams ? 4 : 3;
  cudaStream_t cs = cuda::stream_of(stream);
  AdamTable tab{};
  int tensors = 0, blocks = 0;
  auto flush = [&] {
    if (blocks > 0) {
      adam_kernel<T, A><<<blocks, kThreads, 0, cs>>>(s, tab, ams);
      ALLOY_CUDA_LAUNCH_CHECK("adam_update");
    }
    tensors = blocks = 0;
  };
  for (int i = 0; i < count; ++i) {
    const int64_t n = int64_t(in[i * k_in].size());
    if (n == 0) continue;
    const int64_t chunks = (n + kChunk - 1) / kChunk;
    for (int64_t c = 0; c < chunks; ++c) {
      if (c == 0 || blocks == 0) {
        // (Re-)enter tensor i in the table: at its first chunk, or after a launch emptied it.
        if (tensors == kTensors) flush();
        for (int j = 0; j < k_in; ++j) tab.in[j][tensors] = cuda::in_ptr<T>(in[i * k_in + j], stream);
        for (int j = 0; j < k_out; ++j) tab.out[j][tensors] = cuda::out_ptr<T>(out[i * k_out + j]);
        if (!ams) tab.in[4][tensors] = tab.out[3][tensors] = nullptr;
        tab.n[tensors] = n;
        ++tensors;
      }
      tab.tensor[blocks] = uint8_t(tensors - 1);
      tab.chunk[blocks] = int32_t(c);
      if (++blocks == kBlocks) flush();
    }
  }
  flush();
}

}  // namespace

void AdamUpdate::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  std::vector<array> in;
  for (const array& a : inputs) in.push_back(cuda::as_row_contiguous(a, stream()));
  for (array& o : outputs) cuda::allocate(o);
  for (const array& a : in) {
    if (a.dtype() != in[0].dtype()) throw std::invalid_argument("[adam_update] a group shares one dtype");
  }
  switch (inputs[0].dtype()) {
    case Dtype::float16: return launch_adam<__half>(step_, in, outputs, count_, amsgrad_, stream());
    case Dtype::bfloat16: return launch_adam<__nv_bfloat16>(step_, in, outputs, count_, amsgrad_, stream());
    case Dtype::float32: return launch_adam<float>(step_, in, outputs, count_, amsgrad_, stream());
    case Dtype::float64: return launch_adam<double>(step_, in, outputs, count_, amsgrad_, stream());
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      throw std::invalid_argument("[adam_update] needs floating-point arrays");
  }
}

}  // namespace alloy
