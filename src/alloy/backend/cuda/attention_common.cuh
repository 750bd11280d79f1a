// Device helpers shared by the attention kernels (attention.cu: forward, attention_grad.cu:
// backward; hopper/attention_wgmma.cu): masks, 16-bit pairs, cp.async staging, ldmatrix and the
// m16n8k16 tensor-core MMA. All in an anonymous namespace: each .cu gets its own copy.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "alloy/backend/cuda/async_copy.cuh"
#include "alloy/backend/cuda/attention_args.h"
#include "alloy/backend/cuda/kernel_utils.cuh"

namespace alloy {
namespace cuda {
namespace {

constexpr float kNegInf = -INFINITY;

template <typename T>
__device__ __forceinline__ float fast_exp(float x) {
  if constexpr (std::is_same_v<T, float>) return expf(x);  // float32 inputs: full precision
  else return __expf(x);
}

// The score of (row qi of head h, key kj) after the mask: s (already scaled) plus the additive
// mask, or -inf where the boolean mask is false.
template <typename T, MaskKind MK>
__device__ __forceinline__ float apply_mask(const AttnArgs& a, int b, int h, int qi, int kj, float s) {
  if constexpr (MK == MaskKind::none) {
    return s;
  } else {
    int64_t off = int64_t(b) * a.ms[0] + int64_t(h) * a.ms[1] + int64_t(qi) * a.ms[2] + int64_t(kj) * a.ms[3];
    if constexpr (MK == MaskKind::boolean) {
      return static_cast<const bool*>(a.mask)[off] ? s : kNegInf;
    } else {
      return s + convert<float>(static_cast<const T*>(a.mask)[off]);
    }
  }
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, k));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) v += __shfl_xor_sync(0xffffffffu, v, k);
  return v;
}

// Two adjacent elements of T as float2, and back.
template <typename T>
struct Pair;
template <>
struct Pair<__half> {
  using type = __half2;
  __device__ __forceinline__ static float2 to_float2(type v) { return __half22float2(v); }
  __device__ __forceinline__ static type from_float2(float x, float y) { return __floats2half2_rn(x, y); }
};
template <>
struct Pair<__nv_bfloat16> {
  using type = __nv_bfloat162;
  __device__ __forceinline__ static float2 to_float2(type v) { return __bfloat1622float2(v); }
  __device__ __forceinline__ static type from_float2(float x, float y) { return __floats2bfloat162_rn(x, y); }
};
template <>
struct Pair<float> {
  using type = float2;
  __device__ __forceinline__ static float2 to_float2(type v) { return v; }
  __device__ __forceinline__ static type from_float2(float x, float y) { return make_float2(x, y); }
};

inline bool aligned_to(const void* p, size_t n) { return (reinterpret_cast<uintptr_t>(p) % n) == 0; }

template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

template <typename T>
__device__ __forceinline__ uint32_t pack2(float x, float y) {
  typename Pair<T>::type p = Pair<T>::from_float2(x, y);
  return *reinterpret_cast<uint32_t*>(&p);
}

// rows [r0, r0 + ROWS) of a (nrows, D) row-major matrix into tile[ROWS][D + 8]; rows past nrows
// are zero.
template <typename T, int D, int ROWS, int THREADS>
__device__ __forceinline__ void load_tile_async(T* tile, const T* src, int r0, int nrows) {
  constexpr int chunks = D / 8;  // 16-byte chunks per row
  static_assert(ROWS * chunks % THREADS == 0, "tile split");
#pragma unroll
  for (int j = 0; j < ROWS * chunks / THREADS; ++j) {
    const int c = threadIdx.x + j * THREADS;
    int row = c / chunks, col = (c % chunks) * 8;
    int g = r0 + row;
    bool valid = g < nrows;
    const T* p = valid ? src + int64_t(g) * D + col : src;
    cp_async16(tile + row * (D + 8) + col, p, valid);
  }
}

__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// ldmatrix of four 8x8 b16 matrices from shared memory (rows addressed by the lanes as the PTX
// manual lays out), plain or transposed.
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

}  // namespace
}  // namespace cuda
}  // namespace alloy
