// 16-bit floating-point storage types. Arithmetic happens in float32 registers: every
// operator converts to float, computes, and rounds back (round-to-nearest-even).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <ostream>

namespace alloy {

namespace detail {

// IEEE binary16 -> binary32, the portable reference. GCC 12 keeps loops over it scalar, so the
// CPU backend converts whole rows with F16C where the CPU has it (backend/cpu/half_rows.h).
inline float half_bits_to_float(uint16_t h) {
  uint32_t sign = (uint32_t(h) & 0x8000u) << 16;
  uint32_t exp_mant = uint32_t(h) & 0x7fffu;
  // Normal and inf/nan: rebias the exponent; subnormal: scale by 2^-24 via float multiply.
  uint32_t normal_bits = (exp_mant << 13) + ((127 - 15) << 23);
  if (exp_mant >= 0x7c00u) normal_bits += (128 - 16) << 23;  // inf/nan keep all-ones exponent
  float sub = float(exp_mant) * 5.9604644775390625e-8f;      // 2^-24
  uint32_t sub_bits = std::bit_cast<uint32_t>(sub);
  uint32_t bits = (exp_mant < 0x0400u) ? sub_bits : normal_bits;
  return std::bit_cast<float>(bits | sign);
}

inline uint16_t float_to_half_bits(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);  // nan
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to inf
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): let the float adder do the rounding at 2^-24 granularity.
    float scaled = std::bit_cast<float>(abs) + 0.5f;  // 0.5 = 2^-1, ulp 2^-24 in this range
    return uint16_t(sign | (std::bit_cast<uint32_t>(scaled) - 0x3f000000u));
  }
  uint32_t mant_odd = (abs >> 13) & 1u;
  abs += 0xc8000fffu + mant_odd;  // rebias exponent (-112 << 23) and round to nearest even
  return uint16_t(sign | (abs >> 13));
}

inline float bf16_bits_to_float(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

inline uint16_t float_to_bf16_bits(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);  // quiet nan
  x += 0x7fffu + ((x >> 16) & 1u);
  return uint16_t(x >> 16);
}

}  // namespace detail

#define ALLOY_HALF_TYPE(NAME, TO_FLOAT, FROM_FLOAT)                                    \
  struct NAME {                                                                        \
    uint16_t bits = 0;                                                                 \
    NAME() = default;                                                                  \
    NAME(float f) : bits(detail::FROM_FLOAT(f)) {}                                     \
    NAME(double d) : NAME(float(d)) {}                                                 \
    template <typename T>                                                              \
      requires std::is_integral_v<T>                                                   \
    NAME(T v) : NAME(float(v)) {}                                                      \
    static NAME from_bits(uint16_t b) {                                                \
      NAME h;                                                                          \
      h.bits = b;                                                                      \
      return h;                                                                        \
    }                                                                                  \
    operator float() const { return detail::TO_FLOAT(bits); }                          \
    NAME& operator+=(NAME o) { return *this = NAME(float(*this) + float(o)); }         \
    NAME& operator-=(NAME o) { return *this = NAME(float(*this) - float(o)); }         \
    NAME& operator*=(NAME o) { return *this = NAME(float(*this) * float(o)); }         \
    NAME& operator/=(NAME o) { return *this = NAME(float(*this) / float(o)); }         \
  };                                                                                   \
  inline std::ostream& operator<<(std::ostream& os, NAME v) { return os << float(v); }

ALLOY_HALF_TYPE(float16_t, half_bits_to_float, float_to_half_bits)
ALLOY_HALF_TYPE(bfloat16_t, bf16_bits_to_float, float_to_bf16_bits)
#undef ALLOY_HALF_TYPE

}  // namespace alloy
