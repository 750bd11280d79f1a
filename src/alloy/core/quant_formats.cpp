// The format table and the dequantizers of the block-quantized types. Each dequantizer walks
// one block at a time and writes the block's elements in order; the arithmetic (fp16 scale to
// float, then scale * q - min in float32, in ggml's order of operations) is ggml's, so the
// floats are the ones ggml computes. The quantizers are in quant_formats_quantize.cpp.
#include "alloy/core/quant_formats.h"

#include <cstring>
#include <stdexcept>

#include "alloy/core/half.h"

namespace alloy::quant {

const int8_t kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                  1,    13,   25,  38,  53,  69,  89,  113};

namespace {

static_assert(sizeof(block_q4_0) == 18 && sizeof(block_q4_1) == 20);
static_assert(sizeof(block_q5_0) == 22 && sizeof(block_q5_1) == 24);
static_assert(sizeof(block_q8_0) == 34 && sizeof(block_q8_1) == 36);
static_assert(sizeof(block_q2_K) == 84 && sizeof(block_q3_K) == 110);
static_assert(sizeof(block_q4_K) == 144 && sizeof(block_q5_K) == 176);
static_assert(sizeof(block_q6_K) == 210 && sizeof(block_q8_K) == 292);
static_assert(sizeof(block_iq4_nl) == 18 && sizeof(block_iq4_xs) == 136);

constexpr Format kFormats[] = {
    {Type::Q4_0, "Q4_0", qk, sizeof(block_q4_0)},
    {Type::Q4_1, "Q4_1", qk, sizeof(block_q4_1)},
    {Type::Q5_0, "Q5_0", qk, sizeof(block_q5_0)},
    {Type::Q5_1, "Q5_1", qk, sizeof(block_q5_1)},
    {Type::Q8_0, "Q8_0", qk, sizeof(block_q8_0)},
    {Type::Q8_1, "Q8_1", qk, sizeof(block_q8_1)},
    {Type::Q2_K, "Q2_K", qk_k, sizeof(block_q2_K)},
    {Type::Q3_K, "Q3_K", qk_k, sizeof(block_q3_K)},
    {Type::Q4_K, "Q4_K", qk_k, sizeof(block_q4_K)},
    {Type::Q5_K, "Q5_K", qk_k, sizeof(block_q5_K)},
    {Type::Q6_K, "Q6_K", qk_k, sizeof(block_q6_K)},
    {Type::Q8_K, "Q8_K", qk_k, sizeof(block_q8_K)},
    {Type::IQ4_NL, "IQ4_NL", qk, sizeof(block_iq4_nl)},
    {Type::IQ4_XS, "IQ4_XS", qk_k, sizeof(block_iq4_xs)},
};

inline float f16(uint16_t h) { return detail::half_bits_to_float(h); }

void dequantize_q4_0(const block_q4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk) {
    const float d = f16(b[i].d);
    for (int j = 0; j < qk / 2; ++j) {
      y[j] = ((b[i].qs[j] & 0xF) - 8) * d;
      y[j + qk / 2] = ((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1(const block_q4_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk) {
    const float d = f16(b[i].d), m = f16(b[i].m);
    for (int j = 0; j < qk / 2; ++j) {
      y[j] = (b[i].qs[j] & 0xF) * d + m;
      y[j + qk / 2] = (b[i].qs[j] >> 4) * d + m;
    }
  }
}

// The 5-bit types: element j's low nibble as in Q4, its fifth bit is bit j of qh.
template <typename Block>
inline void q5_values(const Block& b, int j, int& lo, int& hi) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, sizeof(qh));
  lo = (b.qs[j] & 0xF) | (((qh >> j) & 1) << 4);
  hi = (b.qs[j] >> 4) | (((qh >> (j + qk / 2)) & 1) << 4);
}

void dequantize_q5_0(const block_q5_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk) {
    const float d = f16(b[i].d);
    for (int j = 0; j < qk / 2; ++j) {
      int lo, hi;
      q5_values(b[i], j, lo, hi);
      y[j] = (lo - 16) * d;
      y[j + qk / 2] = (hi - 16) * d;
    }
  }
}

void dequantize_q5_1(const block_q5_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk) {
    const float d = f16(b[i].d), m = f16(b[i].m);
    for (int j = 0; j < qk / 2; ++j) {
      int lo, hi;
      q5_values(b[i], j, lo, hi);
      y[j] = lo * d + m;
      y[j + qk / 2] = hi * d + m;
    }
  }
}

template <typename Block>
void dequantize_q8(const Block* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk) {
    const float d = f16(b[i].d);
    for (int j = 0; j < qk; ++j) y[j] = b[i].qs[j] * d;
  }
}

// Q2_K: each 128-element half reads 32 bytes of qs; element 32 * g + l of the half is bits
// 2g..2g+1 of qs[l]. scales[k] covers elements 16k..16k+15 (scale low nibble, min high).
void dequantize_q2_K(const block_q2_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16(b[i].d), dmin = f16(b[i].dmin);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = b[i].qs + 32 * h;
      for (int g = 0; g < 4; ++g) {
        for (int s = 0; s < 2; ++s, y += 16) {
          const uint8_t sc = b[i].scales[8 * h + 2 * g + s];
          const float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
          for (int l = 0; l < 16; ++l) y[l] = dl * ((q[16 * s + l] >> (2 * g)) & 3) - ml;
        }
      }
    }
  }
}

// Q3_K's sixteen 6-bit scales, stored offset by 32: low nibbles in bytes 0..7 (scale k < 8 in
// the low nibble of byte k, scale k >= 8 in the high nibble of byte k - 8), high two bits in
// bytes 8..11 (scale k at bits 2 * (k / 4) of byte 8 + k % 4).
inline int q3_K_scale(const uint8_t* s, int k) {
  const int lo = k < 8 ? s[k] & 0xF : s[k - 8] >> 4;
  const int hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

// Q3_K: the low two bits laid out as Q2_K's; the third bit of element 32 * c + l (c = 0..7)
// is bit c of hmask[l], and a clear bit subtracts 4.
void dequantize_q3_K(const block_q3_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16(b[i].d);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* q = b[i].qs + 32 * h;
      for (int g = 0; g < 4; ++g) {
        const int bit = 4 * h + g;
        for (int s = 0; s < 2; ++s, y += 16) {
          const float dl = d * q3_K_scale(b[i].scales, 8 * h + 2 * g + s);
          for (int l = 0; l < 16; ++l) {
            const int k = 16 * s + l;
            const int v = ((q[k] >> (2 * g)) & 3) - (((b[i].hmask[k] >> bit) & 1) ? 0 : 4);
            y[l] = dl * v;
          }
        }
      }
    }
  }
}

// Q4_K: 64-element chunk c reads qs[32c .. 32c + 31]: low nibbles are sub-block 2c, high
// nibbles sub-block 2c + 1.
void dequantize_q4_K(const block_q4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16(b[i].d), dmin = f16(b[i].dmin);
    for (int c = 0; c < 4; ++c, y += 64) {
      const uint8_t* q = b[i].qs + 32 * c;
      int sc, m;
      k4_scale_min(b[i].scales, 2 * c, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      k4_scale_min(b[i].scales, 2 * c + 1, sc, m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) y[l] = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) y[l + 32] = d2 * (q[l] >> 4) - m2;
    }
  }
}

// Q5_K: Q4_K's layout plus a fifth bit: for sub-block k, bit k of qh[l] (l = 0..31).
void dequantize_q5_K(const block_q5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16(b[i].d), dmin = f16(b[i].dmin);
    for (int c = 0; c < 4; ++c, y += 64) {
      const uint8_t* q = b[i].qs + 32 * c;
      const uint8_t* qh = b[i].qh;
      int sc, m;
      k4_scale_min(b[i].scales, 2 * c, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      k4_scale_min(b[i].scales, 2 * c + 1, sc, m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l)
        y[l] = d1 * ((q[l] & 0xF) + (((qh[l] >> (2 * c)) & 1) << 4)) - m1;
      for (int l = 0; l < 32; ++l)
        y[l + 32] = d2 * ((q[l] >> 4) + (((qh[l] >> (2 * c + 1)) & 1) << 4)) - m2;
    }
  }
}

// Q6_K: per 128-element half (ql 64 bytes, qh 32 bytes, 8 scales), element 32 * g + l takes
// its low nibble from ql[l + 32 * (g % 2)] (low nibble for g < 2, high for g >= 2) and its
// high two bits from bits 2g..2g+1 of qh[l]; stored offset by 32; one int8 scale per 16.
void dequantize_q6_K(const block_q6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16(b[i].d);
    for (int h = 0; h < 2; ++h, y += 128) {
      const uint8_t* ql = b[i].ql + 64 * h;
      const uint8_t* qh = b[i].qh + 32 * h;
      const int8_t* sc = b[i].scales + 8 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void dequantize_q8_K(const block_q8_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk_k) {
    for (int j = 0; j < qk_k; ++j) y[j] = b[i].d * b[i].qs[j];
  }
}

// 32 elements of the IQ4 types: element j in the low nibble of qs[j], j + 16 in the high one.
inline void iq4_block(const uint8_t* qs, float d, float* y) {
  for (int j = 0; j < 16; ++j) {
    y[j] = d * kvalues_iq4nl[qs[j] & 0xF];
    y[j + 16] = d * kvalues_iq4nl[qs[j] >> 4];
  }
}

void dequantize_iq4_nl(const block_iq4_nl* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += qk) iq4_block(b[i].qs, f16(b[i].d), y);
}

// IQ4_XS: eight 6-bit sub-block scales offset by 32: low nibble k in scales_l[k / 2] (low
// nibble for even k), top two bits at bit 2k of scales_h.
void dequantize_iq4_xs(const block_iq4_xs* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = f16(b[i].d);
    for (int k = 0; k < qk_k / 32; ++k, y += 32) {
      const int ls = ((b[i].scales_l[k / 2] >> (4 * (k % 2))) & 0xF) |
                     (((b[i].scales_h >> (2 * k)) & 3) << 4);
      iq4_block(b[i].qs + 16 * k, d * (ls - 32), y);
    }
  }
}

}  // namespace

const Format* format(uint32_t ggml_type) {
  for (const Format& f : kFormats)
    if (uint32_t(f.type) == ggml_type) return &f;
  return nullptr;
}

const Format& format(Type t) {
  const Format* f = format(uint32_t(t));
  if (!f) throw std::invalid_argument("[quant] unknown type id " + std::to_string(uint32_t(t)));
  return *f;
}

size_t row_bytes(Type t, int64_t n) {
  const Format& f = format(t);
  if (n < 0 || n % f.block_size != 0)
    throw std::invalid_argument(std::string("[quant] ") + f.name + ": n = " + std::to_string(n) +
                                " is not a multiple of the block size " +
                                std::to_string(f.block_size));
  return size_t(n / f.block_size) * size_t(f.block_bytes);
}

bool has_matmul_kernel(Type t) {
  switch (t) {
    case Type::Q4_0:
    case Type::Q8_0:
    case Type::Q4_K:
    case Type::Q5_K:
    case Type::Q6_K:
      return true;
    case Type::Q4_1:
    case Type::Q5_0:
    case Type::Q5_1:
    case Type::Q8_1:
    case Type::Q2_K:
    case Type::Q3_K:
    case Type::Q8_K:
    case Type::IQ4_NL:
    case Type::IQ4_XS:
      return false;
  }
  return false;
}

void dequantize_row(Type t, const void* src, float* dst, int64_t n) {
  row_bytes(t, n);  // validates n
  const int64_t nb = n / format(t).block_size;
  switch (t) {
    case Type::Q4_0: return dequantize_q4_0(static_cast<const block_q4_0*>(src), dst, nb);
    case Type::Q4_1: return dequantize_q4_1(static_cast<const block_q4_1*>(src), dst, nb);
    case Type::Q5_0: return dequantize_q5_0(static_cast<const block_q5_0*>(src), dst, nb);
    case Type::Q5_1: return dequantize_q5_1(static_cast<const block_q5_1*>(src), dst, nb);
    case Type::Q8_0: return dequantize_q8(static_cast<const block_q8_0*>(src), dst, nb);
    case Type::Q8_1: return dequantize_q8(static_cast<const block_q8_1*>(src), dst, nb);
    case Type::Q2_K: return dequantize_q2_K(static_cast<const block_q2_K*>(src), dst, nb);
    case Type::Q3_K: return dequantize_q3_K(static_cast<const block_q3_K*>(src), dst, nb);
    case Type::Q4_K: return dequantize_q4_K(static_cast<const block_q4_K*>(src), dst, nb);
    case Type::Q5_K: return dequantize_q5_K(static_cast<const block_q5_K*>(src), dst, nb);
    case Type::Q6_K: return dequantize_q6_K(static_cast<const block_q6_K*>(src), dst, nb);
    case Type::Q8_K: return dequantize_q8_K(static_cast<const block_q8_K*>(src), dst, nb);
    case Type::IQ4_NL: return dequantize_iq4_nl(static_cast<const block_iq4_nl*>(src), dst, nb);
    case Type::IQ4_XS: return dequantize_iq4_xs(static_cast<const block_iq4_xs*>(src), dst, nb);
  }
}

}  // namespace alloy::quant
