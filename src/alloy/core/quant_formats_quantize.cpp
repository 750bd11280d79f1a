// Quantizers of the block-quantized types, following llama.cpp's reference quantizers (the
// `_ref` ones, no importance matrix) operation for operation in float32, so that a tensor we
// quantize gets the bytes llama-quantize writes. The 32-element types take the scale from the
// block's extreme (or its min and max). The K types fit a scale (and min) to each 16- or
// 32-element sub-block, quantize those against the super-block's fp16 d (and dmin), and then
// round every element again against the scales as stored. IQ4 fits a scale to the 16
// non-uniform levels by a small search. Evaluation order matters for bit-equality: keep the
// expressions as they are (a * b * c is (a * b) * c; no fused multiply-adds, which the
// project's flags, -std=c++20 without -march, do not produce).
#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "alloy/backend/cpu/simd.h"
#include "alloy/core/half.h"
#include "alloy/core/quant_formats.h"

namespace alloy::quant {
namespace {

constexpr float kGroupMaxEps = 1e-15f;  // a group whose largest |x| is below this is zero

inline float f16(uint16_t h) { return detail::half_bits_to_float(h); }
inline uint16_t to_f16(float f) { return detail::float_to_half_bits(f); }

// Round to nearest, ties to even, by the float adder: 1.5 * 2^23 puts the integer in the low
// mantissa bits. |x| < 2^22.
inline int nearest_int(float x) {
  const float v = x + 12582912.f;
  return int(std::bit_cast<uint32_t>(v) & 0x007fffffu) - 0x00400000;
}

// The element of largest magnitude, signed (the first one on ties; 0 for all zeros).
inline float signed_absmax(const float* x, int n) {
  float amax = 0, max = 0;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

inline void min_max(const float* x, int n, float& min, float& max) {
  min = FLT_MAX;
  max = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < min) min = x[j];
    if (x[j] > max) max = x[j];
  }
}

// ---------- the 32-element types ----------

void quantize_q4_0(const float* x, block_q4_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk) {
    const float d = signed_absmax(x, qk) / -8;  // the extreme lands on level 0 (value -8 d)
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = to_f16(d);
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = x[j] * id, x1 = x[j + qk / 2] * id;
      const int q0 = std::min(15, int(x0 + 8.5f)), q1 = std::min(15, int(x1 + 8.5f));
      y[i].qs[j] = uint8_t(q0 | (q1 << 4));
    }
  }
}

void quantize_q4_1(const float* x, block_q4_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk) {
    float min, max;
    min_max(x, qk, min, max);
    const float d = (max - min) / 15;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = to_f16(d);
    y[i].m = to_f16(min);
    for (int j = 0; j < qk / 2; ++j) {
      const float x0 = (x[j] - min) * id, x1 = (x[j + qk / 2] - min) * id;
      const int q0 = std::min(15, int(x0 + 0.5f)), q1 = std::min(15, int(x1 + 0.5f));
      y[i].qs[j] = uint8_t(q0 | (q1 << 4));
    }
  }
}

// Low nibbles into qs as Q4's, fifth bits into the little-endian uint32 qh (bit j: element j).
template <typename Block>
inline void pack_q5(Block& b, const int* q) {
  uint32_t qh = 0;
  for (int j = 0; j < qk / 2; ++j) {
    b.qs[j] = uint8_t((q[j] & 0xF) | ((q[j + qk / 2] & 0xF) << 4));
    qh |= uint32_t((q[j] >> 4) & 1) << j;
    qh |= uint32_t((q[j + qk / 2] >> 4) & 1) << (j + qk / 2);
  }
  std::memcpy(b.qh, &qh, sizeof(qh));
}

void quantize_q5_0(const float* x, block_q5_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk) {
    const float d = signed_absmax(x, qk) / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = to_f16(d);
    int q[qk];
    for (int j = 0; j < qk; ++j) q[j] = std::min(31, int(x[j] * id + 16.5f));
    pack_q5(y[i], q);
  }
}

void quantize_q5_1(const float* x, block_q5_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk) {
    float min, max;
    min_max(x, qk, min, max);
    const float d = (max - min) / 31;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = to_f16(d);
    y[i].m = to_f16(min);
    int q[qk];
    for (int j = 0; j < qk; ++j) q[j] = int((x[j] - min) * id + 0.5f);  // no clamp, as ggml
    pack_q5(y[i], q);
  }
}

// std::round (halves away from zero) for |x| < 2^31, written so that the compiler vectorizes
// it: the truncation and the remainder x - t are exact.
inline int round_half_away(float x) {
  const int t = int(x);
  const float rest = x - float(t);
  return t + int(rest >= 0.5f) - int(rest <= -0.5f);
}

// Q8_0 and Q8_1: d = max |x| / 127, q = round(x / d) (halves away from zero). The maximum is
// taken over the magnitudes' bits, which order as the magnitudes do, so that it vectorizes;
// NaNs count as 0, as std::max skipped them.
template <typename Block>
inline float quantize_q8_block(const float* x, Block& b) {
  int32_t amax_bits = 0;
  for (int j = 0; j < qk; ++j) {
    const int32_t m = int32_t(std::bit_cast<uint32_t>(x[j]) & 0x7fffffffu);
    amax_bits = std::max(amax_bits, m > 0x7f800000 ? 0 : m);
  }
  const float amax = std::bit_cast<float>(amax_bits);
  const float d = amax / 127;
  const float id = d ? 1.0f / d : 0.0f;
  b.d = to_f16(d);
  for (int j = 0; j < qk; ++j) b.qs[j] = int8_t(round_half_away(x[j] * id));
  return d;
}

// Cloned for the wider instruction sets: loading an MLX model quantizes every weight (Q8_0 of
// a 3B: 0.95 ns a weight on SSE2).
ALLOY_SIMD_CLONES void quantize_q8_0(const float* x, block_q8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk) quantize_q8_block(x, y[i]);
}

void quantize_q8_1(const float* x, block_q8_1* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk) {
    const float d = quantize_q8_block(x, y[i]);
    int sum = 0;
    for (int j = 0; j < qk; ++j) sum += y[i].qs[j];
    y[i].s = to_f16(sum * d);
  }
}

// ---------- scale fits of the K types ----------

// Levels L in 0..nmax for n <= 32 values with x ~ scale * L - min (min >= 0, returned in
// the_min), as ggml's make_qkx2_quants: start from the range's ends, then for nstep + 1 level
// counts nmax + rmin + rdelta * is take the weighted least-squares scale and min of the
// rounded levels, keeping the lowest weighted error (|diff| if use_mad, else diff^2).
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* the_min,
                    float rmin, float rdelta, int nstep, bool use_mad) {
  float min = x[0], max = x[0];
  float sum_w = w[0], sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, uint8_t(0));
    *the_min = -min;
    return 0.f;
  }
  auto error = [&](float scale, float mn, const uint8_t* levels) {
    float e = 0;
    for (int i = 0; i < n; ++i) {
      float diff = scale * levels[i] + mn - x[i];
      diff = use_mad ? std::fabs(diff) : diff * diff;
      e += w[i] * diff;
    }
    return e;
  };
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  for (int i = 0; i < n; ++i)
    L[i] = uint8_t(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
  float best_error = error(scale, min, L);
  uint8_t Laux[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = uint8_t(l);
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      const float cur_error = error(this_scale, this_min, Laux);
      if (cur_error < best_error) {
        std::copy(Laux, Laux + n, L);
        best_error = cur_error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *the_min = -min;
  return scale;
}

// Symmetric levels L in 0..2 nmax - 1 (value scale * (L - nmax)) for Q6_K, as ggml's
// make_qx_quants with weights x^2: the extreme on level -nmax, then 18 nearby level counts,
// keeping the one of largest (sum w x l)^2 / sum w l^2 (the least-squares fit's gain).
float fit_scale_symmetric(int n, int nmax, const float* x, int8_t* L) {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < kGroupMaxEps) {
    std::fill(L, L + n, int8_t(0));
    return 0.f;
  }
  auto sums = [&](float iscale, float& sumlx, float& suml2, int8_t* levels) {
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
      if (levels) levels[i] = int8_t(l + nmax);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
  };
  float sumlx, suml2;
  sums(-nmax / max, sumlx, suml2, L);
  float scale = suml2 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float iscale = -(nmax + 0.1f * is) / max;
    sums(iscale, sumlx, suml2, nullptr);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      sums(iscale, sumlx, suml2, L);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Levels L in 0..2 nmax - 1 (value scale * (L - nmax)) for Q3_K, as ggml's make_q3_quants
// (do_rmse): round against the extreme, then up to 5 passes that move single elements to the
// level that raises the least-squares gain (weights x^2).
float fit_scale_q3(int n, int nmax, const float* x, int8_t* L) {
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < kGroupMaxEps) {
    std::fill(L, L + n, int8_t(0));
    return 0.f;
  }
  const float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1);
    L[i] = int8_t(l);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (int itry = 0; itry < 5; ++itry) {
    int n_changed = 0;
    for (int i = 0; i < n; ++i) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * L[i];
      if (slx > 0) {
        float sl2 = suml2 - w * L[i] * L[i];
        const int new_l = std::clamp(nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
        if (new_l != L[i]) {
          slx += w * x[i] * new_l;
          sl2 += w * new_l * new_l;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            L[i] = int8_t(new_l);
            sumlx = slx;
            suml2 = sl2;
            ++n_changed;
          }
        }
      }
    }
    if (!n_changed) break;
  }
  for (int i = 0; i < n; ++i) L[i] = int8_t(L[i] + nmax);
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

// ---------- the K types ----------

// Two bits per element: element 32 g + l of each 128-element half at bits 2g of q[l] (Q2_K's
// and Q3_K's qs).
inline void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < qk_k; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] = uint8_t(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
                              (L[j + l + 96] << 6));
}

void quantize_q2_K(const float* x, block_q2_K* y, int64_t nb) {
  const float q4scale = 15.f;
  for (int64_t i = 0; i < nb; ++i, x += qk_k) {
    uint8_t L[qk_k];
    float scales[qk_k / 16], mins[qk_k / 16], weights[16];
    float max_scale = 0, max_min = 0;  // scales and mins are >= 0 here
    for (int j = 0; j < qk_k / 16; ++j) {
      for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
      scales[j] = fit_scale_min(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], -0.5f, 0.1f,
                                15, true);
      max_scale = std::max(max_scale, scales[j]);
      max_min = std::max(max_min, mins[j]);
    }
    if (max_scale > 0) {
      const float iscale = q4scale / max_scale;
      for (int j = 0; j < qk_k / 16; ++j) y[i].scales[j] = uint8_t(nearest_int(iscale * scales[j]));
      y[i].d = to_f16(max_scale / q4scale);
    } else {
      std::fill(y[i].scales, y[i].scales + qk_k / 16, uint8_t(0));
      y[i].d = to_f16(0.f);
    }
    if (max_min > 0) {
      const float iscale = q4scale / max_min;
      for (int j = 0; j < qk_k / 16; ++j)
        y[i].scales[j] |= uint8_t(nearest_int(iscale * mins[j]) << 4);
      y[i].dmin = to_f16(max_min / q4scale);
    } else {
      y[i].dmin = to_f16(0.f);
    }
    for (int j = 0; j < qk_k / 16; ++j) {
      const float d = f16(y[i].d) * (y[i].scales[j] & 0xF);
      if (!d) continue;  // keeps the fit's levels
      const float dm = f16(y[i].dmin) * (y[i].scales[j] >> 4);
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = uint8_t(std::clamp(nearest_int((x[16 * j + l] + dm) / d), 0, 3));
    }
    pack_2bit(L, y[i].qs);
  }
}

void quantize_q3_K(const float* x, block_q3_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk_k) {
    int8_t L[qk_k];
    float scales[qk_k / 16];
    float max_scale = 0, amax = 0;
    for (int j = 0; j < qk_k / 16; ++j) {
      scales[j] = fit_scale_q3(16, 4, x + 16 * j, L + 16 * j);
      if (std::fabs(scales[j]) > amax) {
        amax = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    // Sixteen 6-bit scales offset by 32 (layout at q3_K_scale in quant_formats.cpp).
    std::memset(y[i].scales, 0, sizeof(y[i].scales));
    if (max_scale) {
      const float iscale = -32.f / max_scale;
      for (int j = 0; j < qk_k / 16; ++j) {
        int l = std::clamp(int(int8_t(nearest_int(iscale * scales[j]))), -32, 31) + 32;
        if (j < 8)
          y[i].scales[j] = uint8_t(l & 0xF);
        else
          y[i].scales[j - 8] |= uint8_t((l & 0xF) << 4);
        l >>= 4;
        y[i].scales[j % 4 + 8] |= uint8_t(l << (2 * (j / 4)));
      }
      y[i].d = to_f16(1 / iscale);
    } else {
      y[i].d = to_f16(0.f);
    }
    for (int j = 0; j < qk_k / 16; ++j) {
      const int lo = j < 8 ? y[i].scales[j] & 0xF : y[i].scales[j - 8] >> 4;
      const int sc = (lo | (((y[i].scales[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
      const float d = f16(y[i].d) * sc;
      if (!d) continue;
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = int8_t(std::clamp(nearest_int(x[16 * j + l] / d), -4, 3) + 4);
    }
    // The third bit of element e goes to bit e / 32 of hmask[e % 32].
    std::memset(y[i].hmask, 0, sizeof(y[i].hmask));
    uint8_t low[qk_k];
    for (int e = 0; e < qk_k; ++e) {
      if (L[e] > 3) y[i].hmask[e % 32] |= uint8_t(1 << (e / 32));
      low[e] = uint8_t(L[e] > 3 ? L[e] - 4 : L[e]);
    }
    pack_2bit(low, y[i].qs);
  }
}

// The sub-block fits shared by Q4_K and Q5_K: scales and mins of the eight 32-element
// sub-blocks, as 6-bit multiples of d = max scale / 63 and dmin = max min / 63 (packing at
// k4_scale_min in quant_formats.h); then every element re-rounded to 0..nmax against them.
template <typename Block>
void quantize_k4_scales(const float* x, Block& b, uint8_t* L, int nmax, float rmin, int nstep) {
  float scales[qk_k / 32], mins[qk_k / 32], weights[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < qk_k / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = fit_scale_min(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], rmin, 0.1f,
                              nstep, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < qk_k / 32; ++j) {
    const uint8_t ls = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
    const uint8_t lm = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
    if (j < 4) {
      b.scales[j] = ls;
      b.scales[j + 4] = lm;
    } else {
      b.scales[j + 4] = uint8_t((ls & 0xF) | ((lm & 0xF) << 4));
      b.scales[j - 4] |= uint8_t((ls >> 4) << 6);
      b.scales[j] |= uint8_t((lm >> 4) << 6);
    }
  }
  b.d = to_f16(max_scale / 63.f);
  b.dmin = to_f16(max_min / 63.f);
  for (int j = 0; j < qk_k / 32; ++j) {
    int sc, m;
    if (j < 4) {
      sc = b.scales[j] & 63;
      m = b.scales[j + 4] & 63;
    } else {
      sc = (b.scales[j + 4] & 0xF) | ((b.scales[j - 4] >> 6) << 4);
      m = (b.scales[j + 4] >> 4) | ((b.scales[j] >> 6) << 4);
    }
    const float d = f16(b.d) * sc;
    if (!d) continue;
    const float dm = f16(b.dmin) * m;
    for (int l = 0; l < 32; ++l)
      L[32 * j + l] = uint8_t(std::clamp(nearest_int((x[32 * j + l] + dm) / d), 0, nmax));
  }
}

void quantize_q4_K(const float* x, block_q4_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk_k) {
    uint8_t L[qk_k];
    quantize_k4_scales(x, y[i], L, 15, -1.f, 20);
    // 64-element chunk c: sub-block 2c in the low nibbles of qs[32c..], 2c + 1 in the high.
    for (int c = 0; c < 4; ++c)
      for (int l = 0; l < 32; ++l)
        y[i].qs[32 * c + l] = uint8_t(L[64 * c + l] | (L[64 * c + l + 32] << 4));
  }
}

void quantize_q5_K(const float* x, block_q5_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk_k) {
    uint8_t L[qk_k];
    quantize_k4_scales(x, y[i], L, 31, -0.5f, 15);
    // Q4_K's nibbles; the fifth bit of sub-block k's element l at bit k of qh[l].
    std::memset(y[i].qh, 0, sizeof(y[i].qh));
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int l1 = L[64 * c + l], l2 = L[64 * c + l + 32];
        y[i].qh[l] |= uint8_t(((l1 >> 4) << (2 * c)) | ((l2 >> 4) << (2 * c + 1)));
        y[i].qs[32 * c + l] = uint8_t((l1 & 0xF) | ((l2 & 0xF) << 4));
      }
    }
  }
}

void quantize_q6_K(const float* x, block_q6_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk_k) {
    int8_t L[qk_k];
    float scales[qk_k / 16];
    float max_scale = 0, max_abs_scale = 0;
    for (int j = 0; j < qk_k / 16; ++j) {
      scales[j] = fit_scale_symmetric(16, 32, x + 16 * j, L + 16 * j);
      if (std::fabs(scales[j]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[j]);
        max_scale = scales[j];
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(y[i]));
      continue;
    }
    // int8 sub-block scales with the largest on -128.
    const float iscale = -128.f / max_scale;
    y[i].d = to_f16(1 / iscale);
    for (int j = 0; j < qk_k / 16; ++j)
      y[i].scales[j] = int8_t(std::min(127, nearest_int(iscale * scales[j])));
    for (int j = 0; j < qk_k / 16; ++j) {
      const float d = f16(y[i].d) * y[i].scales[j];
      if (!d) continue;
      for (int l = 0; l < 16; ++l)
        L[16 * j + l] = int8_t(std::clamp(nearest_int(x[16 * j + l] / d), -32, 31) + 32);
    }
    // Layout at dequantize_q6_K in quant_formats.cpp.
    for (int h = 0; h < 2; ++h) {
      uint8_t* ql = y[i].ql + 64 * h;
      uint8_t* qh = y[i].qh + 32 * h;
      const int8_t* Lh = L + 128 * h;
      for (int l = 0; l < 32; ++l) {
        ql[l] = uint8_t((Lh[l] & 0xF) | ((Lh[l + 64] & 0xF) << 4));
        ql[l + 32] = uint8_t((Lh[l + 32] & 0xF) | ((Lh[l + 96] & 0xF) << 4));
        qh[l] = uint8_t((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) |
                        ((Lh[l + 96] >> 4) << 6));
      }
    }
  }
}

void quantize_q8_K(const float* x, block_q8_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk_k) {
    const float max = signed_absmax(x, qk_k);
    if (!max) {
      std::memset(&y[i], 0, sizeof(y[i]));
      continue;
    }
    const float iscale = -127.f / max;
    for (int j = 0; j < qk_k; ++j) y[i].qs[j] = int8_t(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < qk_k / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * j + l];
      y[i].bsums[j] = int16_t(sum);
    }
    y[i].d = 1 / iscale;
  }
}

// ---------- IQ4 ----------

// The index of the level nearest to x in the ascending table val[0..15] (the upper one on
// ties): ggml's bisection finds the interval val[lo] <= x < val[lo + 1]; counting the levels
// at or below x finds the same one without branches.
inline int nearest_level(const int8_t* val, float x) {
  if (x <= val[0]) return 0;
  if (x >= val[15]) return 15;
  int lo = 0;
  for (int k = 1; k < 15; ++k) lo += x >= val[k];
  return x - val[lo] < val[lo + 1] - x ? lo : lo + 1;
}

// One IQ4_NL block (n = 32, one fp16 scale) or one IQ4_XS super-block (n = 256: eight 32-
// element sub-blocks with 6-bit scales against d), as ggml's quantize_row_iq4_nl_impl with
// weights x^2 and 7 tries each way: each sub-block's scale is the least-squares one of the
// best of 15 level assignments around max / -127.
void quantize_iq4(int n, const float* x, uint16_t* dh, uint8_t* qs, uint16_t* scales_h,
                  uint8_t* scales_l) {
  constexpr int ntry = 7;
  const int8_t* values = kvalues_iq4nl;
  uint8_t L[qk_k];
  float scales[qk_k / 32], weight[32];
  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < n / 32; ++ib) {
    const float* xb = x + 32 * ib;
    uint8_t* Lb = L + 32 * ib;
    for (int j = 0; j < 32; ++j) weight[j] = xb[j] * xb[j];
    const float max = signed_absmax(xb, 32);
    if (std::fabs(max) < kGroupMaxEps) {
      scales[ib] = 0;
      continue;
    }
    auto sums = [&](float id, float& sumqx, float& sumq2, uint8_t* levels) {
      sumqx = sumq2 = 0;
      for (int j = 0; j < 32; ++j) {
        const int l = nearest_level(values, id * xb[j]);
        if (levels) levels[j] = uint8_t(l);
        const float q = values[l];
        sumqx += weight[j] * q * xb[j];
        sumq2 += weight[j] * q * q;
      }
    };
    float sumqx, sumq2;
    sums(1 / (-max / values[0]), sumqx, sumq2, Lb);
    float d = sumqx / sumq2;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      sums((itry + values[0]) / max, sumqx, sumq2, nullptr);
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    if (std::fabs(d) > amax_scale) {
      amax_scale = std::fabs(d);
      max_scale = d;
    }
  }
  if (n > 32) {
    // Sub-block scales as multiples l - 32 of d = -max / 32; levels re-chosen against them.
    *scales_h = 0;
    const float d = -max_scale / 32;
    *dh = to_f16(d);
    const float id = d ? 1 / d : 0.f;
    for (int ib = 0; ib < n / 32; ++ib) {
      const int l = std::clamp(nearest_int(id * scales[ib]), -32, 31);
      const float dl = d * l;
      const float idl = dl ? 1 / dl : 0.f;
      for (int j = 0; j < 32; ++j)
        L[32 * ib + j] = uint8_t(nearest_level(values, idl * x[32 * ib + j]));
      const int ls = l + 32;
      if (ib % 2 == 0)
        scales_l[ib / 2] = uint8_t(ls & 0xF);
      else
        scales_l[ib / 2] |= uint8_t((ls & 0xF) << 4);
      *scales_h |= uint16_t((ls >> 4) << (2 * ib));
    }
  } else {
    *dh = to_f16(scales[0]);
    const float id = scales[0] ? 1 / scales[0] : 0;
    for (int j = 0; j < 32; ++j) L[j] = uint8_t(nearest_level(values, id * x[j]));
  }
  for (int i = 0; i < n / 32; ++i)
    for (int j = 0; j < 16; ++j)
      qs[16 * i + j] = uint8_t(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

void quantize_iq4_nl(const float* x, block_iq4_nl* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk)
    quantize_iq4(qk, x, &y[i].d, y[i].qs, nullptr, nullptr);
}

void quantize_iq4_xs(const float* x, block_iq4_xs* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += qk_k)
    quantize_iq4(qk_k, x, &y[i].d, y[i].qs, &y[i].scales_h, y[i].scales_l);
}

}  // namespace

void quantize_row(Type t, const float* src, void* dst, int64_t n) {
  row_bytes(t, n);  // validates n
  const int64_t nb = n / format(t).block_size;
  switch (t) {
    case Type::Q4_0: return quantize_q4_0(src, static_cast<block_q4_0*>(dst), nb);
    case Type::Q4_1: return quantize_q4_1(src, static_cast<block_q4_1*>(dst), nb);
    case Type::Q5_0: return quantize_q5_0(src, static_cast<block_q5_0*>(dst), nb);
    case Type::Q5_1: return quantize_q5_1(src, static_cast<block_q5_1*>(dst), nb);
    case Type::Q8_0: return quantize_q8_0(src, static_cast<block_q8_0*>(dst), nb);
    case Type::Q8_1: return quantize_q8_1(src, static_cast<block_q8_1*>(dst), nb);
    case Type::Q2_K: return quantize_q2_K(src, static_cast<block_q2_K*>(dst), nb);
    case Type::Q3_K: return quantize_q3_K(src, static_cast<block_q3_K*>(dst), nb);
    case Type::Q4_K: return quantize_q4_K(src, static_cast<block_q4_K*>(dst), nb);
    case Type::Q5_K: return quantize_q5_K(src, static_cast<block_q5_K*>(dst), nb);
    case Type::Q6_K: return quantize_q6_K(src, static_cast<block_q6_K*>(dst), nb);
    case Type::Q8_K: return quantize_q8_K(src, static_cast<block_q8_K*>(dst), nb);
    case Type::IQ4_NL: return quantize_iq4_nl(src, static_cast<block_iq4_nl*>(dst), nb);
    case Type::IQ4_XS: return quantize_iq4_xs(src, static_cast<block_iq4_xs*>(dst), nb);
  }
}

}  // namespace alloy::quant
