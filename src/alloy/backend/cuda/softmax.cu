// Softmax over the last axis on the GPU. The input (made row-contiguous) is (rows, n). Rows of
// up to 16 elements per thread of a 1024-thread block (16K float32 or 16-bit, 4K float64; half
// that without 16-byte alignment) are read once into registers (16-byte loads when the rows are
// aligned): a warp per short row, else a block of 128..1024 threads;
// the row's max and then its sum of exp(x - max) are reduced across the warp/block, and the
// scaled values are written once. Longer rows take two passes: a read pass keeps an online
// (max, sum of exp(x - max)) per thread, merged across the block, and a second pass writes
// exp(x - max) / sum. Accumulation is float32 for 16-bit and float32 inputs, float64 for
// float64. Special values come out as on the CPU: a NaN or +inf in a row makes it all NaN, and
// a row that is all -inf is NaN.
#include <algorithm>
#include <limits>

#include "alloy/backend/cuda/kernel_utils.cuh"

namespace alloy {
namespace cuda {
namespace {

template <typename A>
__device__ __forceinline__ A exp_of(A x) {
  if constexpr (std::is_same_v<A, float>) return expf(x);
  else return exp(x);
}

// Running (max m, sum s of exp(x - m)); NaN never becomes the max but makes s NaN.
template <typename A>
struct MaxSum {
  A m, s;
  __device__ __forceinline__ void add(A x) {
    constexpr A neg_inf = -std::numeric_limits<A>::infinity();
    if (x > m) {
      s = s * exp_of(A(m - x)) + exp_of(A(x - x));  // exp(inf - inf) = NaN, as the CPU's sum
      m = x;
    } else if (!(x == neg_inf && m == neg_inf)) {
      s += exp_of(A(x - m));
    }
  }
  __device__ __forceinline__ void merge(A m2, A s2) {
    constexpr A neg_inf = -std::numeric_limits<A>::infinity();
    A mx = m2 > m ? m2 : m;
    if (mx == neg_inf) {
      s = s + s2;
    } else {
      s = (s == A(0) ? A(0) : s * exp_of(A(m - mx))) + (s2 == A(0) ? A(0) : s2 * exp_of(A(m2 - mx)));
    }
    m = mx;
  }
};

template <typename A>
__device__ __forceinline__ void warp_merge(MaxSum<A>& ms) {
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) {
    A m2 = __shfl_xor_sync(0xffffffffu, ms.m, k);
    A s2 = __shfl_xor_sync(0xffffffffu, ms.s, k);
    ms.merge(m2, s2);
  }
}

template <typename T, typename A>
__device__ __forceinline__ void write_row(const T* x, T* out, int64_t n, A m, A s, int first, int step) {
  if (m == -std::numeric_limits<A>::infinity()) m = A(0);  // all -inf: 0 * inf = NaN
  A inv = A(1) / s;
  for (int64_t i = first; i < n; i += step) out[i] = convert<T>(A(exp_of(A(convert<A>(x[i]) - m)) * inv));
}

// x, out (rows, n): one block per row, two passes (rows too long for registers).
template <typename T, typename A>
__global__ void softmax_block(const T* x, T* out, int64_t rows, int64_t n) {
  __shared__ A sm[32], ss[32];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * n;
    MaxSum<A> ms{-std::numeric_limits<A>::infinity(), A(0)};
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ms.add(convert<A>(xr[i]));
    warp_merge(ms);
    if (lane == 0) sm[warp] = ms.m, ss[warp] = ms.s;
    __syncthreads();
    // Every warp merges the per-warp results, so all threads hold the row's (max, sum).
    ms = {-std::numeric_limits<A>::infinity(), A(0)};
    if (lane < warps) ms = {sm[lane], ss[lane]};
    warp_merge(ms);
    write_row<T, A>(xr, out + r * n, n, ms.m, ms.s, int(threadIdx.x), int(blockDim.x));
    __syncthreads();
  }
}

// Register-resident rows. A row is V-element vectors (16 bytes, or single elements); a group
// (a warp when Warp, else the block) holds vector rank + k * size in slot k < NV.
template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

template <bool Warp>
__device__ __forceinline__ int group_rank() {
  return Warp ? int(threadIdx.x & 31) : int(threadIdx.x);
}
template <bool Warp>
__device__ __forceinline__ int group_size() {
  return Warp ? 32 : int(blockDim.x);
}

// The group's max (Max) or sum of v in every thread; smem holds 32 values and is reused only
// after a later __syncthreads.
template <bool Warp, bool Max, typename A>
__device__ __forceinline__ A group_reduce(A v, A* smem) {
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) {
    A o = __shfl_xor_sync(0xffffffffu, v, k);
    v = Max ? (o > v ? o : v) : A(v + o);
  }
  if constexpr (!Warp) {
    int warps = int(blockDim.x >> 5);
    if ((threadIdx.x & 31) == 0) smem[threadIdx.x >> 5] = v;
    __syncthreads();
    v = smem[0];
    for (int w = 1; w < warps; ++w) {
      A o = smem[w];
      v = Max ? (o > v ? o : v) : A(v + o);
    }
  }
  return v;
}

// x, out (rows, n), n <= NV * V * group size; x and out 16-byte aligned rows when V > 1.
template <typename T, typename A, int V, int NV, bool Warp>
__global__ void softmax_regs(const T* x, T* out, int64_t rows, int64_t n) {
  __shared__ A smax[32], ssum[32];
  constexpr A neg_inf = -std::numeric_limits<A>::infinity();
  const int rank = group_rank<Warp>(), size = group_size<Warp>();
  int64_t first = Warp ? int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5) : int64_t(blockIdx.x);
  int64_t count = Warp ? int64_t(gridDim.x) * (blockDim.x >> 5) : int64_t(gridDim.x);
  const int nvec = int(n / V);
  for (int64_t r = first; r < rows; r += count) {
    const Vec<T, V>* xr = reinterpret_cast<const Vec<T, V>*>(x + r * n);
    Vec<T, V> raw[NV];
#pragma unroll
    for (int k = 0; k < NV; ++k) {
      int idx = rank + k * size;
      if (idx < nvec) raw[k] = xr[idx];
    }
    A vals[NV][V];
    A m = neg_inf;
#pragma unroll
    for (int k = 0; k < NV; ++k) {
      bool ok = rank + k * size < nvec;
#pragma unroll
      for (int c = 0; c < V; ++c) {
        A v = ok ? convert<A>(raw[k].v[c]) : neg_inf;
        vals[k][c] = v;
        m = v > m ? v : m;  // NaN never becomes the max
      }
    }
    m = group_reduce<Warp, true>(m, smax);
    if (m == neg_inf) m = A(0);  // all -inf: gives NaN as on the CPU
    A s = 0;
#pragma unroll
    for (int k = 0; k < NV; ++k) {
      if (rank + k * size < nvec) {
#pragma unroll
        for (int c = 0; c < V; ++c) {
          A e = exp_of(A(vals[k][c] - m));
          vals[k][c] = e;
          s += e;
        }
      }
    }
    s = group_reduce<Warp, false>(s, ssum);
    A inv = A(1) / s;
    Vec<T, V>* orow = reinterpret_cast<Vec<T, V>*>(out + r * n);
#pragma unroll
    for (int k = 0; k < NV; ++k) {
      int idx = rank + k * size;
      if (idx < nvec) {
        Vec<T, V> o;
#pragma unroll
        for (int c = 0; c < V; ++c) o.v[c] = convert<T>(A(vals[k][c] * inv));
        orow[idx] = o;
      }
    }
  }
}

// Most slots per thread: 16 elements (8 scalars, 4 float64) keep a thread within the 64
// registers that a 1024-thread block allows (checked at launch, else the two-pass kernel).
template <typename T, int V>
constexpr int max_slots() {
  if constexpr (V == 1) return sizeof(T) == 8 ? 4 : 8;
  else return sizeof(T) == 8 ? 2 : 16 / V;
}

// Launches softmax_regs with NV slots; false (nothing launched) when the kernel cannot run
// blocks of `threads` (registers).
template <typename T, typename A, int V, int NV, bool Warp>
bool launch_slots(unsigned blocks, int threads, cudaStream_t st, const T* x, T* o, int64_t rows, int64_t n) {
  static const int max_threads = [] {
    cudaFuncAttributes attr{};
    ALLOY_CUDA_CHECK(cudaFuncGetAttributes(&attr, softmax_regs<T, A, V, NV, Warp>));
    return attr.maxThreadsPerBlock;
  }();
  if (threads > max_threads) return false;
  softmax_regs<T, A, V, NV, Warp><<<blocks, threads, 0, st>>>(x, o, rows, n);
  ALLOY_CUDA_LAUNCH_CHECK("softmax_regs");
  return true;
}

template <typename T, typename A, int V, bool Warp>
bool launch_regs(int nv, unsigned blocks, int threads, cudaStream_t st, const T* x, T* o, int64_t rows, int64_t n) {
  constexpr int M = max_slots<T, V>();
  if (nv <= 1) return launch_slots<T, A, V, 1, Warp>(blocks, threads, st, x, o, rows, n);
  if (nv <= 2 || M <= 2) return launch_slots<T, A, V, (M < 2 ? M : 2), Warp>(blocks, threads, st, x, o, rows, n);
  if (nv <= 4 || M <= 4) return launch_slots<T, A, V, (M < 4 ? M : 4), Warp>(blocks, threads, st, x, o, rows, n);
  return launch_slots<T, A, V, (M < 8 ? M : 8), Warp>(blocks, threads, st, x, o, rows, n);
}

int pow2_at_least(int64_t v) {
  int p = 1;
  while (p < v) p <<= 1;
  return p;
}

// Launches the register-resident kernel for rows of n elements; false (nothing launched) when
// the row is too long for it.
template <typename T, typename A>
bool softmax_in_registers(const T* x, T* o, int64_t rows, int64_t n, cudaStream_t st) {
  constexpr int VW = int(16 / sizeof(T));
  bool vec = n % VW == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0 && (reinterpret_cast<uintptr_t>(o) & 15) == 0;
  int64_t nvec = vec ? n / VW : n;
  int64_t slots = vec ? max_slots<T, VW>() : max_slots<T, 1>();
  int64_t cap = int64_t(device_properties().multiProcessorCount) * 512;
  if (nvec <= 32 * slots) {
    int nv = pow2_at_least((nvec + 31) / 32);
    unsigned blocks = unsigned(std::min<int64_t>((rows + 7) / 8, cap));
    return vec ? launch_regs<T, A, VW, true>(nv, blocks, 256, st, x, o, rows, n)
               : launch_regs<T, A, 1, true>(nv, blocks, 256, st, x, o, rows, n);
  }
  if (nvec > 1024 * slots) return false;
  int threads = std::clamp(pow2_at_least((nvec + slots - 1) / slots), 128, 1024);
  int nv = pow2_at_least((nvec + threads - 1) / threads);
  unsigned blocks = unsigned(std::min<int64_t>(rows, cap));
  return vec ? launch_regs<T, A, VW, false>(nv, blocks, threads, st, x, o, rows, n)
             : launch_regs<T, A, 1, false>(nv, blocks, threads, st, x, o, rows, n);
}

}  // namespace
}  // namespace cuda

void Softmax::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (out.dtype() != inputs[0].dtype()) return cuda::fallback_to_cpu(*this, inputs, out);
  array in = cuda::as_row_contiguous(inputs[0], stream());
  int64_t n = in.ndim() ? in.shape(-1) : 1;
  int64_t rows = n ? int64_t(in.size()) / n : 0;
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* x = rows ? cuda::in_ptr<T>(in, stream()) : nullptr;  // before a donation moves the buffer
    if (in.is_donatable(Device::gpu)) out.move_shared_buffer(in);
    else cuda::allocate(out);
    if (rows == 0) return;
    T* o = cuda::out_ptr<T>(out);
    cudaStream_t st = cuda::stream_of(stream());
    if (cuda::softmax_in_registers<T, A>(x, o, rows, n, st)) return;
    constexpr int threads = 256;
    int64_t cap = int64_t(cuda::device_properties().multiProcessorCount) * 32;
    int64_t blocks = std::min<int64_t>(rows, cap);
    cuda::softmax_block<T, A><<<unsigned(blocks), threads, 0, st>>>(x, o, rows, n);
    ALLOY_CUDA_LAUNCH_CHECK("softmax_block");
  };
  switch (in.dtype()) {
    case Dtype::float16: return run(cuda::Tag<__half>{});
    case Dtype::bfloat16: return run(cuda::Tag<__nv_bfloat16>{});
    case Dtype::float32: return run(cuda::Tag<float>{});
    case Dtype::float64: return run(cuda::Tag<double>{});
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      throw std::invalid_argument(std::string("[softmax] needs a floating-point input, got ") + dtype_name(in.dtype()));
  }
}

}  // namespace alloy
