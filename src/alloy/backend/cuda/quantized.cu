// GPU evaluation of the quantized ops on ggml's block layouts (quant_formats.h), read as they
// lie in the file. Blocks of 18, 34 and 210 bytes are only 2-byte aligned: those are read with
// 16-bit loads, or (the one-row kernel) copied to shared memory as the 16-byte chunks of a row
// slab that hold them; the 144- and 176-byte K-type blocks are 16-byte aligned and read with
// 128-bit loads. Weights whose buffer is less aligned are copied first. The per-thread block
// code is in quant_blocks.h, shared with the host so that tests check it without a GPU.
//
// dequantize: a thread per 4 consecutive outputs, with the CPU codec's float operations one by
//   one (__fmul_rn/__fsub_rn, so nothing is contracted to an FMA): the floats equal the CPU's.
// quantized_matmul, M = 1, Q4_0/Q8_0 (decode): matvec_streamed_kernel, below.
// quantized_matmul, other M <= 8 rows: the activations are quantized once per call exactly as the
//   CPU does (Q8_0 blocks for Q4_0/Q8_0 weights, Q8_K super-blocks for the K types), then a
//   warp per weight row streams it once: __dp4a integer dot products, each block's float term
//   as the CPU's scalar kernel (K types: per lane's share of the super-block), float sums.
// quantized_matmul, M > 8: W dequantized to x's dtype in a temporary, then cuda::gemm.
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "alloy/backend/common/swiglu.h"
#include "alloy/backend/cuda/async_copy.cuh"
#include "alloy/backend/cuda/dependent_launch.cuh"
#include "alloy/backend/cuda/kernel_utils.cuh"
#include "alloy/backend/cuda/quant_blocks.h"
#include "alloy/core/quantized_primitives.h"

namespace alloy {
namespace cuda {
namespace {

using quant::Type;
using namespace qblocks;

bool has_gpu_kernel(Type t) {
  switch (t) {
    case Type::Q4_0: case Type::Q8_0: case Type::Q4_K: case Type::Q5_K: case Type::Q6_K: return true;
    case Type::Q4_1: case Type::Q5_0: case Type::Q5_1: case Type::Q8_1: case Type::Q2_K: case Type::Q3_K:
    case Type::Q8_K: case Type::IQ4_NL: case Type::IQ4_XS: return false;
  }
  return false;
}

bool float_out(Dtype d) {
  switch (d) {
    case Dtype::float32: case Dtype::float16: case Dtype::bfloat16: return true;
    case Dtype::float64: case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32:
    case Dtype::uint64: case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64: return false;
  }
  return false;
}

// --- dequantize ---

template <typename T>
struct alignas(4 * sizeof(T)) Four {
  T v[4];
};

// w (rows, row_bytes) -> out (rows, K), K a multiple of the block size; n4 = rows * K / 4.
template <Type t, typename T>
__global__ void dequantize_kernel(const uint8_t* __restrict__ w, int64_t row_bytes, int64_t K, int64_t n4,
                                  T* __restrict__ out) {
  using B = Block<t>;
  ALLOY_GRID_STRIDE(i, n4) {
    const int64_t e = 4 * i, r = e / K, k = e % K;
    float y[4];
    dequant4<t>(w + r * row_bytes + (k / B::size) * B::bytes, int(k % B::size), y);
    Four<T> o;
#pragma unroll
    for (int c = 0; c < 4; ++c) o.v[c] = convert<T>(y[c]);
    reinterpret_cast<Four<T>*>(out)[i] = o;
  }
}

template <typename T>
void launch_dequantize(Type t, const uint8_t* w, int64_t rows, int64_t row_bytes, int64_t K, T* out,
                       cudaStream_t st) {
  const int64_t n4 = rows * K / 4;
  if (n4 == 0) return;
  constexpr int threads = 256;
  const unsigned blocks = grid_blocks(n4, threads);
  switch (t) {
    case Type::Q4_0: dequantize_kernel<Type::Q4_0, T><<<blocks, threads, 0, st>>>(w, row_bytes, K, n4, out); break;
    case Type::Q8_0: dequantize_kernel<Type::Q8_0, T><<<blocks, threads, 0, st>>>(w, row_bytes, K, n4, out); break;
    case Type::Q4_K: dequantize_kernel<Type::Q4_K, T><<<blocks, threads, 0, st>>>(w, row_bytes, K, n4, out); break;
    case Type::Q5_K: dequantize_kernel<Type::Q5_K, T><<<blocks, threads, 0, st>>>(w, row_bytes, K, n4, out); break;
    case Type::Q6_K: dequantize_kernel<Type::Q6_K, T><<<blocks, threads, 0, st>>>(w, row_bytes, K, n4, out); break;
    case Type::Q4_1: case Type::Q5_0: case Type::Q5_1: case Type::Q8_1: case Type::Q2_K: case Type::Q3_K:
    case Type::Q8_K: case Type::IQ4_NL: case Type::IQ4_XS:
      throw std::logic_error(std::string("[dequantize] no GPU kernel for ") + quant::name(t));
  }
  ALLOY_CUDA_LAUNCH_CHECK("dequantize");
}

// Device rows of `out_dtype` from the weights, through the dtype's CUDA type.
void dequantize_into(Type t, const uint8_t* w, int64_t rows, int64_t row_bytes, int64_t K, Dtype out_dtype,
                     void* out, cudaStream_t st) {
  switch (out_dtype) {
    case Dtype::float32: return launch_dequantize(t, w, rows, row_bytes, K, static_cast<float*>(out), st);
    case Dtype::float16: return launch_dequantize(t, w, rows, row_bytes, K, static_cast<__half*>(out), st);
    case Dtype::bfloat16:
      return launch_dequantize(t, w, rows, row_bytes, K, static_cast<__nv_bfloat16*>(out), st);
    case Dtype::float64: case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32:
    case Dtype::uint64: case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      throw std::logic_error("[dequantize] no GPU kernel for this output dtype");
  }
}

// --- activations quantized as the CPU's quantize_activations does ---

// The activations' buffers being written (Act's, writable).
struct ActOut {
  int8_t* q;
  float* d;
  int* s;
};

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, k));
  return v;
}

// Q8_0 (quantize_q8_0_row): a warp per 32-element block; x (M, K) row-contiguous.
template <typename T>
__global__ void quantize_q8_0_kernel(const T* __restrict__ x, int64_t nblocks, ActOut a) {
  const int64_t b = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (b >= nblocks) return;
  const int lane = threadIdx.x & 31;
  const float v = convert<float>(x[b * 32 + lane]);
  const float amax = warp_max(fabsf(v));
  const float db = __fdiv_rn(amax, 127.f);
  const float id = db != 0.f ? __fdiv_rn(1.f, db) : 0.f;
  a.q[b * 32 + lane] = int8_t(__float2int_rn(__fmul_rn(v, id)));
  if (lane == 0) a.d[b] = __half2float(__float2half_rn(db));
}

// Q8_K (quantize_q8_k_row): a warp per 256-element super-block, 8 consecutive elements a lane.
template <typename T>
__global__ void quantize_q8_k_kernel(const T* __restrict__ x, int64_t nblocks, ActOut a) {
  const int64_t b = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (b >= nblocks) return;
  const int lane = threadIdx.x & 31;
  const T* xb = x + b * 256 + 8 * lane;
  float v[8];
  float amax = 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    v[i] = convert<float>(xb[i]);
    amax = fmaxf(amax, fabsf(v[i]));
  }
  amax = warp_max(amax);
  // The first element of largest magnitude gives the sign of the scale.
  int first = 256;
#pragma unroll
  for (int i = 7; i >= 0; --i)
    if (fabsf(v[i]) == amax) first = 8 * lane + i;
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) first = min(first, __shfl_xor_sync(0xffffffffu, first, k));
  const float max = first < 256 ? convert<float>(x[b * 256 + first]) : 0.f;
  const float iscale = amax != 0.f ? __fdiv_rn(-127.f, max) : 0.f;
  int sum = 0;
  char4 lo, hi;
  int q[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    q[i] = min(127, __float2int_rn(__fmul_rn(iscale, v[i])));
    sum += q[i];
  }
  lo = make_char4(char(q[0]), char(q[1]), char(q[2]), char(q[3]));
  hi = make_char4(char(q[4]), char(q[5]), char(q[6]), char(q[7]));
  char4* dst = reinterpret_cast<char4*>(a.q + b * 256 + 8 * lane);
  dst[0] = lo;
  dst[1] = hi;
  // Four lanes make one 32-element sub-block.
  sum += __shfl_xor_sync(0xffffffffu, sum, 1);
  sum += __shfl_xor_sync(0xffffffffu, sum, 2);
  if ((lane & 3) == 0) a.s[b * 8 + lane / 4] = sum;
  if (lane == 0) a.d[b] = amax != 0.f ? __fdiv_rn(1.f, iscale) : 0.f;
}

// quantize() to Q8_0 blocks (34 bytes: f16 scale, 32 int8), a warp per block, with the CPU
// quantizer's operations: d = amax / 127, q = round(x * (1 / d)) with halves away from zero.
__global__ void quantize_blocks_q8_0(const float* __restrict__ x, uint8_t* __restrict__ out, int64_t nblocks) {
  const int64_t b = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  if (b >= nblocks) return;
  const int lane = threadIdx.x & 31;
  const float v = x[b * 32 + lane];
  const float amax = warp_max(fabsf(v));
  const float d = __fdiv_rn(amax, 127.f);
  const float id = d != 0.f ? __fdiv_rn(1.f, d) : 0.f;
  uint8_t* blk = out + b * 34;
  blk[2 + lane] = uint8_t(int8_t(roundf(__fmul_rn(v, id))));
  if (lane == 0) *reinterpret_cast<__half*>(blk) = __float2half_rn(d);  // 34 b: 2-byte aligned
}

// --- matrix-vector kernels: a warp per weight row, M <= 8 activation rows ---

constexpr int kRowsPerBlock = 4;  // warps (weight rows) per 128-thread block

// out (M, N) = x (M, K) @ W^T with W (N, row_bytes) and x quantized into a.
template <Type t, typename T>
__global__ void __launch_bounds__(32 * kRowsPerBlock) matvec_kernel(const uint8_t* __restrict__ w, int64_t row_bytes,
                                                                    Act a, int M, int64_t K, int64_t N,
                                                                    T* __restrict__ out) {
  const int64_t n = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  if (n >= N) return;
  const int lane = threadIdx.x & 31;
  float acc[kMaxMatvecRows];
#pragma unroll
  for (int m = 0; m < kMaxMatvecRows; ++m) acc[m] = 0.f;
  matvec_lane<t>(w + n * row_bytes, a, M, K, lane, acc);
#pragma unroll
  for (int m = 0; m < kMaxMatvecRows; ++m) {
    if (m < M) {
      float v = acc[m];
#pragma unroll
      for (int k = 16; k > 0; k >>= 1) v += __shfl_xor_sync(0xffffffffu, v, k);
      if (lane == 0) out[m * N + n] = convert<T>(v);
    }
  }
}

// --- the streamed one-row kernel (M = 1, Q4_0 and Q8_0: decode) ---
//
// Decode reads every weight once a token, so this kernel is as fast as the bytes it keeps in
// flight. Each warp owns weight rows (warp g of the grid takes rows g, g + warps, ...) and
// streams them, a slab of up to slab_blocks blocks of one row at a time, through its own ring
// of kStages shared-memory slabs filled by cp.async: kStages - 1 slabs are on their way while
// it works on one, ~110 KiB a multiprocessor at two CTAs each (the register-loading kernel
// before it kept one load a thread in flight). Lane l takes the block pairs l, l + 32, ... of
// a slab (add_pair_terms: 9 or 17 conflict-free words each). Each CTA first quantizes the
// activations into shared memory, while its first slabs load, as quantize_q8_0_kernel's values
// laid out for the pairs (quantize_pair_activations). CTAs are persistent.
//
// Rows must be whole 16-byte chunks (K a multiple of 256) in a 16-byte aligned W; other
// shapes take the warp-per-row matvec_kernel.
template <Type t>
struct Streamed {
  static constexpr int slab_blocks = t == Type::Q4_0 ? 128 : 64;  // 2304 or 2176 bytes
  static constexpr int slab_bytes = slab_blocks * Block<t>::bytes;
};
constexpr int kStreamWarps = 8;
constexpr int kStages = 4;

// The activations in shared memory for nb blocks (np = nb / 2 pairs): four planes of np
// 16-byte entries (plane 2p + h holds elements 16h..16h+15 of block 2m + p at entry m), then np
// (scales, sums) entries, so that lane m's loads of pair m are consecutive across the warp.
struct PairMeta {
  float d[2];
  int sum8[2];
};

// x (K = 32 nb) quantized as quantize_q8_0_kernel does into that layout: 8 values a thread
// (4 threads make a block), every thread of the CTA taking part.
template <typename T>
__device__ __forceinline__ void quantize_pair_activations(const T* __restrict__ x, int nb, uint8_t* smem) {
  constexpr int kBatch = 2;  // units whose loads are issued together
  const int units = 4 * nb, np = nb / 2, stride = int(blockDim.x), lane = int(threadIdx.x) & 31;
  auto* meta = reinterpret_cast<PairMeta*>(smem + size_t(nb) * 32);
  for (int u0 = int(threadIdx.x); u0 - lane < units; u0 += kBatch * stride) {
    float v[kBatch][8];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int u = u0 + b * stride;
#pragma unroll
      for (int i = 0; i < 8; ++i) v[b][i] = u < units ? convert<float>(x[8 * int64_t(u) + i]) : 0.f;
    }
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
      const int u = u0 + b * stride;
      float amax = 0.f;
#pragma unroll
      for (int i = 0; i < 8; ++i) amax = fmaxf(amax, fabsf(v[b][i]));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 1));
      amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, 2));
      const float db = __fdiv_rn(amax, 127.f);
      const float id = db != 0.f ? __fdiv_rn(1.f, db) : 0.f;
      uint32_t packed[2] = {0, 0};
      int sum = 0;
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const int q = __float2int_rn(__fmul_rn(v[b][i], id));
        sum += q;
        packed[i / 4] |= (uint32_t(q) & 0xFFu) << (8 * (i % 4));
      }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      if (u >= units) continue;
      const int c = u >> 2, j = u & 3;  // block, quarter
      const int m = c >> 1, p = c & 1;  // pair, which of it
      *reinterpret_cast<uint2*>(smem + size_t(2 * p + (j >> 1)) * np * 16 + m * 16 + 8 * (j & 1)) =
          make_uint2(packed[0], packed[1]);
      if (j == 0) {
        meta[m].d[p] = __half2float(__float2half_rn(db));
        meta[m].sum8[p] = 8 * sum;
      }
    }
  }
}

// out[n] = x . W[n] for n < N. With Swiglu, W has 2N rows (gate rows, then up rows) and each
// output n takes rows n and N + n in turn: out[n] = swiglu(x . W[n], x . W[N + n]), each
// product rounded to T first, as quantized_matmul followed by fast::swiglu gives it.
template <Type t, typename T, bool Swiglu>
__global__ void __launch_bounds__(32 * kStreamWarps) matvec_streamed_kernel(const uint8_t* __restrict__ w,
                                                                           int64_t row_bytes,
                                                                           const T* __restrict__ x, int nb,
                                                                           int64_t N, T* __restrict__ out,
                                                                           bool weights_ready) {
  using S = Streamed<t>;
  using P = Paired<t>;
  extern __shared__ uint4 streamed_smem[];
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
  uint8_t* const ring = reinterpret_cast<uint8_t*>(streamed_smem) + warp * (kStages * S::slab_bytes);
  uint8_t* const acts = reinterpret_cast<uint8_t*>(streamed_smem) + kStreamWarps * kStages * S::slab_bytes;
  const int slabs = (nb + S::slab_blocks - 1) / S::slab_blocks;
  const int64_t warps = int64_t(gridDim.x) * kStreamWarps;
  // The tiles (row n, slab s) of this warp in order (with Swiglu: row n's, then row N + n's); the
  // fetch runs kStages - 1 tiles ahead.
  int64_t fetch_row = int64_t(blockIdx.x) * kStreamWarps + warp;
  int fetch_slab = 0, fetch_stage = 0;
  bool fetch_up = false;
  auto fetch = [&] {
    if (fetch_row < N) {
      const int chunks = min(S::slab_blocks, nb - fetch_slab * S::slab_blocks) * Block<t>::bytes / 16;
      const int64_t w_row = Swiglu && fetch_up ? fetch_row + N : fetch_row;
      const uint8_t* src = w + w_row * row_bytes + int64_t(fetch_slab) * S::slab_bytes;
      uint8_t* dst = ring + fetch_stage * S::slab_bytes;
      for (int c = lane; c < chunks; c += 32) cp_async16(dst + 16 * c, src + 16 * c);
      if (++fetch_slab == slabs) {
        fetch_slab = 0;
        if (Swiglu && !fetch_up) {
          fetch_up = true;
        } else {
          fetch_up = false;
          fetch_row += warps;
        }
      }
      fetch_stage = fetch_stage + 1 == kStages ? 0 : fetch_stage + 1;
    }
    cp_async_commit();  // empty past the end: every step commits one group, as the wait assumes
  };
  // Weights that were complete when this kernel was launched (weights_ready: loaded, or made by
  // an earlier eval) have their first slabs load before the previous kernel is done; others may
  // be what that kernel writes (a dependent launch may start before it ends), so wait first.
  if (!weights_ready) wait_for_prerequisites();
#pragma unroll
  for (int i = 0; i < kStages - 1; ++i) fetch();
  wait_for_prerequisites();
  allow_dependents();
  quantize_pair_activations(x, nb, acts);
  __syncthreads();
  const int np = nb / 2;
  const uint4* planes = reinterpret_cast<const uint4*>(acts);
  const auto* meta = reinterpret_cast<const PairMeta*>(acts + size_t(nb) * 32);
  float acc = 0.f, gate = 0.f;
  bool up = false;
  int slab = 0, stage = 0;
  for (int64_t row = int64_t(blockIdx.x) * kStreamWarps + warp; row < N;) {
    fetch();  // into the stage read in the previous step
    cp_async_wait<kStages - 1>();
    __syncwarp();  // every lane's chunks of this tile have landed
    const int pairs = min(S::slab_blocks, nb - slab * S::slab_blocks) / 2;
    const auto* words = reinterpret_cast<const uint32_t*>(ring + stage * S::slab_bytes);
#pragma unroll
    for (int j = 0; j < S::slab_blocks / 64; ++j) {
      const int m = lane + 32 * j;
      if (m < pairs) {
        uint32_t wv[P::words];
#pragma unroll
        for (int i = 0; i < P::words; ++i) wv[i] = words[P::words * m + i];
        const int mg = slab * (S::slab_blocks / 2) + m;
        PairActivations a;
#pragma unroll
        for (int h = 0; h < 4; ++h) {
          const uint4 v = planes[h * np + mg];
          a.x[h] = U4{v.x, v.y, v.z, v.w};
        }
        const PairMeta pm = meta[mg];
        a.d[0] = pm.d[0];
        a.d[1] = pm.d[1];
        a.sum8[0] = pm.sum8[0];
        a.sum8[1] = pm.sum8[1];
        add_pair_terms<t>(wv, a, acc);
      }
    }
    __syncwarp();  // the stage is read: the next step's fetch may overwrite it
    stage = stage + 1 == kStages ? 0 : stage + 1;
    if (++slab == slabs) {
#pragma unroll
      for (int k = 16; k > 0; k >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, k);
      slab = 0;
      if constexpr (Swiglu) {
        if (!up) {  // the gate's product: the up row's follows
          gate = acc;
          acc = 0.f;
          up = true;
          continue;
        }
        up = false;
        using A = compute_t<T>;
        if (lane == 0) out[row] = convert<T>(ew::swiglu(convert<A>(convert<T>(gate)), convert<A>(convert<T>(acc))));
      } else {
        if (lane == 0) out[row] = convert<T>(acc);
      }
      acc = 0.f;
      row += warps;
    }
  }
}

template <Type t>
size_t streamed_smem_bytes(int64_t K) {
  return size_t(kStreamWarps) * kStages * Streamed<t>::slab_bytes + size_t(K) + size_t(K / 64) * 16;
}

// Whether every kernel that wrote `w` has completed (its status turns available only then): the
// one-row kernel may read it before the kernel launched just before it ends.
bool weights_complete(const array& w) { return w.status() == array::Status::available; }

// Whether the streamed kernel takes x (1, K) @ W^T for W at w.
bool use_streamed_kernel(Type t, int64_t M, int64_t K, const uint8_t* w) {
  if (M != 1 || K % 256 != 0 || reinterpret_cast<uintptr_t>(w) % 16 != 0 || device_properties().major < 8)
    return false;
  const size_t limit = device_properties().sharedMemPerBlockOptin;
  if (t == Type::Q4_0) return streamed_smem_bytes<Type::Q4_0>(K) <= limit;
  if (t == Type::Q8_0) return streamed_smem_bytes<Type::Q8_0>(K) <= limit;
  return false;
}

// N outputs (with Swiglu, from 2N weight rows).
template <Type t, typename T, bool Swiglu = false>
void launch_streamed(const uint8_t* w, int64_t row_bytes, const T* x, int64_t K, int64_t N, T* out,
                     bool weights_ready, const Stream& s) {
  auto kernel = matvec_streamed_kernel<t, T, Swiglu>;
  static const bool opted_in = [&] {
    check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               int(device_properties().sharedMemPerBlockOptin)),
          "quantized_matmul shared memory");
    return true;
  }();
  (void)opted_in;
  const size_t smem = streamed_smem_bytes<t>(K);
  int per_sm = 0;
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, 32 * kStreamWarps, smem), "occupancy");
  const int64_t resident = int64_t(std::max(per_sm, 1)) * device_properties().multiProcessorCount;
  const int64_t grid = std::min((N + kStreamWarps - 1) / kStreamWarps, resident);
  launch_dependent(kernel, unsigned(grid), 32 * kStreamWarps, smem, stream_of(s), "quantized_matmul (one row)", w,
                   row_bytes, x, int(K / 32), N, out, weights_ready);
}

size_t align16(size_t n) { return (n + 15) / 16 * 16; }

// x (M, K) row-contiguous of CUDA type T (M <= 8) -> out (M, N) of T.
template <typename T>
void quantized_matvec(Type t, const T* x, int64_t M, int64_t K, const uint8_t* w, int64_t row_bytes, int64_t N,
                      T* out, bool weights_ready, const Stream& s) {
  if (use_streamed_kernel(t, M, K, w)) {
    if (t == Type::Q4_0) return launch_streamed<Type::Q4_0, T>(w, row_bytes, x, K, N, out, weights_ready, s);
    return launch_streamed<Type::Q8_0, T>(w, row_bytes, x, K, N, out, weights_ready, s);
  }
  cudaStream_t st = stream_of(s);
  const bool k_type = t != Type::Q4_0 && t != Type::Q8_0;
  const int64_t bs = k_type ? 256 : 32, nblocks = M * K / bs;
  const size_t q_bytes = align16(size_t(M * K)), d_bytes = align16(size_t(nblocks) * 4);
  auto* base = static_cast<uint8_t*>(scratch(s, q_bytes + d_bytes + size_t(M * K / 32) * 4));
  ActOut ao{reinterpret_cast<int8_t*>(base), reinterpret_cast<float*>(base + q_bytes),
            reinterpret_cast<int*>(base + q_bytes + d_bytes)};
  const Act a{ao.q, ao.d, ao.s};
  constexpr int qthreads = 256;  // a warp per activation block
  const unsigned qblocks = unsigned((nblocks + qthreads / 32 - 1) / (qthreads / 32));
  if (k_type) quantize_q8_k_kernel<T><<<qblocks, qthreads, 0, st>>>(x, nblocks, ao);
  else quantize_q8_0_kernel<T><<<qblocks, qthreads, 0, st>>>(x, nblocks, ao);
  ALLOY_CUDA_LAUNCH_CHECK("quantized_matmul activations");

  const int64_t grid = (N + kRowsPerBlock - 1) / kRowsPerBlock;
  if (grid > int64_t(0x7fffffff)) throw std::invalid_argument("[quantized_matmul] too many output features");
  const unsigned blocks = unsigned(grid);
  constexpr int threads = 32 * kRowsPerBlock;
  const int m = int(M);
  switch (t) {
    case Type::Q4_0: matvec_kernel<Type::Q4_0, T><<<blocks, threads, 0, st>>>(w, row_bytes, a, m, K, N, out); break;
    case Type::Q8_0: matvec_kernel<Type::Q8_0, T><<<blocks, threads, 0, st>>>(w, row_bytes, a, m, K, N, out); break;
    case Type::Q4_K: matvec_kernel<Type::Q4_K, T><<<blocks, threads, 0, st>>>(w, row_bytes, a, m, K, N, out); break;
    case Type::Q5_K: matvec_kernel<Type::Q5_K, T><<<blocks, threads, 0, st>>>(w, row_bytes, a, m, K, N, out); break;
    case Type::Q6_K: matvec_kernel<Type::Q6_K, T><<<blocks, threads, 0, st>>>(w, row_bytes, a, m, K, N, out); break;
    case Type::Q4_1: case Type::Q5_0: case Type::Q5_1: case Type::Q8_1: case Type::Q2_K: case Type::Q3_K:
    case Type::Q8_K: case Type::IQ4_NL: case Type::IQ4_XS:
      throw std::logic_error(std::string("[quantized_matmul] no GPU kernel for ") + quant::name(t));
  }
  ALLOY_CUDA_LAUNCH_CHECK("quantized_matmul matvec");
}

// Device pointer to w's blocks, 16-byte aligned (a copy when w's buffer is not).
const uint8_t* aligned_blocks(const array& w, const Stream& s) {
  const auto* p = in_ptr<uint8_t>(w, s);
  if (reinterpret_cast<uintptr_t>(p) % 16 == 0) return p;
  void* d = scratch(s, w.nbytes());
  if (reinterpret_cast<uintptr_t>(d) % 16 != 0) throw std::logic_error("[quantized] scratch is not 16-byte aligned");
  ALLOY_CUDA_CHECK(cudaMemcpyAsync(d, p, w.nbytes(), cudaMemcpyDeviceToDevice, stream_of(s)));
  return static_cast<const uint8_t*>(d);
}

// A view of base's buffer with the given shape and strides from element `offset`.
array strided_view(const array& base, const Shape& shape, const Strides& strides, int64_t offset, Flags flags) {
  array v(shape, base.dtype(), nullptr, {});
  v.copy_shared_buffer(base, strides, flags, base.data_size(), offset);
  v.set_status(array::Status::available);
  return v;
}

}  // namespace
}  // namespace cuda

namespace cuda {
namespace {

// x (M..., K) @ W^T for W (N, row_bytes) into out (M..., N), allocated here: the one-row kernels
// for M <= kMaxMatvecRows, else W dequantized to x's dtype and a cuBLASLt GEMM.
void quantized_matmul_into(Type type, const array& x_in, const array& w_in, array& out, const Stream& s) {
  array x = as_row_contiguous(x_in, s);  // (M, K)
  array w = as_row_contiguous(w_in, s);  // (N, row_bytes)
  const int64_t K = x.shape(-1), N = w.shape(0), row_bytes = w.shape(1);
  const int64_t M = K == 0 ? 0 : int64_t(x.size()) / K;
  if (M == 0 || N == 0) {
    allocate(out);
    return;
  }
  const uint8_t* wp = aligned_blocks(w, s);
  if (M <= kMaxMatvecRows) {
    const bool ready = weights_complete(w_in);
    const void* xp = device_ptr(x, s);
    allocate(out);
    void* op = device_out_ptr(out);
    switch (out.dtype()) {
      case Dtype::float32:
        return quantized_matvec(type, static_cast<const float*>(xp), M, K, wp, row_bytes, N, static_cast<float*>(op),
                                ready, s);
      case Dtype::float16:
        return quantized_matvec(type, static_cast<const __half*>(xp), M, K, wp, row_bytes, N, static_cast<__half*>(op),
                                ready, s);
      case Dtype::bfloat16:
        return quantized_matvec(type, static_cast<const __nv_bfloat16*>(xp), M, K, wp, row_bytes, N,
                                static_cast<__nv_bfloat16*>(op), ready, s);
      case Dtype::float64: case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32:
      case Dtype::uint64: case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
        throw std::logic_error("[quantized_matmul] no GPU kernel for this dtype");
    }
    return;
  }
  // Prompt-sized M: W (N, K) dequantized to x's dtype, then (M, K) @ W^T on cuBLASLt.
  array wd({N, K}, out.dtype(), nullptr, {});
  allocate(wd);
  dequantize_into(type, wp, N, row_bytes, K, out.dtype(), device_out_ptr(wd), stream_of(s));
  wd.set_status(array::Status::available);
  array wt = strided_view(wd, {K, N}, {1, K}, 0, Flags{true, false, true});
  array x2 = strided_view(x, {M, K}, {K, 1}, x.offset(), Flags{true, true, false});
  allocate(out);
  array o2 = strided_view(out, {M, N}, {N, 1}, 0, Flags{true, true, false});
  gemm(s, x2, wt, o2, 1.0f, 0.0f);
  keep_until_complete(s, wd);  // read by the GEMM just enqueued
}

// out (M, F) = swiglu(gate_up[:, :F], gate_up[:, F:]) for gate_up (M, 2F), in T's compute type.
template <typename T>
__global__ void swiglu_halves_kernel(const T* __restrict__ gate_up, T* __restrict__ out, int64_t M, int64_t F) {
  using A = compute_t<T>;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < M * F; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t m = i / F, f = i - m * F;
    out[i] = convert<T>(ew::swiglu(convert<A>(gate_up[m * 2 * F + f]), convert<A>(gate_up[m * 2 * F + F + f])));
  }
}

// fn(T{}) for the CUDA type of a float dtype the kernels take (float32, float16, bfloat16).
template <typename Fn>
void dispatch_kernel_float(Dtype d, Fn&& fn) {
  if (d == Dtype::float32) return fn(float{});
  if (d == Dtype::float16) return fn(__half{});
  if (d == Dtype::bfloat16) return fn(__nv_bfloat16{});
  throw std::logic_error("[quantized_matmul] no GPU kernel for this dtype");
}

// Whether the GPU computes x @ W^T of `type` into out (else the op falls back to the CPU).
bool has_matmul_kernel_for(Type type, const array& x, const array& out) {
  return has_gpu_kernel(type) && float_out(out.dtype()) && x.dtype() == out.dtype();
}

}  // namespace
}  // namespace cuda

void QuantizedMatmul::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cuda::has_matmul_kernel_for(type(), inputs[0], out)) return cuda::fallback_to_cpu(*this, inputs, out);
  cuda::quantized_matmul_into(type(), inputs[0], inputs[1], out, stream());
}

void QuantizedMatmulSwiGLU::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  if (!cuda::has_matmul_kernel_for(type(), inputs[0], out)) return cuda::fallback_to_cpu(*this, inputs, outputs);
  const Stream& s = stream();
  const int64_t K = inputs[0].shape(-1), F = out.shape(-1);
  const int64_t M = K == 0 ? 0 : int64_t(inputs[0].size()) / K;
  if (M == 0 || F == 0) {
    cuda::allocate(out);
    return;
  }
  array w = cuda::as_row_contiguous(inputs[1], s);
  const uint8_t* wp = M == 1 ? cuda::aligned_blocks(w, s) : nullptr;
  if (M == 1 && cuda::use_streamed_kernel(type(), 1, K, wp)) {
    // The decode step's MLP input: one kernel, the products never leave the registers.
    array x = cuda::as_row_contiguous(inputs[0], s);
    cuda::allocate(out);
    cuda::dispatch_kernel_float(out.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* xp = static_cast<const T*>(cuda::device_ptr(x, s));
      T* op = static_cast<T*>(cuda::device_out_ptr(out));
      const bool ready = cuda::weights_complete(inputs[1]);
      if (type() == quant::Type::Q4_0) {
        cuda::launch_streamed<quant::Type::Q4_0, T, true>(wp, w.shape(1), xp, K, F, op, ready, s);
      } else {
        cuda::launch_streamed<quant::Type::Q8_0, T, true>(wp, w.shape(1), xp, K, F, op, ready, s);
      }
    });
    return;
  }
  array gate_up({M, 2 * F}, out.dtype(), nullptr, {});
  cuda::quantized_matmul_into(type(), inputs[0], w, gate_up, s);
  cuda::allocate(out);
  cuda::dispatch_kernel_float(out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    constexpr int threads = 256;
    cuda::swiglu_halves_kernel<T><<<cuda::grid_blocks(M * F, threads), threads, 0, cuda::stream_of(s)>>>(
        static_cast<const T*>(cuda::device_out_ptr(gate_up)), static_cast<T*>(cuda::device_out_ptr(out)), M, F);
    ALLOY_CUDA_LAUNCH_CHECK("quantized_matmul_swiglu");
  });
  cuda::keep_until_complete(s, gate_up);
}

void Quantize::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (type() != quant::Type::Q8_0) return cuda::fallback_to_cpu(*this, inputs, out);
  const Stream& s = stream();
  array x = cuda::as_row_contiguous(inputs[0], s);  // float32
  cuda::allocate(out);
  const int64_t nblocks = int64_t(x.size()) / 32;
  if (nblocks == 0) return;
  constexpr int threads = 256;  // 8 blocks a CTA
  cuda::quantize_blocks_q8_0<<<unsigned((nblocks + 7) / 8), threads, 0, cuda::stream_of(s)>>>(
      cuda::in_ptr<float>(x, s), static_cast<uint8_t*>(cuda::device_out_ptr(out)), nblocks);
  ALLOY_CUDA_LAUNCH_CHECK("quantize");
}

void Dequantize::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cuda::has_gpu_kernel(type()) || !cuda::float_out(out.dtype())) return cuda::fallback_to_cpu(*this, inputs, out);
  const Stream& s = stream();
  array w = cuda::as_row_contiguous(inputs[0], s);  // (rows, row_bytes)
  const int64_t row_bytes = w.shape(-1), K = out.shape(-1);
  const int64_t rows = row_bytes == 0 ? 0 : int64_t(w.size()) / row_bytes;
  cuda::allocate(out);
  if (rows == 0 || K == 0) return;
  cuda::dequantize_into(type(), cuda::aligned_blocks(w, s), rows, row_bytes, K, out.dtype(),
                        cuda::device_out_ptr(out), cuda::stream_of(s));
}

}  // namespace alloy
