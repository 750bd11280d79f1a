// The per-thread work of the GPU quantized kernels (quantized.cu), written once for the device
// and the host: the host build (plain C++, intrinsics emulated) lets tests run a warp's lanes
// on the CPU and check them against the CPU codecs and dot products without a GPU.
//
// Loads: blocks of 18, 34 and 210 bytes are only 2-byte aligned and are read with 16-bit loads;
// the 144- and 176-byte Q4_K/Q5_K blocks are 16-byte aligned and read with 128-bit loads (the
// weights' buffer must be 16-byte aligned). Float operations are rounded one by one (no FMA
// contraction), in the CPU code's order, so values match the CPU's.
#pragma once

#include <cstdint>
#include <cstring>

#include "alloy/core/half.h"
#include "alloy/core/quant_formats.h"

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define ALLOY_QHD __host__ __device__ __forceinline__
#else
#define ALLOY_QHD inline
#endif

namespace alloy::cuda::qblocks {

using quant::Type;

constexpr int kMaxMatvecRows = 8;  // activation rows of the matrix-vector kernels

template <Type t>
struct Block;
template <>
struct Block<Type::Q4_0> { static constexpr int size = 32, bytes = 18; };
template <>
struct Block<Type::Q8_0> { static constexpr int size = 32, bytes = 34; };
template <>
struct Block<Type::Q4_K> { static constexpr int size = 256, bytes = 144; };
template <>
struct Block<Type::Q5_K> { static constexpr int size = 256, bytes = 176; };
template <>
struct Block<Type::Q6_K> { static constexpr int size = 256, bytes = 210; };

struct U4 {
  uint32_t x, y, z, w;
};
struct I2 {
  int32_t x, y;
};

// --- loads and intrinsics ---

ALLOY_QHD float f16_bits(uint16_t h) {
#ifdef __CUDA_ARCH__
  return __half2float(__ushort_as_half(h));
#else
  return detail::half_bits_to_float(h);
#endif
}
// p 2-byte aligned.
ALLOY_QHD uint16_t load_u16(const uint8_t* p) {
#ifdef __CUDA_ARCH__
  return *reinterpret_cast<const uint16_t*>(p);
#else
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
#endif
}
// 4 bytes from a 2-byte aligned p, little-endian.
ALLOY_QHD uint32_t load_u32_a2(const uint8_t* p) { return uint32_t(load_u16(p)) | (uint32_t(load_u16(p + 2)) << 16); }
// p 4-byte aligned.
ALLOY_QHD uint32_t load_u32(const uint8_t* p) {
#ifdef __CUDA_ARCH__
  return *reinterpret_cast<const uint32_t*>(p);
#else
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
#endif
}
// p 16-byte aligned.
ALLOY_QHD U4 load_u128(const void* p) {
#ifdef __CUDA_ARCH__
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  return U4{v.x, v.y, v.z, v.w};
#else
  U4 v;
  std::memcpy(&v, p, 16);
  return v;
#endif
}
// p 8-byte aligned.
ALLOY_QHD I2 load_i64(const void* p) {
#ifdef __CUDA_ARCH__
  const int2 v = *reinterpret_cast<const int2*>(p);
  return I2{v.x, v.y};
#else
  I2 v;
  std::memcpy(&v, p, 8);
  return v;
#endif
}

// a + 4 signed-byte products of a and b's bytes.
ALLOY_QHD int dp4a(int a, int b, int c) {
#ifdef __CUDA_ARCH__
  return __dp4a(a, b, c);
#else
  for (int i = 0; i < 4; ++i) c += int(int8_t(uint32_t(a) >> (8 * i))) * int(int8_t(uint32_t(b) >> (8 * i)));
  return c;
#endif
}
// Bytewise a - b, modulo 256.
ALLOY_QHD uint32_t vsub4(uint32_t a, uint32_t b) {
#ifdef __CUDA_ARCH__
  return __vsub4(a, b);
#else
  uint32_t r = 0;
  for (int i = 0; i < 4; ++i) r |= (((a >> (8 * i)) - (b >> (8 * i))) & 0xFFu) << (8 * i);
  return r;
#endif
}
ALLOY_QHD float fmul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
ALLOY_QHD float fsub(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}


// Bits s.. s+31 of the 64-bit hi:lo, s clamped to 32.
ALLOY_QHD uint32_t funnel_right(uint32_t lo, uint32_t hi, uint32_t s) {
#ifdef __CUDA_ARCH__
  return __funnelshift_rc(lo, hi, s);
#else
  s = s < 32 ? s : 32;
  return uint32_t(((uint64_t(hi) << 32) | lo) >> s);
#endif
}

// --- dequantize ---

// Elements e..e+3 (e a multiple of 4) of the block at b, as quant::dequantize_row computes them.
template <Type t>
ALLOY_QHD void dequant4(const uint8_t* b, int e, float (&y)[4]) {
  if constexpr (t == Type::Q4_0) {
    const float d = f16_bits(load_u16(b));
    const uint8_t* qs = b + 2;
    for (int i = 0; i < 4; ++i) {
      int q = e < 16 ? (qs[e + i] & 0xF) : (qs[e - 16 + i] >> 4);
      y[i] = fmul(float(q - 8), d);
    }
  } else if constexpr (t == Type::Q8_0) {
    const float d = f16_bits(load_u16(b));
    const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
    for (int i = 0; i < 4; ++i) y[i] = fmul(float(qs[e + i]), d);
  } else if constexpr (t == Type::Q4_K || t == Type::Q5_K) {
    // d, dmin at 0; scales at 4; Q5_K: qh at 16, qs at 48; Q4_K: qs at 16.
    const float d = f16_bits(load_u16(b)), dmin = f16_bits(load_u16(b + 2));
    const int c = e / 64, l = e % 64, j = 2 * c + (l >= 32);
    int sc, m;
    alloy::quant::k4_scale_min(b + 4, j, sc, m);
    const float dl = fmul(d, float(sc)), ml = fmul(dmin, float(m));
    const uint8_t* qs = b + (t == Type::Q5_K ? 48 : 16) + 32 * c;
    const int l32 = l % 32;
    for (int i = 0; i < 4; ++i) {
      int q = l < 32 ? (qs[l32 + i] & 0xF) : (qs[l32 + i] >> 4);
      if constexpr (t == Type::Q5_K) q += ((b[16 + l32 + i] >> j) & 1) << 4;
      y[i] = fsub(fmul(dl, float(q)), ml);
    }
  } else {
    static_assert(t == Type::Q6_K);
    // Q6_K: ql at 0, qh at 128, int8 scales at 192, d at 208.
    const float d = f16_bits(load_u16(b + 208));
    const int h = e / 128, r = e % 128, g = r / 32, l = r % 32;
    const float dl = fmul(d, float(reinterpret_cast<const int8_t*>(b + 192)[8 * h + 2 * g + l / 16]));
    const uint8_t* ql = b + 64 * h + l + 32 * (g & 1);
    const uint8_t* qh = b + 128 + 32 * h + l;
    for (int i = 0; i < 4; ++i) {
      int q = (((ql[i] >> (4 * (g >> 1))) & 0xF) | (((qh[i] >> (2 * g)) & 3) << 4)) - 32;
      y[i] = fmul(dl, float(q));
    }
  }
}

// --- matrix-vector products on activations quantized to 8 bits ---

// Activations of M rows of K values, quantized as the CPU's quantize_activations does:
// q (M, K) int8, d (M, K / 32) for Q8_0 or (M, K / 256) for Q8_K, s (M, K / 32) the sum of
// each 32 q (Q8_K only). q 16-byte aligned.
struct Act {
  const int8_t* q;
  const float* d;
  const int* s;
};

// Block ab of 32 (Q4_0/Q8_0) against every activation row: acc[m] += the CPU's
// float(s) * (d_w * d_x) term.
template <Type t>
ALLOY_QHD void dot_block32(const uint8_t* blk, const Act& a, int64_t K, int64_t nb, int64_t ab, int M,
                           float (&acc)[kMaxMatvecRows]) {
  const float dw = f16_bits(load_u16(blk));
  int w[8];  // the 32 weights as signed bytes, elements 4i..4i+3 in w[i]
  if constexpr (t == Type::Q4_0) {
    for (int i = 0; i < 4; ++i) {
      const uint32_t qs = load_u32_a2(blk + 2 + 4 * i);
      w[i] = int(vsub4(qs & 0x0F0F0F0Fu, 0x08080808u));
      w[i + 4] = int(vsub4((qs >> 4) & 0x0F0F0F0Fu, 0x08080808u));
    }
  } else {
    for (int i = 0; i < 8; ++i) w[i] = int(load_u32_a2(blk + 2 + 4 * i));
  }
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
  for (int m = 0; m < kMaxMatvecRows; ++m) {
    if (m < M) {
      const int8_t* q = a.q + m * K + ab * 32;
      const U4 x0 = load_u128(q), x1 = load_u128(q + 16);
      int s = dp4a(w[0], int(x0.x), 0);
      s = dp4a(w[1], int(x0.y), s);
      s = dp4a(w[2], int(x0.z), s);
      s = dp4a(w[3], int(x0.w), s);
      s = dp4a(w[4], int(x1.x), s);
      s = dp4a(w[5], int(x1.y), s);
      s = dp4a(w[6], int(x1.z), s);
      s = dp4a(w[7], int(x1.w), s);
      acc[m] += fmul(float(s), fmul(dw, a.d[m * nb + ab]));
    }
  }
}

// Share `part` (0..7) of Q4_K/Q5_K super-block sb: bytes 16h..16h+15 of 64-element chunk c
// (part = 2c + h), i.e. elements 16h.. of sub-blocks 2c (low nibbles) and 2c + 1 (high ones).
// acc[m] += dx * d * (sum of sc q x) - dx * dmin * (sum of m x), over the share.
template <Type t>
ALLOY_QHD void dot_q45_k_part(const uint8_t* blk, const Act& a, int64_t K, int64_t sb, int part, int M,
                              float (&acc)[kMaxMatvecRows]) {
  const int c = part >> 1, h = part & 1;
  const uint32_t dd = load_u32(blk);
  const float d = f16_bits(uint16_t(dd & 0xFFFF)), dmin = f16_bits(uint16_t(dd >> 16));
  int sc0, m0, sc1, m1;
  alloy::quant::k4_scale_min(blk + 4, 2 * c, sc0, m0);
  alloy::quant::k4_scale_min(blk + 4, 2 * c + 1, sc1, m1);
  const U4 qv = load_u128(blk + (t == Type::Q5_K ? 48 : 16) + 32 * c + 16 * h);
  const uint32_t qw[4] = {qv.x, qv.y, qv.z, qv.w};
  int lo[4], hi[4];
  for (int i = 0; i < 4; ++i) {
    lo[i] = int(qw[i] & 0x0F0F0F0Fu);
    hi[i] = int((qw[i] >> 4) & 0x0F0F0F0Fu);
  }
  if constexpr (t == Type::Q5_K) {
    // The fifth bit of sub-block j is bit j of qh[l].
    const U4 hv = load_u128(blk + 16 + 16 * h);
    const uint32_t hw[4] = {hv.x, hv.y, hv.z, hv.w};
    for (int i = 0; i < 4; ++i) {
      lo[i] |= int(((hw[i] >> (2 * c)) & 0x01010101u) << 4);
      hi[i] |= int(((hw[i] >> (2 * c + 1)) & 0x01010101u) << 4);
    }
  }
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
  for (int m = 0; m < kMaxMatvecRows; ++m) {
    if (m < M) {
      const int8_t* q = a.q + m * K + sb * 256 + 64 * c + 16 * h;
      const U4 x0 = load_u128(q), x1 = load_u128(q + 32);
      int s0 = dp4a(lo[0], int(x0.x), 0);
      s0 = dp4a(lo[1], int(x0.y), s0);
      s0 = dp4a(lo[2], int(x0.z), s0);
      s0 = dp4a(lo[3], int(x0.w), s0);
      int s1 = dp4a(hi[0], int(x1.x), 0);
      s1 = dp4a(hi[1], int(x1.y), s1);
      s1 = dp4a(hi[2], int(x1.z), s1);
      s1 = dp4a(hi[3], int(x1.w), s1);
      const int sumi = sc0 * s0 + sc1 * s1;
      // The mins' term once per sub-block pair (in the h == 0 share).
      const int* s32 = a.s + m * (K / 32) + sb * 8 + 2 * c;
      const int summ = h == 0 ? m0 * s32[0] + m1 * s32[1] : 0;
      const float dx = a.d[m * (K / 256) + sb];
      acc[m] += fsub(fmul(fmul(dx, d), float(sumi)), fmul(fmul(dx, dmin), float(summ)));
    }
  }
}

// Share `part` (0..7) of a Q6_K super-block: half hh = part / 4, elements l0..l0+7
// (l0 = 8 (part % 4)) of each of the half's four 32-element groups g.
ALLOY_QHD void dot_q6_k_part(const uint8_t* blk, const Act& a, int64_t K, int64_t sb, int part, int M,
                             float (&acc)[kMaxMatvecRows]) {
  const int hh = part >> 2, l0 = 8 * (part & 3);
  const float d = f16_bits(load_u16(blk + 208));
  const int8_t* scales = reinterpret_cast<const int8_t*>(blk + 192) + 8 * hh + (l0 >> 4);
  int sc[4];
  for (int g = 0; g < 4; ++g) sc[g] = scales[2 * g];
  int v[4][2];  // [group][word]: q - 32 as signed bytes
  for (int k = 0; k < 2; ++k) {
    const uint32_t qa = load_u32_a2(blk + 64 * hh + l0 + 4 * k);
    const uint32_t qb = load_u32_a2(blk + 64 * hh + 32 + l0 + 4 * k);
    const uint32_t qh = load_u32_a2(blk + 128 + 32 * hh + l0 + 4 * k);
    v[0][k] = int(vsub4((qa & 0x0F0F0F0Fu) | ((qh & 0x03030303u) << 4), 0x20202020u));
    v[1][k] = int(vsub4((qb & 0x0F0F0F0Fu) | (((qh >> 2) & 0x03030303u) << 4), 0x20202020u));
    v[2][k] = int(vsub4(((qa >> 4) & 0x0F0F0F0Fu) | (((qh >> 4) & 0x03030303u) << 4), 0x20202020u));
    v[3][k] = int(vsub4(((qb >> 4) & 0x0F0F0F0Fu) | (((qh >> 6) & 0x03030303u) << 4), 0x20202020u));
  }
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
  for (int m = 0; m < kMaxMatvecRows; ++m) {
    if (m < M) {
      const int8_t* q = a.q + m * K + sb * 256 + 128 * hh + l0;
      int sumi = 0;
      for (int g = 0; g < 4; ++g) {
        const I2 xv = load_i64(q + 32 * g);
        sumi += sc[g] * dp4a(v[g][1], xv.y, dp4a(v[g][0], xv.x, 0));
      }
      acc[m] += fmul(fmul(a.d[m * (K / 256) + sb], d), float(sumi));
    }
  }
}

// Lane `lane` of the warp that computes weight row `row` (row_bytes of blocks) against the
// activations: its partial sums, which the warp adds up. Blocks of 32: a block per lane per
// step; super-blocks: eight lanes each, four per step.
template <Type t>
ALLOY_QHD void matvec_lane(const uint8_t* row, const Act& a, int M, int64_t K, int lane,
                           float (&acc)[kMaxMatvecRows]) {
  using B = Block<t>;
  const int64_t nb = K / B::size;
  if constexpr (B::size == 32) {
    for (int64_t b = lane; b < nb; b += 32) dot_block32<t>(row + b * B::bytes, a, K, nb, b, M, acc);
  } else {
    const int part = lane & 7;
    for (int64_t b = lane >> 3; b < nb; b += 4) {
      if constexpr (t == Type::Q6_K) dot_q6_k_part(row + b * B::bytes, a, K, b, part, M, acc);
      else dot_q45_k_part<t>(row + b * B::bytes, a, K, b, part, M, acc);
    }
  }
}

// --- the streamed one-row matrix-vector kernel (M = 1, Q4_0 and Q8_0) ---
//
// A lane takes two adjacent blocks, a pair: 36 (Q4_0) or 68 (Q8_0) bytes from a 4-byte
// boundary, read as 9 or 17 words (an odd count, so the 32 lanes of a warp reading consecutive
// pairs from shared memory hit 32 different banks). The first block's scale is the low half of
// word 0 and its quants start 2 bytes on (each quant word is funnel-shifted from two); the
// second block starts 2 bytes into word h = bytes / 4, so its scale is that word's high half
// and its quants are the next words, aligned. No selects on a run-time offset are needed.
template <Type t>
struct Paired {
  static constexpr int payload = t == Type::Q4_0 ? 4 : 8;  // words of quants a block
  static constexpr int words = 2 * Block<t>::bytes / 4;    // 9 or 17
  static constexpr int second = Block<t>::bytes / 4;       // the word holding the second scale
};

// The activations of a pair (Q8_0 blocks of the CPU's values): elements 0..15 and 16..31 of the
// first block (x[0], x[1]) and of the second (x[2], x[3]); the blocks' scales; and, for Q4_0's
// unsigned quants (q - 8 is taken off through them), 8 times each block's sum of values.
struct PairActivations {
  U4 x[4];
  float d[2];
  int sum8[2];
};

// The integer dot product of one block's quant words with its activations (Q4_0: the
// unsigned nibbles; byte i holds element i low and element 16 + i high).
template <Type t>
ALLOY_QHD int dot_quant_words(const uint32_t (&q)[Paired<t>::payload], const U4& lo, const U4& hi) {
  const uint32_t xl[4] = {lo.x, lo.y, lo.z, lo.w}, xh[4] = {hi.x, hi.y, hi.z, hi.w};
  int s = 0;
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
  for (int i = 0; i < 4; ++i) {
    if constexpr (t == Type::Q4_0) {
      s = dp4a(int(q[i] & 0x0F0F0F0Fu), int(xl[i]), s);
      s = dp4a(int((q[i] >> 4) & 0x0F0F0F0Fu), int(xh[i]), s);
    } else {
      s = dp4a(int(q[i]), int(xl[i]), s);
      s = dp4a(int(q[4 + i]), int(xh[i]), s);
    }
  }
  return s;
}

// acc += each block's float(sum of q w) * (d_w * d_x), in order, as dot_block32 computes it.
template <Type t>
ALLOY_QHD void add_pair_terms(const uint32_t (&w)[Paired<t>::words], const PairActivations& a, float& acc) {
  using P = Paired<t>;
  uint32_t q0[P::payload], q1[P::payload];
#ifdef __CUDA_ARCH__
#pragma unroll
#endif
  for (int i = 0; i < P::payload; ++i) {
    q0[i] = funnel_right(w[i], w[i + 1], 16);
    q1[i] = w[P::second + 1 + i];
  }
  int s0 = dot_quant_words<t>(q0, a.x[0], a.x[1]), s1 = dot_quant_words<t>(q1, a.x[2], a.x[3]);
  if constexpr (t == Type::Q4_0) {
    s0 -= a.sum8[0];
    s1 -= a.sum8[1];
  }
  const float d0 = f16_bits(uint16_t(w[0])), d1 = f16_bits(uint16_t(w[P::second] >> 16));
  acc += fmul(float(s0), fmul(d0, a.d[0]));
  acc += fmul(float(s1), fmul(d1, a.d[1]));
}

}  // namespace alloy::cuda::qblocks
