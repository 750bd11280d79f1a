// GPU evaluation of the quantized ops on ggml's block layouts (quant_formats.h), read as they
// lie in the file. Blocks of 18, 34 and 210 bytes are only 2-byte aligned: those are read with
// 16-bit loads, or (the one-row kernel) as the 16-byte aligned chunks that hold them; the 144-
// and 176-byte K-type blocks are 16-byte aligned and read with 128-bit loads. Weights whose
// buffer is less aligned are copied first. The per-thread block code is in quant_blocks.h,
// shared with the host so that tests check it without a GPU.
//
// dequantize: a thread per 4 consecutive outputs, with the CPU codec's float operations one by
//   one (__fmul_rn/__fsub_rn, so nothing is contracted to an FMA): the floats equal the CPU's.
// quantized_matmul, M = 1, Q4_0/Q8_0 (decode): matvec_m1_kernel, below.
// quantized_matmul, other M <= 8 rows: the activations are quantized once per call exactly as the
//   CPU does (Q8_0 blocks for Q4_0/Q8_0 weights, Q8_K super-blocks for the K types), then a
//   warp per weight row streams it once: __dp4a integer dot products, each block's float term
//   as the CPU's scalar kernel (K types: per lane's share of the super-block), float sums.
// quantized_matmul, M > 8: W dequantized to x's dtype in a temporary, then cuda::gemm.
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>

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

// --- the one-row kernel (M = 1, Q4_0 and Q8_0: decode) ---
//
// Activations in two planes of 16 bytes a block (elements 0..15 and 16..31 of block c at
// plane0[c], plane1[c]: Q4_0's low and high nibbles), then the f32 scales. For rows up to
// kFusedQuantK wide, each CTA quantizes the row itself into shared memory after issuing its
// first weight loads, so the two overlap and no separate kernel runs; wider rows are quantized
// once by quantize_planes_kernel and read from global memory (a CTA's prologue would cost
// more than that kernel). CTAs are persistent (grid <= what fits on the device), so a CTA's
// prologue is paid once. Groups of TPR threads (32, 64 or 128: as many as the row has blocks)
// take R weight rows at a time; a thread reads the same block column of its R rows
// (load_block_chunks) and uses each activation block R times.
constexpr int kM1Threads = 256;
constexpr int64_t kFusedQuantK = 8192;

// Activation values [8 first, 8 (first + count)) of x quantized as quantize_q8_0_kernel does, 8
// a thread (4 threads make a block), `stride` units apart; every thread of the warps calls it.
template <typename T>
__device__ __forceinline__ void quantize_units(const T* __restrict__ x, int units, int first, int stride,
                                               uint8_t* planes, float* scales, int nb) {
  constexpr int kBatch = 2;  // units whose loads are issued together
  for (int u0 = first; u0 - int(threadIdx.x % 32) < units; u0 += kBatch * stride) {
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
      if (u >= units) continue;
      const float db = __fdiv_rn(amax, 127.f);
      const float id = db != 0.f ? __fdiv_rn(1.f, db) : 0.f;
      uint32_t packed[2] = {0, 0};
#pragma unroll
      for (int i = 0; i < 8; ++i)
        packed[i / 4] |= (uint32_t(__float2int_rn(__fmul_rn(v[b][i], id))) & 0xFFu) << (8 * (i % 4));
      const int c = u >> 2, j = u & 3;  // block, quarter
      *reinterpret_cast<uint2*>(planes + (j >> 1) * nb * 16 + c * 16 + 8 * (j & 1)) =
          make_uint2(packed[0], packed[1]);
      if (j == 0) scales[c] = __half2float(__float2half_rn(db));
    }
  }
}

// x (K = 32 nb) into planes and scales in global memory (the activations of the wide rows).
template <typename T>
__global__ void quantize_planes_kernel(const T* __restrict__ x, int nb, uint8_t* planes) {
  wait_for_prerequisites();
  allow_dependents();
  const int first = int(blockIdx.x * blockDim.x + threadIdx.x);
  quantize_units(x, 4 * nb, first, int(gridDim.x * blockDim.x), planes,
                 reinterpret_cast<float*>(planes + int64_t(nb) * 32), nb);
}

template <Type t, typename T, int TPR, int R, bool Fused>
__global__ void __launch_bounds__(kM1Threads, t == Type::Q4_0 ? 3 : 4) matvec_m1_kernel(const uint8_t* __restrict__ w, int64_t row_bytes,
                                                               const T* __restrict__ x,
                                                               const uint8_t* __restrict__ quantized, int nb,
                                                               int64_t N, T* __restrict__ out) {
  extern __shared__ uint4 m1_smem[];
  __shared__ float partial[kM1Threads / 32][R];
  using B = Block<t>;
  using C = Chunked<t>;
  constexpr int groups = kM1Threads / TPR;
  const int group = int(threadIdx.x) / TPR, col0 = int(threadIdx.x) % TPR;
  const int lane = int(threadIdx.x) & 31, warp = int(threadIdx.x) >> 5;
  const int64_t row_blocks = (N + groups * R - 1) / (groups * R);
  uint32_t c[R][C::words];
  int offset[R];
  const uint8_t* rows[R];
  auto set_rows = [&](int64_t rb) {
    const int64_t row0 = (rb * groups + group) * R;
#pragma unroll
    for (int r = 0; r < R; ++r) rows[r] = w + min(row0 + r, N - 1) * row_bytes;
  };
  auto load = [&](int col) {
#pragma unroll
    for (int r = 0; r < R; ++r) load_block_chunks<t>(rows[r] + int64_t(col) * B::bytes, c[r], offset[r]);
  };
  set_rows(blockIdx.x);
  if (col0 < nb) load(col0);  // in flight while the activations are quantized
  // The weights are constant: their first loads go out before the previous kernel is done.
  wait_for_prerequisites();
  allow_dependents();
  const uint8_t* planes = quantized;
  if constexpr (Fused) {
    auto* p = reinterpret_cast<uint8_t*>(m1_smem);
    quantize_units(x, 4 * nb, int(threadIdx.x), kM1Threads, p, reinterpret_cast<float*>(p + nb * 32), nb);
    __syncthreads();
    planes = p;
  }
  const uint4* lo_plane = reinterpret_cast<const uint4*>(planes);
  const uint4* hi_plane = lo_plane + nb;
  const float* scales = reinterpret_cast<const float*>(planes + nb * 32);
  for (int64_t rb = blockIdx.x; rb < row_blocks; rb += gridDim.x) {
    float acc[R];
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r] = 0.f;
    for (int col = col0; col < nb; col += TPR) {
      const uint4 l4 = lo_plane[col], h4 = hi_plane[col];
      const U4 lo{l4.x, l4.y, l4.z, l4.w}, hi{h4.x, h4.y, h4.z, h4.w};
      const float dx = scales[col];
#pragma unroll
      for (int r = 0; r < R; ++r) acc[r] += dot_block_chunks<t>(c[r], offset[r], lo, hi, dx);
      if (col + TPR < nb) {
        load(col + TPR);
      } else if (rb + gridDim.x < row_blocks) {
        set_rows(rb + gridDim.x);  // the next row block's first column, before the reduction
        load(col0);
      }
    }
#pragma unroll
    for (int r = 0; r < R; ++r) {
#pragma unroll
      for (int k = 16; k > 0; k >>= 1) acc[r] += __shfl_xor_sync(0xffffffffu, acc[r], k);
    }
    const int64_t row0 = (rb * groups + group) * R;
    if constexpr (TPR > 32) {
      if (lane == 0) {
#pragma unroll
        for (int r = 0; r < R; ++r) partial[warp][r] = acc[r];
      }
      __syncthreads();
      if (col0 == 0) {
#pragma unroll
        for (int r = 0; r < R; ++r) {
          float v = 0.f;
#pragma unroll
          for (int i = 0; i < TPR / 32; ++i) v += partial[warp + i][r];
          if (row0 + r < N) out[row0 + r] = convert<T>(v);
        }
      }
      __syncthreads();  // partial is written again by the next row block
    } else if (lane == 0) {
#pragma unroll
      for (int r = 0; r < R; ++r)
        if (row0 + r < N) out[row0 + r] = convert<T>(acc[r]);
    }
  }
}

// Whether the one-row kernel takes x (1, K) @ W^T.
bool use_m1_kernel(Type t, int64_t M, int64_t K) {
  return M == 1 && (t == Type::Q4_0 || t == Type::Q8_0) && K / 32 <= int64_t(0x7fffffff) / 36;
}

// CTAs of `kernel` resident at once on the device (its persistent grid).
template <typename Kernel>
int64_t resident_ctas(Kernel kernel, size_t smem) {
  int per_sm = 0;
  check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kM1Threads, smem), "occupancy");
  return int64_t(std::max(per_sm, 1)) * device_properties().multiProcessorCount;
}

template <Type t, typename T, int R>
void launch_m1(const uint8_t* w, int64_t row_bytes, const T* x, int64_t K, int64_t N, T* out, const Stream& s) {
  cudaStream_t st = stream_of(s);
  const int nb = int(K / 32);
  const bool fused = K <= kFusedQuantK;
  const size_t planes_bytes = size_t(K) + size_t(nb) * 4;
  uint8_t* quantized = nullptr;
  if (!fused) {
    quantized = static_cast<uint8_t*>(scratch(s, planes_bytes));
    const int units = 4 * nb, threads = 256;
    launch_dependent(quantize_planes_kernel<T>, unsigned((units + threads - 1) / threads), threads, 0, st,
                     "quantized_matmul activations", x, nb, quantized);
  }
  auto go = [&](auto tpr, auto fuse) {
    constexpr int TPR = decltype(tpr)::value;
    constexpr bool Fused = decltype(fuse)::value;
    auto kernel = matvec_m1_kernel<t, T, TPR, R, Fused>;
    const size_t smem = Fused ? planes_bytes : 0;
    // Counted once, with the most shared memory a fused launch takes (9 KiB).
    static const int64_t resident = resident_ctas(kernel, Fused ? size_t(kFusedQuantK + kFusedQuantK / 8) : 0);
    const int64_t row_blocks = (N + int64_t(kM1Threads / TPR) * R - 1) / (int64_t(kM1Threads / TPR) * R);
    const int64_t grid = std::min(row_blocks, resident);
    launch_dependent(kernel, unsigned(grid), kM1Threads, smem, st, "quantized_matmul (one row)", w, row_bytes, x,
                     quantized, nb, N, out);
  };
  auto with_tpr = [&](auto fuse) {
    if (nb >= 128) go(std::integral_constant<int, 128>{}, fuse);
    else if (nb >= 64) go(std::integral_constant<int, 64>{}, fuse);
    else go(std::integral_constant<int, 32>{}, fuse);
  };
  if (fused) with_tpr(std::true_type{});
  else with_tpr(std::false_type{});
  ALLOY_CUDA_LAUNCH_CHECK("quantized_matmul matvec");
}

size_t align16(size_t n) { return (n + 15) / 16 * 16; }

// x (M, K) row-contiguous of CUDA type T (M <= 8) -> out (M, N) of T.
template <typename T>
void quantized_matvec(Type t, const T* x, int64_t M, int64_t K, const uint8_t* w, int64_t row_bytes, int64_t N,
                      T* out, const Stream& s) {
  if (use_m1_kernel(t, M, K)) {
    if (t == Type::Q4_0) return launch_m1<Type::Q4_0, T, 4>(w, row_bytes, x, K, N, out, s);
    return launch_m1<Type::Q8_0, T, 2>(w, row_bytes, x, K, N, out, s);
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

void QuantizedMatmul::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!cuda::has_gpu_kernel(type()) || !cuda::float_out(out.dtype()) || inputs[0].dtype() != out.dtype())
    return cuda::fallback_to_cpu(*this, inputs, out);
  const Stream& s = stream();
  array x = cuda::as_row_contiguous(inputs[0], s);  // (M, K)
  array w = cuda::as_row_contiguous(inputs[1], s);  // (N, row_bytes)
  const int64_t K = x.shape(-1), N = w.shape(0), row_bytes = w.shape(1);
  const int64_t M = K == 0 ? 0 : int64_t(x.size()) / K;
  if (M == 0 || N == 0) {
    cuda::allocate(out);
    return;
  }
  const uint8_t* wp = cuda::aligned_blocks(w, s);
  if (M <= cuda::kMaxMatvecRows) {
    const void* xp = cuda::device_ptr(x, s);
    cuda::allocate(out);
    void* op = cuda::device_out_ptr(out);
    switch (out.dtype()) {
      case Dtype::float32:
        return cuda::quantized_matvec(type(), static_cast<const float*>(xp), M, K, wp, row_bytes, N,
                                      static_cast<float*>(op), s);
      case Dtype::float16:
        return cuda::quantized_matvec(type(), static_cast<const __half*>(xp), M, K, wp, row_bytes, N,
                                      static_cast<__half*>(op), s);
      case Dtype::bfloat16:
        return cuda::quantized_matvec(type(), static_cast<const __nv_bfloat16*>(xp), M, K, wp, row_bytes, N,
                                      static_cast<__nv_bfloat16*>(op), s);
      case Dtype::float64: case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32:
      case Dtype::uint64: case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
        throw std::logic_error("[quantized_matmul] no GPU kernel for this dtype");
    }
    return;
  }
  // Prompt-sized M: W (N, K) dequantized to x's dtype, then (M, K) @ W^T on cuBLASLt.
  array wd({N, K}, out.dtype(), nullptr, {});
  cuda::allocate(wd);
  cuda::dequantize_into(type(), wp, N, row_bytes, K, out.dtype(), cuda::device_out_ptr(wd), cuda::stream_of(s));
  wd.set_status(array::Status::available);
  array wt = cuda::strided_view(wd, {K, N}, {1, K}, 0, Flags{true, false, true});
  array x2 = cuda::strided_view(x, {M, K}, {K, 1}, x.offset(), Flags{true, true, false});
  cuda::allocate(out);
  array o2 = cuda::strided_view(out, {M, N}, {N, 1}, 0, Flags{true, true, false});
  cuda::gemm(s, x2, wt, o2, 1.0f, 0.0f);
  cuda::keep_until_complete(s, wd);  // read by the GEMM just enqueued
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
