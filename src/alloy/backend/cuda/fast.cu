// GPU kernels of the fused ops, mirroring backend/cpu/fast.cpp. The norms view the input (made
// row-contiguous) as (rows, D). Rows of up to 16 elements per thread of a 1024-thread block are
// read once into registers (norm_regs: a warp per short row, else a block of 128..1024
// threads, 16-byte loads when aligned); longer rows re-read x: a warp per row for D <= 1024, a
// block of 256 threads per longer row; statistics are summed in float32 (float64 for float64)
// and the output is rounded to the storage type after each step exactly as the CPU (and the
// composition) does. RoPE builds the
// float32 (T, dims/2) cos/sin table in scratch memory, then one thread per output element reads
// its rotation pair. Attention is in attention.cu.
#include <cmath>
#include <optional>

#include "alloy/backend/cuda/dependent_launch.cuh"
#include "alloy/backend/cuda/kernel_utils.cuh"
#include "alloy/core/fast_primitives.h"

namespace alloy {
namespace cuda {
namespace {

// A value rounded to the storage type T and back.
template <typename T, typename A>
__device__ __forceinline__ A round_to(A v) {
  return convert<A>(convert<T>(v));
}

// Rows are handled by groups of threads: a warp (Warp) or the whole block.
template <bool Warp>
struct Group {
  __device__ __forceinline__ static int64_t first() {
    return Warp ? int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5) : int64_t(blockIdx.x);
  }
  __device__ __forceinline__ static int64_t count() {
    return Warp ? int64_t(gridDim.x) * (blockDim.x >> 5) : int64_t(gridDim.x);
  }
  __device__ __forceinline__ static int rank() { return Warp ? int(threadIdx.x & 31) : int(threadIdx.x); }
  __device__ __forceinline__ static int size() { return Warp ? 32 : int(blockDim.x); }
  // The group's sum in every thread (smem: 32 values; the block version syncs twice).
  template <typename A>
  __device__ __forceinline__ static A sum(A v, A* smem) {
#pragma unroll
    for (int k = 16; k > 0; k >>= 1) v += __shfl_xor_sync(0xffffffffu, v, k);
    if constexpr (Warp) {
      return v;
    } else {
      int warps = int(blockDim.x >> 5);
      if ((threadIdx.x & 31) == 0) smem[threadIdx.x >> 5] = v;
      __syncthreads();
      A total = 0;
      for (int w = 0; w < warps; ++w) total += smem[w];
      __syncthreads();
      return total;
    }
  }
};

// y = ((x - sub) * mul), then * w, then + b, rounding to T after each step.
template <typename T, typename A>
__device__ __forceinline__ void scale_row(const T* x, const T* w, const T* b, T* out, A mul, A sub, int64_t D,
                                          int first, int step) {
  for (int64_t i = first; i < D; i += step) {
    A y = round_to<T>(A((convert<A>(x[i]) - sub) * mul));
    if (w) y = round_to<T>(A(y * convert<A>(w[i])));
    if (b) y = round_to<T>(A(y + convert<A>(b[i])));
    out[i] = convert<T>(y);
  }
}

// x, out (rows, D); w (D) or null.
template <typename T, typename A, bool Warp>
__global__ void rms_norm_kernel(const T* x, const T* w, T* out, int64_t rows, int64_t D, float eps) {
  using G = Group<Warp>;
  __shared__ A smem[32];
  for (int64_t r = G::first(); r < rows; r += G::count()) {
    const T* xr = x + r * D;
    A ss = 0;
    for (int64_t i = G::rank(); i < D; i += G::size()) {
      A v = convert<A>(xr[i]);
      ss += v * v;
    }
    ss = G::sum(ss, smem);
    A inv = A(1) / sqrt(ss / A(D) + A(eps));
    scale_row<T, A>(xr, w, nullptr, out + r * D, inv, A(0), D, G::rank(), G::size());
  }
}

// sum = x + r (rounded to T), out = rms_norm(sum) * w: a block per row, each thread holding
// kResidualSlots elements of it in registers, so every load of the row is issued at once (a
// decode step normalizes a single row, and a loop of dependent loads costs microseconds there).
constexpr int kResidualSlots = 8;
template <typename T, typename A>
__global__ void __launch_bounds__(1024) rms_norm_residual_regs(const T* __restrict__ x, const T* __restrict__ r,
                                                               const T* __restrict__ w, T* __restrict__ sum,
                                                               T* __restrict__ out, int64_t rows, int D, float eps) {
  wait_for_prerequisites();
  allow_dependents();
  using G = Group<false>;
  __shared__ A smem[32];
  for (int64_t row = G::first(); row < rows; row += G::count()) {
    const int64_t at = row * D;
    A v[kResidualSlots], wv[kResidualSlots];
    A ss = 0;
#pragma unroll
    for (int k = 0; k < kResidualSlots; ++k) {
      const int i = int(threadIdx.x) + k * int(blockDim.x);
      if (i < D) {
        v[k] = round_to<T>(A(convert<A>(x[at + i]) + convert<A>(r[at + i])));
        wv[k] = w ? convert<A>(w[i]) : A(1);
        ss += v[k] * v[k];
      }
    }
#pragma unroll
    for (int k = 0; k < kResidualSlots; ++k) {
      const int i = int(threadIdx.x) + k * int(blockDim.x);
      if (i < D) sum[at + i] = convert<T>(v[k]);
    }
    ss = G::sum(ss, smem);
    const A inv = A(1) / sqrt(ss / A(D) + A(eps));
#pragma unroll
    for (int k = 0; k < kResidualSlots; ++k) {
      const int i = int(threadIdx.x) + k * int(blockDim.x);
      if (i < D) {
        A y = round_to<T>(A(v[k] * inv));
        if (w) y = round_to<T>(A(y * wv[k]));
        out[at + i] = convert<T>(y);
      }
    }
  }
}

// The same for rows longer than 1024 * kResidualSlots: a loop over the row. Each thread reads
// back only the sums it wrote.
template <typename T, typename A>
__global__ void rms_norm_residual_kernel(const T* x, const T* r, const T* w, T* sum, T* out, int64_t rows,
                                         int64_t D, float eps) {
  using G = Group<false>;
  __shared__ A smem[32];
  for (int64_t row = G::first(); row < rows; row += G::count()) {
    const int64_t at = row * D;
    A ss = 0;
    for (int64_t i = G::rank(); i < D; i += G::size()) {
      const A v = round_to<T>(A(convert<A>(x[at + i]) + convert<A>(r[at + i])));
      sum[at + i] = convert<T>(v);
      ss += v * v;
    }
    ss = G::sum(ss, smem);
    A inv = A(1) / sqrt(ss / A(D) + A(eps));
    scale_row<T, A>(sum + at, w, nullptr, out + at, inv, A(0), D, G::rank(), G::size());
  }
}

// RMSNorm's backward, a warp per row (D <= 32 NPL), 8 warps per block. x, g, dx (rows, D); w (D)
// or null; partial (gridDim.x, D) float32: each block's sum over its rows of g * (x inv rounded
// to T), which rms_norm_grad_columns adds up into dw. The lanes of a warp hold the columns
// lane + 32 j (j < NPL) of each row, and their share of dw across rows.
constexpr int kGradWarps = 8;

template <typename T, int NPL, bool HasW>
__global__ void __launch_bounds__(kGradWarps * 32) rms_norm_grad_kernel(const T* x, const T* w, const T* g, T* dx,
                                                                        float* partial, int64_t rows, int D, float eps) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  float wv[NPL], dwp[NPL];
#pragma unroll
  for (int j = 0; j < NPL; ++j) {
    const int d = lane + 32 * j;
    wv[j] = HasW && d < D ? convert<float>(w[d]) : 1.0f;
    dwp[j] = 0.0f;
  }
  for (int64_t r = int64_t(blockIdx.x) * kGradWarps + warp; r < rows; r += int64_t(gridDim.x) * kGradWarps) {
    const T* xr = x + r * D;
    const T* gr = g + r * D;
    float xv[NPL], gv[NPL];
    float ss = 0.0f, dot = 0.0f;
#pragma unroll
    for (int j = 0; j < NPL; ++j) {
      const int d = lane + 32 * j;
      xv[j] = d < D ? convert<float>(xr[d]) : 0.0f;
      gv[j] = d < D ? convert<float>(gr[d]) : 0.0f;
      ss += xv[j] * xv[j];
      dot += gv[j] * wv[j] * xv[j];
    }
#pragma unroll
    for (int k = 16; k > 0; k >>= 1) {
      ss += __shfl_xor_sync(0xffffffffu, ss, k);
      dot += __shfl_xor_sync(0xffffffffu, dot, k);
    }
    const float inv = 1.0f / sqrtf(ss / float(D) + eps);
    const float c = inv * inv * inv * dot / float(D);
    T* dxr = dx + r * D;
#pragma unroll
    for (int j = 0; j < NPL; ++j) {
      const int d = lane + 32 * j;
      if (d < D) {
        dxr[d] = convert<T>(inv * gv[j] * wv[j] - xv[j] * c);
        if constexpr (HasW) dwp[j] += gv[j] * round_to<T, float>(xv[j] * inv);
      }
    }
  }
  if constexpr (HasW) {
    __shared__ float red[kGradWarps][32 * NPL];
#pragma unroll
    for (int j = 0; j < NPL; ++j) red[warp][lane + 32 * j] = dwp[j];
    __syncthreads();
    for (int d = threadIdx.x; d < D; d += kGradWarps * 32) {
      float acc = 0.0f;
#pragma unroll
      for (int k = 0; k < kGradWarps; ++k) acc += red[k][d];
      partial[int64_t(blockIdx.x) * D + d] = acc;
    }
  }
}

// dw[d] = sum over the P partial rows, a thread per column.
template <typename T>
__global__ void rms_norm_grad_columns(const float* partial, T* dw, int P, int D) {
  const int d = blockIdx.x * blockDim.x + threadIdx.x;
  if (d >= D) return;
  float acc = 0.0f;
  for (int p = 0; p < P; ++p) acc += partial[int64_t(p) * D + d];
  dw[d] = convert<T>(acc);
}

template <typename T, int NPL>
void launch_rms_norm_grad(const T* x, const T* w, const T* g, T* dx, T* dw, int64_t rows, int D, float eps,
                          const Stream& s, cudaStream_t st) {
  const int64_t cap = int64_t(device_properties().multiProcessorCount) * 4;
  const int blocks = int(std::min<int64_t>((rows + kGradWarps - 1) / kGradWarps, cap));
  if (!w) {
    rms_norm_grad_kernel<T, NPL, false><<<blocks, kGradWarps * 32, 0, st>>>(x, w, g, dx, nullptr, rows, D, eps);
    ALLOY_CUDA_LAUNCH_CHECK("rms_norm_grad");
    return;
  }
  float* partial = static_cast<float*>(scratch(s, size_t(blocks) * D * sizeof(float)));
  rms_norm_grad_kernel<T, NPL, true><<<blocks, kGradWarps * 32, 0, st>>>(x, w, g, dx, partial, rows, D, eps);
  ALLOY_CUDA_LAUNCH_CHECK("rms_norm_grad");
  rms_norm_grad_columns<T><<<unsigned((D + 255) / 256), 256, 0, st>>>(partial, dw, blocks, D);
  ALLOY_CUDA_LAUNCH_CHECK("rms_norm_grad (columns)");
}

// x, out (rows, D); w, b (D) or null. Two-pass statistics: mean, then mean squared deviation.
template <typename T, typename A, bool Warp>
__global__ void layer_norm_kernel(const T* x, const T* w, const T* b, T* out, int64_t rows, int64_t D, float eps) {
  using G = Group<Warp>;
  __shared__ A smem[32];
  for (int64_t r = G::first(); r < rows; r += G::count()) {
    const T* xr = x + r * D;
    A s = 0;
    for (int64_t i = G::rank(); i < D; i += G::size()) s += convert<A>(xr[i]);
    A mu = G::sum(s, smem) / A(D);
    A sq = 0;
    for (int64_t i = G::rank(); i < D; i += G::size()) {
      A d = convert<A>(xr[i]) - mu;
      sq += d * d;
    }
    A var = G::sum(sq, smem) / A(D);
    scale_row<T, A>(xr, w, b, out + r * D, A(1) / sqrt(var + A(eps)), mu, D, G::rank(), G::size());
  }
}

// Register-resident norms: a row of up to 16 elements per thread (of a warp, or of a block of
// up to 1024 threads) is read once (16-byte loads when x, out, w and b are 16-byte aligned and
// D is a multiple of the vector) and written once. Group g holds vector rank + k * size of the
// row in slot k < NV. The statistics and the output rounding are those of the kernels above.
template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

template <typename T, typename A, int V, int NV, bool Warp, bool Layer, bool HasW, bool HasB>
__global__ void norm_regs(const T* x, const T* w, const T* b, T* out, int64_t rows, int64_t D, float eps) {
  using G = Group<Warp>;
  using VecT = Vec<T, V>;
  __shared__ A smem[32];
  const int rank = G::rank(), size = G::size();
  const int nvec = int(D / V);
  for (int64_t r = G::first(); r < rows; r += G::count()) {
    const VecT* xr = reinterpret_cast<const VecT*>(x + r * D);
    VecT raw[NV];
#pragma unroll
    for (int k = 0; k < NV; ++k) {
      int idx = rank + k * size;
      if (idx < nvec) raw[k] = xr[idx];
    }
    A vals[NV][V];
#pragma unroll
    for (int k = 0; k < NV; ++k) {
      bool ok = rank + k * size < nvec;
#pragma unroll
      for (int c = 0; c < V; ++c) vals[k][c] = ok ? convert<A>(raw[k].v[c]) : A(0);
    }
    A mul, sub;
    if constexpr (Layer) {
      A s = 0;
#pragma unroll
      for (int k = 0; k < NV; ++k) {
#pragma unroll
        for (int c = 0; c < V; ++c) s += vals[k][c];  // padding slots are 0
      }
      A mu = G::sum(s, smem) / A(D);
      A sq = 0;
#pragma unroll
      for (int k = 0; k < NV; ++k) {
        if (rank + k * size < nvec) {
#pragma unroll
          for (int c = 0; c < V; ++c) {
            A d = vals[k][c] - mu;
            sq += d * d;
          }
        }
      }
      A var = G::sum(sq, smem) / A(D);
      mul = A(1) / sqrt(var + A(eps));
      sub = mu;
    } else {
      A ss = 0;
#pragma unroll
      for (int k = 0; k < NV; ++k) {
#pragma unroll
        for (int c = 0; c < V; ++c) ss += vals[k][c] * vals[k][c];
      }
      ss = G::sum(ss, smem);
      mul = A(1) / sqrt(ss / A(D) + A(eps));
      sub = A(0);
    }
    VecT* orow = reinterpret_cast<VecT*>(out + r * D);
#pragma unroll
    for (int k = 0; k < NV; ++k) {
      int idx = rank + k * size;
      if (idx < nvec) {
        VecT wv, bv, o;
        if constexpr (HasW) wv = reinterpret_cast<const VecT*>(w)[idx];
        if constexpr (HasB) bv = reinterpret_cast<const VecT*>(b)[idx];
#pragma unroll
        for (int c = 0; c < V; ++c) {
          A y = round_to<T>(A((vals[k][c] - sub) * mul));
          if constexpr (HasW) y = round_to<T>(A(y * convert<A>(wv.v[c])));
          if constexpr (HasB) y = round_to<T>(A(y + convert<A>(bv.v[c])));
          o.v[c] = convert<T>(y);
        }
        orow[idx] = o;
      }
    }
  }
}

// Most slots per thread: 16 elements (8 scalars, 4 float64), within the 64 registers of a
// 1024-thread block (checked at launch, else the kernels above).
template <typename T, int V>
constexpr int max_slots() {
  if constexpr (V == 1) return sizeof(T) == 8 ? 4 : 8;
  else return sizeof(T) == 8 ? 2 : 16 / V;
}

template <typename T, typename A, int V, int NV, bool Warp, bool Layer, bool HasW, bool HasB>
bool launch_norm_kernel(unsigned blocks, int threads, cudaStream_t st, const T* x, const T* w, const T* b, T* o,
                        int64_t rows, int64_t D, float eps) {
  static const int max_threads = [] {
    cudaFuncAttributes attr{};
    ALLOY_CUDA_CHECK(cudaFuncGetAttributes(&attr, norm_regs<T, A, V, NV, Warp, Layer, HasW, HasB>));
    return attr.maxThreadsPerBlock;
  }();
  if (threads > max_threads) return false;
  norm_regs<T, A, V, NV, Warp, Layer, HasW, HasB><<<blocks, threads, 0, st>>>(x, w, b, o, rows, D, eps);
  ALLOY_CUDA_LAUNCH_CHECK(Layer ? "layer_norm" : "rms_norm");
  return true;
}

template <typename T, typename A, int V, int NV, bool Warp, bool Layer>
bool launch_norm_slots(unsigned blocks, int threads, cudaStream_t st, const T* x, const T* w, const T* b, T* o,
                       int64_t rows, int64_t D, float eps) {
  if constexpr (Layer) {
    if (b) {
      return w ? launch_norm_kernel<T, A, V, NV, Warp, true, true, true>(blocks, threads, st, x, w, b, o, rows, D, eps)
               : launch_norm_kernel<T, A, V, NV, Warp, true, false, true>(blocks, threads, st, x, w, b, o, rows, D, eps);
    }
  }
  return w ? launch_norm_kernel<T, A, V, NV, Warp, Layer, true, false>(blocks, threads, st, x, w, b, o, rows, D, eps)
           : launch_norm_kernel<T, A, V, NV, Warp, Layer, false, false>(blocks, threads, st, x, w, b, o, rows, D, eps);
}

template <typename T, typename A, int V, bool Warp, bool Layer>
bool launch_norm_v(int nv, unsigned blocks, int threads, cudaStream_t st, const T* x, const T* w, const T* b, T* o,
                   int64_t rows, int64_t D, float eps) {
  constexpr int M = max_slots<T, V>();
  if (nv <= 1) return launch_norm_slots<T, A, V, 1, Warp, Layer>(blocks, threads, st, x, w, b, o, rows, D, eps);
  if (nv <= 2 || M <= 2) {
    return launch_norm_slots<T, A, V, (M < 2 ? M : 2), Warp, Layer>(blocks, threads, st, x, w, b, o, rows, D, eps);
  }
  if (nv <= 4 || M <= 4) {
    return launch_norm_slots<T, A, V, (M < 4 ? M : 4), Warp, Layer>(blocks, threads, st, x, w, b, o, rows, D, eps);
  }
  return launch_norm_slots<T, A, V, (M < 8 ? M : 8), Warp, Layer>(blocks, threads, st, x, w, b, o, rows, D, eps);
}

int pow2_at_least(int64_t v) {
  int p = 1;
  while (p < v) p <<= 1;
  return p;
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15) == 0; }

// Launches norm_regs for rows of D elements; false (nothing launched) when the row is too long
// for it (the caller then runs the two-read kernels).
template <typename T, typename A, bool Layer>
bool norm_in_registers(const T* x, const T* w, const T* b, T* o, int64_t rows, int64_t D, float eps,
                       cudaStream_t st) {
  constexpr int VW = int(16 / sizeof(T));
  bool vec = D % VW == 0 && aligned16(x) && aligned16(o) && (!w || aligned16(w)) && (!b || aligned16(b));
  int64_t nvec = vec ? D / VW : D;
  int64_t slots = vec ? max_slots<T, VW>() : max_slots<T, 1>();
  int64_t cap = int64_t(device_properties().multiProcessorCount) * 512;
  if (nvec <= 32 * slots) {
    int nv = pow2_at_least((nvec + 31) / 32);
    unsigned blocks = unsigned(std::min<int64_t>((rows + 7) / 8, cap));
    return vec ? launch_norm_v<T, A, VW, true, Layer>(nv, blocks, 256, st, x, w, b, o, rows, D, eps)
               : launch_norm_v<T, A, 1, true, Layer>(nv, blocks, 256, st, x, w, b, o, rows, D, eps);
  }
  if (nvec > 1024 * slots) return false;
  int threads = std::clamp(pow2_at_least((nvec + slots - 1) / slots), 128, 1024);
  int nv = pow2_at_least((nvec + threads - 1) / threads);
  unsigned blocks = unsigned(std::min<int64_t>(rows, cap));
  return vec ? launch_norm_v<T, A, VW, false, Layer>(nv, blocks, threads, st, x, w, b, o, rows, D, eps)
             : launch_norm_v<T, A, 1, false, Layer>(nv, blocks, threads, st, x, w, b, o, rows, D, eps);
}

template <typename Launch>
void launch_rows(int64_t rows, int64_t D, Launch&& launch) {
  int64_t cap = int64_t(device_properties().multiProcessorCount) * 32;
  if (D <= 1024) launch(std::true_type{}, unsigned(std::min<int64_t>((rows + 7) / 8, cap)));
  else launch(std::false_type{}, unsigned(std::min<int64_t>(rows, cap)));
}

// x, out (rows, T, D) flattened. A thread per rotation pair (i1, i2) of a row: (2i, 2i + 1)
// traditional, (i, i + half) otherwise, so each element is read and written once; a thread per
// element copies the elements past dims. The angle, float32 as on the CPU, is
// (float(position + t) * scale) * inv_freq_i, position = offset (+ *offset_array when given),
// inv_freq_i = 1 / freqs[i] or exp(i * log_base): computed in place, so a step launches one
// kernel per rope. Index math in I (32-bit when the array allows: 64-bit division costs more than
// the rest of the kernel).
template <typename T, typename A, typename I>
__global__ void rope_kernel(const T* x, T* out, int offset, const int32_t* offset_array, const float* freqs,
                            float scale, float log_base, I rows, I Tn, I D, I dims, bool trad) {
  wait_for_prerequisites();
  allow_dependents();
  const I half = dims / 2, pairs = rows * half;
  const int64_t position = int64_t(offset) + (offset_array ? *offset_array : 0);
  for (I e = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); e < pairs; e += I(gridDim.x) * I(blockDim.x)) {
    const I row = e / half, i = e - row * half;
    const I i1 = trad ? 2 * i : i, i2 = trad ? 2 * i + 1 : i + half;
    const T* xr = x + row * D;
    T* orow = out + row * D;
    const A x1 = convert<A>(xr[i1]), x2 = convert<A>(xr[i2]);
    const float inv_freq = freqs ? 1.0f / freqs[i] : expf(float(i) * log_base);
    const float ang = (float(position + int64_t(row % Tn)) * scale) * inv_freq;
    const A c = A(cosf(ang)), sn_ = A(sinf(ang));
    orow[i1] = convert<T>(A(x1 * c - x2 * sn_));
    orow[i2] = convert<T>(A(x1 * sn_ + x2 * c));
  }
  if (dims == D) return;
  const I rest = D - dims, n_rest = rows * rest;
  for (I e = I(blockIdx.x) * I(blockDim.x) + I(threadIdx.x); e < n_rest; e += I(gridDim.x) * I(blockDim.x)) {
    const I row = e / rest, k = dims + (e - row * rest);
    out[row * D + k] = x[row * D + k];
  }
}

}  // namespace
}  // namespace cuda

void RMSNorm::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  bool has_w = inputs.size() > 1;
  if (out.dtype() != inputs[0].dtype() || (has_w && inputs[1].dtype() != inputs[0].dtype())) {
    return cuda::fallback_to_cpu(*this, inputs, outputs);
  }
  array x = cuda::as_row_contiguous(inputs[0], stream());
  std::optional<array> w;
  if (has_w) w = cuda::as_row_contiguous(inputs[1], stream());
  cuda::allocate(out);
  int64_t D = x.shape(-1), rows = D ? int64_t(x.size()) / D : 0;
  if (rows == 0) return;
  cuda::dispatch_float(x.dtype(), "rms_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* xp = cuda::in_ptr<T>(x, stream());
    const T* wp = w ? cuda::in_ptr<T>(*w, stream()) : nullptr;
    T* op = cuda::out_ptr<T>(out);
    cudaStream_t st = cuda::stream_of(stream());
    if (cuda::norm_in_registers<T, A, false>(xp, wp, nullptr, op, rows, D, eps_, st)) return;
    cuda::launch_rows(rows, D, [&](auto warp, unsigned blocks) {
      cuda::rms_norm_kernel<T, A, decltype(warp)::value><<<blocks, 256, 0, st>>>(xp, wp, op, rows, D, eps_);
      ALLOY_CUDA_LAUNCH_CHECK("rms_norm");
    });
  });
}

void RMSNormResidual::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const Dtype t = inputs[0].dtype();
  for (auto& a : inputs)
    if (a.dtype() != t) return cuda::fallback_to_cpu(*this, inputs, outputs);
  const Stream& s = stream();
  array x = cuda::as_row_contiguous(inputs[0], s);
  array r = cuda::as_row_contiguous(inputs[1], s);
  std::optional<array> w;
  if (inputs.size() > 2) w = cuda::as_row_contiguous(inputs[2], s);
  for (auto& o : outputs) cuda::allocate(o);
  int64_t D = x.shape(-1), rows = D ? int64_t(x.size()) / D : 0;
  if (rows == 0) return;
  cuda::dispatch_float(t, "rms_norm_residual", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const unsigned blocks = unsigned(std::min<int64_t>(rows, int64_t(cuda::device_properties().multiProcessorCount) * 16));
    const T* xp = cuda::in_ptr<T>(x, s);
    const T* rp = cuda::in_ptr<T>(r, s);
    const T* wp = w ? cuda::in_ptr<T>(*w, s) : nullptr;
    T* sp = cuda::out_ptr<T>(outputs[0]);
    T* op = cuda::out_ptr<T>(outputs[1]);
    cudaStream_t st = cuda::stream_of(s);
    if (D <= 1024 * cuda::kResidualSlots) {
      const int per_thread = int((D + cuda::kResidualSlots - 1) / cuda::kResidualSlots);
      const int threads = std::max(32, (per_thread + 31) / 32 * 32);
      cuda::launch_dependent(cuda::rms_norm_residual_regs<T, A>, blocks, threads, 0, st, "rms_norm_residual", xp, rp,
                             wp, sp, op, rows, int(D), eps_);
    } else {
      cuda::rms_norm_residual_kernel<T, A><<<blocks, 512, 0, st>>>(xp, rp, wp, sp, op, rows, D, eps_);
    }
    ALLOY_CUDA_LAUNCH_CHECK("rms_norm_residual");
  });
}

void RMSNormGrad::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const bool has_w = inputs.size() == 3;
  const Dtype t = inputs[0].dtype();
  bool supported = t == float32 || t == float16 || t == bfloat16;
  for (auto& a : inputs) supported = supported && a.dtype() == t;
  const int64_t D = inputs[0].shape(-1);
  supported = supported && D > 0 && D <= RMSNorm::kMaxFusedGradD;
  if (!supported) return cuda::fallback_to_cpu(*this, inputs, outputs);
  const Stream& s = stream();
  array x = cuda::as_row_contiguous(inputs[0], s);
  std::optional<array> w;
  if (has_w) w = cuda::as_row_contiguous(inputs[1], s);
  array g = cuda::as_row_contiguous(inputs.back(), s);
  for (auto& o : outputs) cuda::allocate(o);
  const int64_t rows = int64_t(x.size()) / D;
  cudaStream_t st = cuda::stream_of(s);
  if (rows == 0) {
    if (has_w) cuda::check(cudaMemsetAsync(cuda::device_out_ptr(outputs[1]), 0, outputs[1].nbytes(), st), "memset");
    return;
  }
  cuda::dispatch_float(t, "rms_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, double>) {
      const T* xp = cuda::in_ptr<T>(x, s);
      const T* wp = w ? cuda::in_ptr<T>(*w, s) : nullptr;
      const T* gp = cuda::in_ptr<T>(g, s);
      T* dxp = cuda::out_ptr<T>(outputs[0]);
      T* dwp = has_w ? cuda::out_ptr<T>(outputs[1]) : nullptr;
      auto launch = [&](auto npl) {
        cuda::launch_rms_norm_grad<T, decltype(npl)::value>(xp, wp, gp, dxp, dwp, rows, int(D), eps_, s, st);
      };
      if (D <= 32) return launch(std::integral_constant<int, 1>{});
      if (D <= 64) return launch(std::integral_constant<int, 2>{});
      if (D <= 128) return launch(std::integral_constant<int, 4>{});
      if (D <= 256) return launch(std::integral_constant<int, 8>{});
      if (D <= 512) return launch(std::integral_constant<int, 16>{});
      return launch(std::integral_constant<int, 32>{});
    }
  });
}

void LayerNorm::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  for (auto& a : inputs) {
    if (a.dtype() != inputs[0].dtype()) return cuda::fallback_to_cpu(*this, inputs, outputs);
  }
  if (out.dtype() != inputs[0].dtype()) return cuda::fallback_to_cpu(*this, inputs, outputs);
  array x = cuda::as_row_contiguous(inputs[0], stream());
  size_t i = 1;
  std::optional<array> w, bias;
  if (has_weight_) w = cuda::as_row_contiguous(inputs[i++], stream());
  if (has_bias_) bias = cuda::as_row_contiguous(inputs[i], stream());
  cuda::allocate(out);
  int64_t D = x.shape(-1), rows = D ? int64_t(x.size()) / D : 0;
  if (rows == 0) return;
  cuda::dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* xp = cuda::in_ptr<T>(x, stream());
    const T* wp = w ? cuda::in_ptr<T>(*w, stream()) : nullptr;
    const T* bp = bias ? cuda::in_ptr<T>(*bias, stream()) : nullptr;
    T* op = cuda::out_ptr<T>(out);
    cudaStream_t st = cuda::stream_of(stream());
    if (cuda::norm_in_registers<T, A, true>(xp, wp, bp, op, rows, D, eps_, st)) return;
    cuda::launch_rows(rows, D, [&](auto warp, unsigned blocks) {
      cuda::layer_norm_kernel<T, A, decltype(warp)::value><<<blocks, 256, 0, st>>>(xp, wp, bp, op, rows, D, eps_);
      ALLOY_CUDA_LAUNCH_CHECK("layer_norm");
    });
  });
}

void RoPE::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  if (out.dtype() != inputs[0].dtype()) return cuda::fallback_to_cpu(*this, inputs, outputs);
  array x = cuda::as_row_contiguous(inputs[0], stream());
  cuda::allocate(out);
  int64_t D = x.shape(-1), T = x.shape(-2), half = dims_ / 2;
  int64_t n = int64_t(x.size());
  if (n == 0) return;
  cudaStream_t st = cuda::stream_of(stream());
  constexpr int threads = 256;
  float log_base = float(-2.0 * std::log(double(base_)) / dims_);
  const int32_t* offset_array = has_offset_array_ ? cuda::in_ptr<int32_t>(inputs[1], stream()) : nullptr;
  const float* freqs = has_freqs_ ? cuda::in_ptr<float>(cuda::as_row_contiguous(inputs.back(), stream()), stream())
                                  : nullptr;
  cuda::dispatch_float(x.dtype(), "rope", [&](auto tag) {
    using Ty = typename decltype(tag)::type;
    using A = std::conditional_t<std::is_same_v<Ty, double>, double, float>;
    const Ty* xp = cuda::in_ptr<Ty>(x, stream());
    Ty* op = cuda::out_ptr<Ty>(out);
    const int64_t rows = n / D;
    const unsigned blocks = cuda::grid_blocks(rows * half, threads);
    if (n <= 0x7fffffff) {
      cuda::launch_dependent(cuda::rope_kernel<Ty, A, int32_t>, blocks, threads, 0, st, "rope", xp, op, offset_,
                             offset_array, freqs, scale_, log_base, int32_t(rows), int32_t(T), int32_t(D), dims_,
                             traditional_);
    } else {
      cuda::launch_dependent(cuda::rope_kernel<Ty, A, int64_t>, blocks, threads, 0, st, "rope", xp, op, offset_,
                             offset_array, freqs, scale_, log_base, rows, T, D, int64_t(dims_), traditional_);
    }
    ALLOY_CUDA_LAUNCH_CHECK("rope");
  });
}

}  // namespace alloy
