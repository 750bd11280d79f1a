// AVX2 kernels of the quantized matmul (and the tile packing every x86 path uses). Products
// are vpmaddubsw of unsigned weight values with signed activations; Q4_0 and the K types keep
// their weights unsigned (q, not q - 8 or q - 32) and subtract the offset through the
// activations' block sums, so no sign fix-ups run per product. Pairs of products are int16:
// they are summed in int16 for as many steps as cannot overflow (|x| <= 127: 8 steps of 4-bit,
// 4 of 5-bit, 2 of 6-bit values), then widened by one vpmaddwd that also applies the sub-block
// scale. Compiled for avx2,fma,f16c by target attributes; the rest of the library stays baseline.
#include "alloy/backend/cpu/quant_dot_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "alloy/backend/cpu/quant_dot_x86.h"

namespace alloy::cpu::quant {

using namespace alloy::quant;

namespace {

#define ALLOY_AVX2 __attribute__((target("avx2,fma,f16c")))

// --- 32 unsigned values of one 32-element chunk of a block, as 32 bytes in element order ---

ALLOY_AVX2 inline __m256i values_q4_0(const block_q4_0& b) {
  __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.qs));
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), _mm256_set1_epi8(0xF));
}

ALLOY_AVX2 inline __m256i values_q8_0(const block_q8_0& b) { return loadu256(b.qs); }

// Sub-block j (0..7): 64-element chunk j / 2, low nibbles for even j.
ALLOY_AVX2 inline __m256i values_q4_k(const block_q4_K& b, int j) {
  __m256i v = _mm256_srl_epi16(loadu256(b.qs + (j / 2) * 32), _mm_cvtsi32_si128(4 * (j & 1)));
  return _mm256_and_si256(v, _mm256_set1_epi8(0xF));
}

// The fifth bit of element l of sub-block j is bit j of qh[l].
ALLOY_AVX2 inline __m256i values_q5_k(const block_q5_K& b, int j) {
  __m256i lo = _mm256_srl_epi16(loadu256(b.qs + (j / 2) * 32), _mm_cvtsi32_si128(4 * (j & 1)));
  lo = _mm256_and_si256(lo, _mm256_set1_epi8(0xF));
  __m256i hi = _mm256_and_si256(_mm256_srl_epi16(loadu256(b.qh), _mm_cvtsi32_si128(j)), _mm256_set1_epi8(1));
  return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
}

// 32-element chunk j (0..7) of a Q6_K block: half j / 4, group g = j % 4 of it.
ALLOY_AVX2 inline __m256i values_q6_k(const block_q6_K& b, int j) {
  int h = j / 4, g = j % 4;
  __m256i lo = _mm256_srl_epi16(loadu256(b.ql + 64 * h + (g & 1) * 32), _mm_cvtsi32_si128(4 * (g >> 1)));
  lo = _mm256_and_si256(lo, _mm256_set1_epi8(0xF));
  __m256i hi = _mm256_srl_epi16(loadu256(b.qh + 32 * h), _mm_cvtsi32_si128(2 * g));
  hi = _mm256_and_si256(hi, _mm256_set1_epi8(3));
  return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
}

ALLOY_AVX2 inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

ALLOY_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

ALLOY_AVX2 inline __m256i ones16() { return _mm256_set1_epi16(1); }

// --- matvec: one weight row at a time, straight from ggml's blocks, against R <= 3
// activation rows, so that each weight block is loaded and unpacked once. Per block and row:
// vpmaddubsw, vpmaddwd, vcvtdq2ps and one FMA by the block's scale; the scales of 8 blocks
// are gathered and converted by one vcvtph2ps, multiplied by the activations' scales and
// stored, so that each block broadcasts its own from memory (a load, not a shuffle). Q4_0's
// -8 is taken off through the activations' d * sum(x): one FMA per 8 blocks. ---

// The fp16 scales at p, p + stride, ..., p + 7 * stride (the first field of a block) as floats.
// Assembled in general-purpose registers (integer ports, idle here): vpgatherdd is slow on Zen.
template <int kStride>
ALLOY_AVX2 inline __m256 scales8(const uint8_t* p) {
  auto h = [p](int i) {
    uint16_t v;
    std::memcpy(&v, p + i * kStride, 2);
    return uint64_t(v);
  };
  uint64_t lo = h(0) | h(1) << 16 | h(2) << 32 | h(3) << 48;
  uint64_t hi = h(4) | h(5) << 16 | h(6) << 32 | h(7) << 48;
  return _mm256_cvtph_ps(_mm_insert_epi64(_mm_cvtsi64_si128(int64_t(lo)), int64_t(hi), 1));
}

// 32 unsigned values of a Q4_0 block as bytes in element order: the 16 bytes in both halves,
// the high half shifted right by 4.
ALLOY_AVX2 inline __m256i nibbles(const uint8_t* qs, __m256i shift, __m256i mask) {
  __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm256_and_si256(_mm256_srlv_epi64(v, shift), mask);
}

template <int R>
struct XRows {
  const int8_t* q[R];
  const float* d[R];
  const float* ds[R];
  XRows(const Activations& a, int64_t m0) {
    for (int r = 0; r < R; ++r) q[r] = a.q_row(m0 + r), d[r] = a.d_row(m0 + r), ds[r] = a.ds_row(m0 + r);
  }
};

// kQ8: Q8_0 (signed values: vpsignb moves the sign onto the activations); else Q4_0.
template <int R, bool kQ8>
ALLOY_AVX2 void matvec_q0(const uint8_t* w, size_t rb, int64_t nb, const XRows<R>& x, int64_t n0, int64_t n1,
                          float* out, int64_t ldo) {
  constexpr int kBytes = kQ8 ? int(sizeof(block_q8_0)) : int(sizeof(block_q4_0));
  const __m256i shift = _mm256_setr_epi64x(0, 0, 4, 4), mask = _mm256_set1_epi8(0xF);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = w + n * rb;
    __m256 acc[R][2], off[R];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = off[r] = _mm256_setzero_ps();
    // One block: its dot products with each activation row, scaled by s[r] (float per row).
    auto block = [&](int64_t b, const float* s, int64_t ss, int j) ALLOY_AVX2 {
      const uint8_t* blk = row + b * kBytes;
      __m256i wv, aw;
      if constexpr (kQ8) {
        wv = loadu256(blk + 2);
        aw = _mm256_abs_epi8(wv);
      } else {
        wv = nibbles(blk + 2, shift, mask);
      }
      for (int r = 0; r < R; ++r) {
        __m256i xv = loadu256(x.q[r] + b * 32), p;
        if constexpr (kQ8)
          p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(xv, wv));
        else
          p = _mm256_maddubs_epi16(wv, xv);
        __m256 f = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones16()));
        acc[r][j] = _mm256_fmadd_ps(f, _mm256_broadcast_ss(s + r * ss), acc[r][j]);
      }
    };
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
      prefetch_ahead(row + b * kBytes, 8 * kBytes);
      alignas(32) float s[R][8];
      __m256 dw = scales8<kBytes>(row + b * kBytes);
      for (int r = 0; r < R; ++r) {
        _mm256_store_ps(s[r], _mm256_mul_ps(dw, _mm256_loadu_ps(x.d[r] + b)));
        if (!kQ8) off[r] = _mm256_fmadd_ps(dw, _mm256_loadu_ps(x.ds[r] + b), off[r]);
      }
      #pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) block(b + i, &s[0][i], 8, i & 1);
    }
    float tail[R] = {};
    for (; b < nb; ++b) {
      uint16_t h;
      std::memcpy(&h, row + b * kBytes, 2);
      float s[R], dw = half_to_float(h);
      for (int r = 0; r < R; ++r) {
        s[r] = dw * x.d[r][b];
        if (!kQ8) tail[r] += dw * x.ds[r][b];
      }
      block(b, s, 1, 0);
    }
    for (int r = 0; r < R; ++r) {
      float v = hsum(_mm256_add_ps(acc[r][0], acc[r][1]));
      if (!kQ8) v -= 8.f * (hsum(off[r]) + tail[r]);
      out[r * ldo + n] = v;
    }
  }
}

template <bool kQ8>
ALLOY_AVX2 void matvec_q0_rows(const uint8_t* w, size_t rb, const Activations& a, int64_t n0, int64_t n1, int64_t N,
                               float* out) {
  for (int64_t m = 0; m < a.M; m += 3) {
    float* o = out + m * N;
    switch (std::min<int64_t>(3, a.M - m)) {
      case 3: matvec_q0<3, kQ8>(w, rb, a.blocks(), XRows<3>(a, m), n0, n1, o, N); break;
      case 2: matvec_q0<2, kQ8>(w, rb, a.blocks(), XRows<2>(a, m), n0, n1, o, N); break;
      default: matvec_q0<1, kQ8>(w, rb, a.blocks(), XRows<1>(a, m), n0, n1, o, N); break;
    }
  }
}

template <typename Block>
ALLOY_AVX2 float dot_q45_k(const Block* w, const int8_t* q, const float* d, const int16_t* s32, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  float mins = 0;
  for (int64_t b = 0; b < nb; ++b) {
    prefetch_ahead(w + b, int(sizeof(Block)));
    __m256i sumi = _mm256_setzero_si256();
    int summ = 0;
    for (int j = 0; j < 8; ++j) {
      int sc, m;
      alloy::quant::k4_scale_min(w[b].scales, j, sc, m);
      __m256i v;
      if constexpr (std::is_same_v<Block, block_q5_K>)
        v = values_q5_k(w[b], j);
      else
        v = values_q4_k(w[b], j);
      __m256i p = _mm256_maddubs_epi16(v, loadu256(q + b * 256 + j * 32));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_set1_epi16(int16_t(sc))));
      summ += m * s32[b * 8 + j];
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(d[b] * half_to_float(w[b].d)), acc);
    mins += d[b] * half_to_float(w[b].dmin) * float(summ);
  }
  return hsum(acc) - mins;
}

// The int16 lane pair (2j in the low 128 bits, 2j + 1 in the high) of a vector that holds the
// same 8 int16 in both halves, spread over each half: a vpshufb control.
ALLOY_AVX2 inline __m256i lane_pair(int j) {
  const int lo = 4 * j, hi = 4 * j + 2;
  return _mm256_setr_epi8(lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo,
                          lo + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1,
                          hi, hi + 1);
}

// Q4_K: the 6-bit scales and mins of a block decoded with 32-bit integer masks (8 bytes each),
// the mins applied by one vpmaddwd with the activations' 32-element sums, each 64-element
// chunk's two sub-block scales by vpshufb from one vector.
ALLOY_AVX2 float dot_q4_k(const block_q4_K* w, const int8_t* q, const float* d, const int16_t* s32, int64_t nb) {
  __m256 acc = _mm256_setzero_ps();
  __m128 accm = _mm_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(0xF);
  for (int64_t b = 0; b < nb; ++b) {
    prefetch_ahead(w + b, int(sizeof(block_q4_K)));
    uint32_t u[3];
    std::memcpy(u, w[b].scales, 12);
    const uint32_t sc_lo = u[0] & 0x3f3f3f3f, mn_lo = u[1] & 0x3f3f3f3f;
    const uint32_t sc_hi = (u[2] & 0x0f0f0f0f) | (((u[0] >> 6) & 0x03030303) << 4);
    const uint32_t mn_hi = ((u[2] >> 4) & 0x0f0f0f0f) | (((u[1] >> 6) & 0x03030303) << 4);
    // int16: scales 0..7 in the low half, mins 0..7 in the high
    __m256i sm = _mm256_cvtepu8_epi16(_mm_setr_epi32(int(sc_lo), int(sc_hi), int(mn_lo), int(mn_hi)));
    __m128i mins = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1),
                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(s32 + b * 8)));
    const float dx = d[b];
    accm = _mm_fmadd_ps(_mm_cvtepi32_ps(mins), _mm_set1_ps(dx * half_to_float(w[b].dmin)), accm);
    __m256i sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
    const int8_t* x = q + b * 256;
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      __m256i v = loadu256(w[b].qs + 32 * c);
      __m256i pl = _mm256_maddubs_epi16(_mm256_and_si256(v, m4), loadu256(x + 64 * c));
      __m256i ph = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4), loadu256(x + 64 * c + 32));
      // sub-block 2c in both halves of the low products, 2c + 1 in the high
      __m256i scl = _mm256_shuffle_epi8(sc, _mm256_set1_epi16(int16_t((4 * c + 1) << 8 | 4 * c)));
      __m256i sch = _mm256_shuffle_epi8(sc, _mm256_set1_epi16(int16_t((4 * c + 3) << 8 | (4 * c + 2))));
      sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(_mm256_madd_epi16(pl, scl), _mm256_madd_epi16(ph, sch)));
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(dx * half_to_float(w[b].d)), acc);
  }
  __m128 m = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
  m = _mm_add_ss(m, _mm_movehdup_ps(m));
  return hsum(acc) - _mm_cvtss_f32(m);
}

// Q6_K by halves of 128 elements: the high bits of all four 32-element groups come from one
// qh vector, shifted into place (bits 4..5) and masked; the 16 int8 scales are widened once
// per block and picked per group by vpshufb; the -32 offset is one vpmaddwd of the scales with
// the activations' 16-element sums.
ALLOY_AVX2 float dot_q6_k(const block_q6_K* w, const int8_t* q, const float* d, const int16_t* s16, int64_t nb) {
  __m256 acc = _mm256_setzero_ps(), off = _mm256_setzero_ps();
  const __m256i m4 = _mm256_set1_epi8(0xF), m30 = _mm256_set1_epi8(0x30);
  for (int64_t b = 0; b < nb; ++b) {
    prefetch_ahead(w + b, int(sizeof(block_q6_K)));
    const block_q6_K& blk = w[b];
    __m128i sc8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales));
    __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
    const __m256i sca = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sc16));  // scales 0..7
    const __m256i scb = _mm256_broadcastsi128_si256(_mm256_extracti128_si256(sc16, 1));  // 8..15
    const float dd = d[b] * half_to_float(blk.d);
    off = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(sc16, loadu256(s16 + b * 16))), _mm256_set1_ps(dd),
                          off);
    const int8_t* x = q + b * 256;
    __m256i sumi = _mm256_setzero_si256();
    for (int h = 0; h < 2; ++h) {
      __m256i qh = loadu256(blk.qh + 32 * h);
      __m256i l0 = loadu256(blk.ql + 64 * h), l1 = loadu256(blk.ql + 64 * h + 32);
      __m256i v[4] = {
          _mm256_or_si256(_mm256_and_si256(l0, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
          _mm256_or_si256(_mm256_and_si256(l1, m4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4), _mm256_and_si256(qh, m30)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                          _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30))};
      for (int g = 0; g < 4; ++g) {
        __m256i scv = _mm256_shuffle_epi8(h == 0 ? sca : scb, lane_pair(g));
        __m256i p = _mm256_maddubs_epi16(v[g], loadu256(x + 128 * h + 32 * g));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, scv));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi), _mm256_set1_ps(dd), acc);
  }
  return hsum(acc) - 32.f * hsum(off);
}

ALLOY_AVX2 void matvec(Type t, const uint8_t* w, int64_t K, const Activations& a, int64_t n0, int64_t n1, int64_t N,
                       float* out) {
  const size_t rb = row_bytes(t, K);
  const int64_t nb = a.blocks();
  if (t == Type::Q4_0) return matvec_q0_rows<false>(w, rb, a, n0, n1, N, out);
  if (t == Type::Q8_0) return matvec_q0_rows<true>(w, rb, a, n0, n1, N, out);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = w + n * rb;
    for (int64_t m = 0; m < a.M; ++m) {
      const int8_t* q = a.q_row(m);
      const float* d = a.d_row(m);
      float& o = out[m * N + n];
      switch (t) {
        case Type::Q4_K: o = dot_q4_k(reinterpret_cast<const block_q4_K*>(row), q, d, a.s32_row(m), nb); break;
        case Type::Q5_K: o = dot_q45_k(reinterpret_cast<const block_q5_K*>(row), q, d, a.s32_row(m), nb); break;
        case Type::Q6_K: o = dot_q6_k(reinterpret_cast<const block_q6_K*>(row), q, d, a.s16_row(m), nb); break;
        case Type::Q4_0:
        case Type::Q8_0: break;  // above
        ALLOY_QUANT_NO_KERNEL_CASES: throw_no_kernel(t);
      }
    }
  }
}

// --- packing: 8 rows' 32-value chunks, transposed as 8 x 8 int32 so that each output vector
// holds 4 consecutive values of each of the 8 rows ---

ALLOY_AVX2 void transpose_store(__m256i r[8], uint8_t* dst, int64_t stride) {
  __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
  __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
  __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]), t5 = _mm256_unpackhi_epi32(r[4], r[5]);
  __m256i t6 = _mm256_unpacklo_epi32(r[6], r[7]), t7 = _mm256_unpackhi_epi32(r[6], r[7]);
  __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
  __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
  __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
  __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
  __m256i out[8] = {_mm256_permute2x128_si256(u0, u4, 0x20), _mm256_permute2x128_si256(u1, u5, 0x20),
                    _mm256_permute2x128_si256(u2, u6, 0x20), _mm256_permute2x128_si256(u3, u7, 0x20),
                    _mm256_permute2x128_si256(u0, u4, 0x31), _mm256_permute2x128_si256(u1, u5, 0x31),
                    _mm256_permute2x128_si256(u2, u6, 0x31), _mm256_permute2x128_si256(u3, u7, 0x31)};
  for (int g = 0; g < 8; ++g) storeu256(dst + g * stride, out[g]);
}

// Values of 32-element chunk c (k in [32c, 32c + 32)) of a weight row.
ALLOY_AVX2 __m256i chunk_values(Type t, const uint8_t* row, int64_t c) {
  switch (t) {
    case Type::Q4_0: return values_q4_0(reinterpret_cast<const block_q4_0*>(row)[c]);
    case Type::Q8_0: return values_q8_0(reinterpret_cast<const block_q8_0*>(row)[c]);
    case Type::Q4_K: return values_q4_k(reinterpret_cast<const block_q4_K*>(row)[c / 8], int(c % 8));
    case Type::Q5_K: return values_q5_k(reinterpret_cast<const block_q5_K*>(row)[c / 8], int(c % 8));
    case Type::Q6_K: return values_q6_k(reinterpret_cast<const block_q6_K*>(row)[c / 8], int(c % 8));
    ALLOY_QUANT_NO_KERNEL_CASES: throw_no_kernel(t);
  }
  throw_no_kernel(t);  // a value outside the enumerators
}

ALLOY_AVX2 void pack_values(Type t, const uint8_t* w, size_t rb, int64_t K, int64_t n0, int rows, int nr,
                            uint8_t* vals) {
  for (int g = 0; g < nr; g += 8) {
    for (int64_t c = 0; c < K / 32; ++c) {
      __m256i r[8];
      for (int i = 0; i < 8; ++i)
        r[i] = g + i < rows ? chunk_values(t, w + (n0 + g + i) * rb, c) : _mm256_setzero_si256();
      // step s = 8c + i of row n sits at vals[(s * nr + n) * 4]
      transpose_store(r, vals + (c * 8 * nr + g) * 4, int64_t(nr) * 4);
    }
  }
}

// Scales of row i of the tile (scalar: one per block or sub-block).
void pack_scales(Type t, const uint8_t* row, int64_t K, int i, int nr, PackedTile& tile) {
  switch (t) {
    case Type::Q4_0:
      for (int64_t b = 0; b < K / 32; ++b)
        tile.d[b * nr + i] = half_to_float_scalar(reinterpret_cast<const block_q4_0*>(row)[b].d);
      break;
    case Type::Q8_0:
      for (int64_t b = 0; b < K / 32; ++b)
        tile.d[b * nr + i] = half_to_float_scalar(reinterpret_cast<const block_q8_0*>(row)[b].d);
      break;
    case Type::Q4_K:
    case Type::Q5_K:
      for (int64_t b = 0; b < K / 256; ++b) {
        // Q4_K and Q5_K begin alike: d, dmin, scales.
        const block_q4_K& blk = *reinterpret_cast<const block_q4_K*>(row + b * row_bytes(t, 256));
        tile.d[b * nr + i] = half_to_float_scalar(blk.d);
        tile.dmin[b * nr + i] = half_to_float_scalar(blk.dmin);
        for (int j = 0; j < 8; ++j) {
          int sc, m;
          alloy::quant::k4_scale_min(blk.scales, j, sc, m);
          tile.sc[(b * 8 + j) * nr + i] = int16_t(sc);
          tile.mn[(b * 8 + j) * nr + i] = int16_t(m);
        }
      }
      break;
    case Type::Q6_K:
      for (int64_t b = 0; b < K / 256; ++b) {
        const block_q6_K& blk = reinterpret_cast<const block_q6_K*>(row)[b];
        tile.d[b * nr + i] = half_to_float_scalar(blk.d);
        for (int j = 0; j < 16; ++j) tile.sc[(b * 16 + j) * nr + i] = blk.scales[j];
      }
      break;
    ALLOY_QUANT_NO_KERNEL_CASES: throw_no_kernel(t);
  }
}

// --- the tile kernels: R activation rows x 8 weight rows, accumulators in registers ---

struct RowPtrs {
  const int8_t* q;
  const float* d;
  const int16_t* s32;
  const int16_t* s16;
};

inline RowPtrs row_ptrs(const Activations& a, int64_t m) {
  return {a.q_row(m), a.d_row(m), a.s32_row(m), a.type == Type::Q8_K ? a.s16_row(m) : nullptr};
}

ALLOY_AVX2 inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

ALLOY_AVX2 inline __m256i bcast_pair(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// int32 lane n = (lo[n] as the low int16, hi[n] as the high one), for vpmaddwd.
ALLOY_AVX2 inline __m256i pairs(const int16_t* lo, const int16_t* hi) {
  __m256i l = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lo)));
  __m256i h = _mm256_cvtepi16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hi)));
  return _mm256_or_si256(l, _mm256_slli_epi32(h, 16));
}

template <int R>
ALLOY_AVX2 void store_tile(const __m256 acc[R], int64_t n0, int64_t N, float* out, int64_t ldo) {
  for (int r = 0; r < R; ++r) {
    if (n0 + 8 <= N) {
      _mm256_storeu_ps(out + r * ldo + n0, acc[r]);
    } else {
      float tmp[8];
      _mm256_storeu_ps(tmp, acc[r]);
      std::memcpy(out + r * ldo + n0, tmp, sizeof(float) * size_t(N - n0));
    }
  }
}

template <int R>
ALLOY_AVX2 void tile_q4_0(const PackedTile& tile, const Activations& a, int64_t m0, int64_t n0, int64_t N, float* out,
                          int64_t ldo) {
  RowPtrs x[R];
  for (int r = 0; r < R; ++r) x[r] = row_ptrs(a, m0 + r);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  const uint8_t* v = tile.vals.data();
  for (int64_t b = 0; b < a.K / 32; ++b, v += 8 * 32) {
    __m256i p[R];
    for (int r = 0; r < R; ++r) p[r] = _mm256_setzero_si256();
    #pragma GCC unroll 1  // unrolled, GCC sums the products as a tree and spills them
    for (int s = 0; s < 8; ++s) {
      __m256i wv = loadu256(v + s * 32);
      for (int r = 0; r < R; ++r)
        p[r] = _mm256_add_epi16(p[r], _mm256_maddubs_epi16(wv, bcast4(x[r].q + b * 32 + s * 4)));
    }
    __m256 dw = _mm256_loadu_ps(tile.d.data() + b * 8);
    for (int r = 0; r < R; ++r) {
      __m256i s = _mm256_madd_epi16(p[r], ones16());
      s = _mm256_sub_epi32(s, _mm256_set1_epi32(8 * x[r].s32[b]));
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(x[r].d[b])), acc[r]);
    }
  }
  store_tile<R>(acc, n0, N, out, ldo);
}

template <int R>
ALLOY_AVX2 void tile_q8_0(const PackedTile& tile, const Activations& a, int64_t m0, int64_t n0, int64_t N, float* out,
                          int64_t ldo) {
  RowPtrs x[R];
  for (int r = 0; r < R; ++r) x[r] = row_ptrs(a, m0 + r);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  const uint8_t* v = tile.vals.data();
  for (int64_t b = 0; b < a.K / 32; ++b, v += 8 * 32) {
    __m256i p[R];
    for (int r = 0; r < R; ++r) p[r] = _mm256_setzero_si256();
    #pragma GCC unroll 1  // unrolled, GCC sums the products as a tree and spills them
    for (int s = 0; s < 8; ++s) {
      __m256i wv = loadu256(v + s * 32), aw = _mm256_abs_epi8(wv);
      for (int r = 0; r < R; ++r) {
        __m256i xs = _mm256_sign_epi8(bcast4(x[r].q + b * 32 + s * 4), wv);
        p[r] = _mm256_add_epi32(p[r], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xs), ones16()));
      }
    }
    __m256 dw = _mm256_loadu_ps(tile.d.data() + b * 8);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p[r]), _mm256_mul_ps(dw, _mm256_set1_ps(x[r].d[b])), acc[r]);
  }
  store_tile<R>(acc, n0, N, out, ldo);
}

// The K types. kSub: steps (of 4 values) per sub-block; kFlush: steps summed in int16 before
// vpmaddwd; kMins: Q4_K/Q5_K's dmin * min terms; otherwise Q6_K's -32 offset.
template <int R, int kSub, int kFlush, bool kMins>
ALLOY_AVX2 void tile_k(const PackedTile& tile, const Activations& a, int64_t m0, int64_t n0, int64_t N, float* out,
                       int64_t ldo) {
  constexpr int nsub = 64 / kSub;  // sub-blocks per 256-element block
  RowPtrs x[R];
  for (int r = 0; r < R; ++r) x[r] = row_ptrs(a, m0 + r);
  __m256 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
  const uint8_t* v = tile.vals.data();
  for (int64_t b = 0; b < a.K / 256; ++b) {
    __m256i sumi[R];
    for (int r = 0; r < R; ++r) sumi[r] = _mm256_setzero_si256();
    for (int j = 0; j < nsub; ++j) {
      const int16_t* scj = tile.sc.data() + (b * nsub + j) * 8;
      __m256i scv = pairs(scj, scj);
      for (int f = 0; f < kSub; f += kFlush) {
        __m256i p[R];
        for (int r = 0; r < R; ++r) p[r] = _mm256_setzero_si256();
        #pragma GCC unroll 1  // unrolled, GCC sums the products as a tree and spills them
        for (int s = 0; s < kFlush; ++s, v += 32) {
          __m256i wv = loadu256(v);
          const int64_t k = b * 256 + (j * kSub + f + s) * 4;
          for (int r = 0; r < R; ++r) p[r] = _mm256_add_epi16(p[r], _mm256_maddubs_epi16(wv, bcast4(x[r].q + k)));
        }
        for (int r = 0; r < R; ++r) sumi[r] = _mm256_add_epi32(sumi[r], _mm256_madd_epi16(p[r], scv));
      }
    }
    // Per row and weight row n: sum_j c[n][j] * s[j] over pairs of sub-blocks, with c the mins
    // and s the 32-element sums (Q4_K, Q5_K) or c the scales and s the 16-element sums (Q6_K).
    const int16_t* c = kMins ? tile.mn.data() + b * 8 * 8 : tile.sc.data() + b * 16 * 8;
    __m256i corr[R];
    for (int r = 0; r < R; ++r) corr[r] = _mm256_setzero_si256();
    for (int j = 0; j < nsub; j += 2) {
      __m256i cv = pairs(c + j * 8, c + (j + 1) * 8);
      for (int r = 0; r < R; ++r) {
        const int16_t* s = kMins ? x[r].s32 + b * 8 + j : x[r].s16 + b * 16 + j;
        corr[r] = _mm256_add_epi32(corr[r], _mm256_madd_epi16(cv, bcast_pair(s)));
      }
    }
    __m256 dw = _mm256_loadu_ps(tile.d.data() + b * 8);
    for (int r = 0; r < R; ++r) {
      __m256 dx = _mm256_set1_ps(x[r].d[b]);
      if (kMins) {
        __m256 dm = _mm256_loadu_ps(tile.dmin.data() + b * 8);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sumi[r]), _mm256_mul_ps(dw, dx), acc[r]);
        acc[r] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(corr[r]), _mm256_mul_ps(dm, dx), acc[r]);
      } else {
        __m256i s = _mm256_sub_epi32(sumi[r], _mm256_slli_epi32(corr[r], 5));
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, dx), acc[r]);
      }
    }
  }
  store_tile<R>(acc, n0, N, out, ldo);
}

template <int R>
ALLOY_AVX2 void tile_rows(Type t, const PackedTile& tile, const Activations& a, int64_t m0, int64_t n0, int64_t N,
                          float* out, int64_t ldo) {
  switch (t) {
    case Type::Q4_0: return tile_q4_0<R>(tile, a, m0, n0, N, out, ldo);
    case Type::Q8_0: return tile_q8_0<R>(tile, a, m0, n0, N, out, ldo);
    case Type::Q4_K: return tile_k<R, 8, 8, true>(tile, a, m0, n0, N, out, ldo);
    case Type::Q5_K: return tile_k<R, 8, 4, true>(tile, a, m0, n0, N, out, ldo);
    case Type::Q6_K: return tile_k<R, 4, 2, false>(tile, a, m0, n0, N, out, ldo);
    ALLOY_QUANT_NO_KERNEL_CASES: throw_no_kernel(t);
  }
}

constexpr int kRows = 4;

void tile(Type t, const PackedTile& tile, const Activations& a, int64_t m0, int rows, int64_t n0, int64_t N,
          float* out, int64_t ldo) {
  switch (rows) {
    case 4: return tile_rows<4>(t, tile, a, m0, n0, N, out, ldo);
    case 3: return tile_rows<3>(t, tile, a, m0, n0, N, out, ldo);
    case 2: return tile_rows<2>(t, tile, a, m0, n0, N, out, ldo);
    case 1: return tile_rows<1>(t, tile, a, m0, n0, N, out, ldo);
  }
}

}  // namespace

void pack_tile_avx2(Type t, const uint8_t* w, int64_t K, int64_t n0, int64_t N, int nr, PackedTile& tile) {
  const size_t rb = row_bytes(t, K);
  const int rows = int(std::min<int64_t>(nr, N - n0));
  const bool k_type = t != Type::Q4_0 && t != Type::Q8_0;
  tile.nr = nr;
  tile.vals.resize(size_t(K * nr));
  tile.d.assign(size_t((k_type ? K / 256 : K / 32) * nr), 0.f);
  if (t == Type::Q4_K || t == Type::Q5_K) {
    tile.dmin.assign(size_t(K / 256 * nr), 0.f);
    tile.mn.assign(size_t(K / 32 * nr), 0);
  }
  if (k_type) tile.sc.assign(size_t((t == Type::Q6_K ? K / 16 : K / 32) * nr), 0);
  pack_values(t, w, rb, K, n0, rows, nr, tile.vals.data());
  for (int i = 0; i < rows; ++i) pack_scales(t, w + (n0 + i) * rb, K, i, nr, tile);
}

const Kernels* avx2_kernels() {
  static const Kernels k{Isa::avx2, 8, kRows, matvec, tile};
  return &k;
}

}  // namespace alloy::cpu::quant

#else  // not x86-64

#include <stdexcept>

namespace alloy::cpu::quant {
const Kernels* avx2_kernels() { return nullptr; }
void pack_tile_avx2(Type, const uint8_t*, int64_t, int64_t, int64_t, int, PackedTile&) {
  throw std::logic_error("[quantized_matmul] tile packing needs x86-64");
}
}  // namespace alloy::cpu::quant

#endif
