// AVX-512 VNNI kernels of the quantized matmul. vpdpbusd multiplies unsigned weight bytes by
// signed activation bytes and adds groups of 4 into int32 with no intermediate saturation, so
// one instruction does what vpmaddubsw + vpmaddwd + vpaddd do on AVX2, and Q8_0 weights become
// unsigned by flipping their sign bit (q + 128, the 128 * sum(x) taken off through the block
// sums). The tile kernels take 16 weight rows (one zmm of int32) x up to 8 activation rows;
// the K types apply each sub-block's scale with one vpmulld per sub-block. The matvec of the
// K types is AVX2's. Compiled by target attributes only.
#include "alloy/backend/cpu/quant_dot_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#include <algorithm>
#include <cstring>

// GCC 12's _mm512_undefined_* initialize a variable from itself, which -Wmaybe-uninitialized
// reports at every inlined conversion intrinsic.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "alloy/backend/cpu/quant_dot_x86.h"

namespace alloy::cpu::quant {

using namespace alloy::quant;

namespace {

#define ALLOY_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))

constexpr int kNr = 16;
constexpr int kRows = 8;

ALLOY_AVX512 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// --- matvec of Q4_0 and Q8_0 with 256-bit vpdpbusd: AVX2's matvec_q0 (one weight row against
// R <= 3 activation rows, 8 blocks' scales per vcvtph2ps) with vpdpbusd for vpmaddubsw +
// vpmaddwd; both types' weights are unsigned (Q8_0's q + 128) and their offsets (8 or 128 times
// sum(x)) are taken off through the activations' d * sum(x). ---

template <int kStride>
ALLOY_AVX512 inline __m256 scales8(const uint8_t* p) {
  auto h = [p](int i) {
    uint16_t v;
    std::memcpy(&v, p + i * kStride, 2);
    return uint64_t(v);
  };
  uint64_t lo = h(0) | h(1) << 16 | h(2) << 32 | h(3) << 48;
  uint64_t hi = h(4) | h(5) << 16 | h(6) << 32 | h(7) << 48;
  return _mm256_cvtph_ps(_mm_insert_epi64(_mm_cvtsi64_si128(int64_t(lo)), int64_t(hi), 1));
}

template <int R, bool kQ8>
ALLOY_AVX512 void matvec_q0(const uint8_t* w, size_t rb, const Activations& a, int64_t m0, int64_t n0, int64_t n1,
                            float* out, int64_t ldo) {
  constexpr int kBytes = kQ8 ? int(sizeof(block_q8_0)) : int(sizeof(block_q4_0));
  constexpr float kOffset = kQ8 ? 128.f : 8.f;
  const int64_t nb = a.blocks();
  const int8_t* xq[R];
  const float *xd[R], *xds[R];
  for (int r = 0; r < R; ++r) xq[r] = a.q_row(m0 + r), xd[r] = a.d_row(m0 + r), xds[r] = a.ds_row(m0 + r);
  const __m256i shift = _mm256_setr_epi64x(0, 0, 4, 4), mask = _mm256_set1_epi8(0xF);
  const __m256i flip = _mm256_set1_epi8(char(0x80));
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = w + n * rb;
    __m256 acc[R][2], off[R];
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = off[r] = _mm256_setzero_ps();
    auto block = [&](int64_t b, const float* s, int64_t ss, int j) ALLOY_AVX512 {
      const uint8_t* blk = row + b * kBytes;
      __m256i wv;
      if constexpr (kQ8) {
        wv = _mm256_xor_si256(loadu256(blk + 2), flip);
      } else {
        __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 2)));
        wv = _mm256_and_si256(_mm256_srlv_epi64(v, shift), mask);
      }
      for (int r = 0; r < R; ++r) {
        __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), wv, loadu256(xq[r] + b * 32));
        acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_broadcast_ss(s + r * ss), acc[r][j]);
      }
    };
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
      prefetch_ahead(row + b * kBytes, 8 * kBytes);
      alignas(32) float s[R][8];
      __m256 dw = scales8<kBytes>(row + b * kBytes);
      for (int r = 0; r < R; ++r) {
        _mm256_store_ps(s[r], _mm256_mul_ps(dw, _mm256_loadu_ps(xd[r] + b)));
        off[r] = _mm256_fmadd_ps(dw, _mm256_loadu_ps(xds[r] + b), off[r]);
      }
      #pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) block(b + i, &s[0][i], 8, i & 1);
    }
    float tail[R] = {};
    for (; b < nb; ++b) {
      uint16_t h;
      std::memcpy(&h, row + b * kBytes, 2);
      float s[R], dw = _cvtsh_ss(h);
      for (int r = 0; r < R; ++r) {
        s[r] = dw * xd[r][b];
        tail[r] += dw * xds[r][b];
      }
      block(b, s, 1, 0);
    }
    for (int r = 0; r < R; ++r)
      out[r * ldo + n] = hsum(_mm256_add_ps(acc[r][0], acc[r][1])) - kOffset * (hsum(off[r]) + tail[r]);
  }
}

template <bool kQ8>
void matvec_q0_rows(const uint8_t* w, size_t rb, const Activations& a, int64_t n0, int64_t n1, int64_t N, float* out) {
  for (int64_t m = 0; m < a.M; m += 3) {
    switch (std::min<int64_t>(3, a.M - m)) {
      case 3: matvec_q0<3, kQ8>(w, rb, a, m, n0, n1, out + m * N, N); break;
      case 2: matvec_q0<2, kQ8>(w, rb, a, m, n0, n1, out + m * N, N); break;
      default: matvec_q0<1, kQ8>(w, rb, a, m, n0, n1, out + m * N, N); break;
    }
  }
}

void matvec(Type t, const uint8_t* w, int64_t K, const Activations& a, int64_t n0, int64_t n1, int64_t N,
            float* out) {
  if (t == Type::Q4_0) return matvec_q0_rows<false>(w, row_bytes(t, K), a, n0, n1, N, out);
  if (t == Type::Q8_0) return matvec_q0_rows<true>(w, row_bytes(t, K), a, n0, n1, N, out);
  return avx2_kernels()->matvec(t, w, K, a, n0, n1, N, out);
}

// --- tile kernels: R activation rows x 16 weight rows ---

ALLOY_AVX512 inline __m512i loadu512(const void* p) { return _mm512_loadu_si512(p); }

ALLOY_AVX512 inline __m512i bcast4(const void* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// int32 lane n = (lo[n] as the low int16, hi[n] as the high one), for vpmaddwd.
ALLOY_AVX512 inline __m512i pairs(const int16_t* lo, const int16_t* hi) {
  __m512i l = _mm512_cvtepu16_epi32(loadu256(lo));
  __m512i h = _mm512_cvtepi16_epi32(loadu256(hi));
  return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

template <int R>
ALLOY_AVX512 void store_tile(const __m512 acc[R], int64_t n0, int64_t N, float* out, int64_t ldo) {
  const __mmask16 mask = N - n0 >= kNr ? __mmask16(0xFFFF) : __mmask16((1u << (N - n0)) - 1);
  for (int r = 0; r < R; ++r) _mm512_mask_storeu_ps(out + r * ldo + n0, mask, acc[r]);
}

// Q4_0 (values 0..15, offset 8) and Q8_0 (values q + 128, offset 128), 32-element blocks.
template <int R, bool kQ8>
ALLOY_AVX512 void tile_q0(const PackedTile& tile, const Activations& a, int64_t m0, int64_t n0, int64_t N, float* out,
                          int64_t ldo) {
  const int8_t* xq[R];
  for (int r = 0; r < R; ++r) xq[r] = a.q_row(m0 + r);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  const uint8_t* v = tile.vals.data();
  for (int64_t b = 0; b < a.K / 32; ++b, v += 8 * 64) {
    __m512i p[R];
    for (int r = 0; r < R; ++r) p[r] = _mm512_set1_epi32(-(kQ8 ? 128 : 8) * a.s32_row(m0 + r)[b]);
    #pragma GCC unroll 1  // unrolled, GCC sums the products as a tree and spills them
    for (int s = 0; s < 8; ++s) {
      __m512i wv = loadu512(v + s * 64);
      if (kQ8) wv = _mm512_xor_si512(wv, flip);
      for (int r = 0; r < R; ++r) p[r] = _mm512_dpbusd_epi32(p[r], wv, bcast4(xq[r] + b * 32 + s * 4));
    }
    __m512 dw = _mm512_loadu_ps(tile.d.data() + b * kNr);
    for (int r = 0; r < R; ++r)
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p[r]), _mm512_mul_ps(dw, _mm512_set1_ps(a.d_row(m0 + r)[b])),
                               acc[r]);
  }
  store_tile<R>(acc, n0, N, out, ldo);
}

// The K types: kSub steps (of 4 values) per sub-block; kMins: Q4_K/Q5_K's min terms,
// otherwise Q6_K's -32 offset (see tile_k in quant_dot_avx2.cpp).
template <int R, int kSub, bool kMins>
ALLOY_AVX512 void tile_k(const PackedTile& tile, const Activations& a, int64_t m0, int64_t n0, int64_t N, float* out,
                         int64_t ldo) {
  constexpr int nsub = 64 / kSub;
  const int8_t* xq[R];
  for (int r = 0; r < R; ++r) xq[r] = a.q_row(m0 + r);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const uint8_t* v = tile.vals.data();
  for (int64_t b = 0; b < a.K / 256; ++b) {
    __m512i sumi[R];
    for (int r = 0; r < R; ++r) sumi[r] = _mm512_setzero_si512();
    for (int j = 0; j < nsub; ++j) {
      __m512i p[R];
      for (int r = 0; r < R; ++r) p[r] = _mm512_setzero_si512();
      #pragma GCC unroll 1  // unrolled, GCC sums the products as a tree and spills them
      for (int s = 0; s < kSub; ++s, v += 64) {
        __m512i wv = loadu512(v);
        const int64_t k = b * 256 + (j * kSub + s) * 4;
        for (int r = 0; r < R; ++r) p[r] = _mm512_dpbusd_epi32(p[r], wv, bcast4(xq[r] + k));
      }
      __m512i scv = _mm512_cvtepi16_epi32(loadu256(tile.sc.data() + (b * nsub + j) * kNr));
      for (int r = 0; r < R; ++r) sumi[r] = _mm512_add_epi32(sumi[r], _mm512_mullo_epi32(p[r], scv));
    }
    const int16_t* c = kMins ? tile.mn.data() + b * 8 * kNr : tile.sc.data() + b * 16 * kNr;
    __m512i corr[R];
    for (int r = 0; r < R; ++r) corr[r] = _mm512_setzero_si512();
    for (int j = 0; j < nsub; j += 2) {
      __m512i cv = pairs(c + j * kNr, c + (j + 1) * kNr);
      for (int r = 0; r < R; ++r) {
        const int16_t* s = kMins ? a.s32_row(m0 + r) + b * 8 + j : a.s16_row(m0 + r) + b * 16 + j;
        corr[r] = _mm512_add_epi32(corr[r], _mm512_madd_epi16(cv, bcast4(s)));
      }
    }
    __m512 dw = _mm512_loadu_ps(tile.d.data() + b * kNr);
    for (int r = 0; r < R; ++r) {
      __m512 dx = _mm512_set1_ps(a.d_row(m0 + r)[b]);
      if (kMins) {
        __m512 dm = _mm512_loadu_ps(tile.dmin.data() + b * kNr);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sumi[r]), _mm512_mul_ps(dw, dx), acc[r]);
        acc[r] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(corr[r]), _mm512_mul_ps(dm, dx), acc[r]);
      } else {
        __m512i s = _mm512_sub_epi32(sumi[r], _mm512_slli_epi32(corr[r], 5));
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, dx), acc[r]);
      }
    }
  }
  store_tile<R>(acc, n0, N, out, ldo);
}

template <int R>
void tile_rows(Type t, const PackedTile& tile, const Activations& a, int64_t m0, int64_t n0, int64_t N, float* out,
               int64_t ldo) {
  switch (t) {
    case Type::Q4_0: return tile_q0<R, false>(tile, a, m0, n0, N, out, ldo);
    case Type::Q8_0: return tile_q0<R, true>(tile, a, m0, n0, N, out, ldo);
    case Type::Q4_K:
    case Type::Q5_K: return tile_k<R, 8, true>(tile, a, m0, n0, N, out, ldo);
    case Type::Q6_K: return tile_k<R, 4, false>(tile, a, m0, n0, N, out, ldo);
    ALLOY_QUANT_NO_KERNEL_CASES: throw_no_kernel(t);
  }
}

void tile(Type t, const PackedTile& tile, const Activations& a, int64_t m0, int rows, int64_t n0, int64_t N,
          float* out, int64_t ldo) {
  switch (rows) {
    case 8: return tile_rows<8>(t, tile, a, m0, n0, N, out, ldo);
    case 7: return tile_rows<7>(t, tile, a, m0, n0, N, out, ldo);
    case 6: return tile_rows<6>(t, tile, a, m0, n0, N, out, ldo);
    case 5: return tile_rows<5>(t, tile, a, m0, n0, N, out, ldo);
    case 4: return tile_rows<4>(t, tile, a, m0, n0, N, out, ldo);
    case 3: return tile_rows<3>(t, tile, a, m0, n0, N, out, ldo);
    case 2: return tile_rows<2>(t, tile, a, m0, n0, N, out, ldo);
    case 1: return tile_rows<1>(t, tile, a, m0, n0, N, out, ldo);
  }
}

}  // namespace

const Kernels* avx512_kernels() {
  static const Kernels k{Isa::avx512, kNr, kRows, matvec, tile};
  return &k;
}

}  // namespace alloy::cpu::quant

#else  // not x86-64

namespace alloy::cpu::quant {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace alloy::cpu::quant

#endif
