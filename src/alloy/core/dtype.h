// Element types, their sizes and kinds, and the type-promotion rules (NumPy/MLX style).
#pragma once

#include <complex>
#include <cstdint>
#include <ostream>
#include <string>
#include <type_traits>

#include "alloy/core/half.h"

namespace alloy {

enum class Dtype : uint8_t {
  bool_,
  uint8,
  uint16,
  uint32,
  uint64,
  int8,
  int16,
  int32,
  int64,
  float16,
  bfloat16,
  float32,
  float64,
};

inline constexpr Dtype bool_ = Dtype::bool_;
inline constexpr Dtype uint8 = Dtype::uint8;
inline constexpr Dtype uint16 = Dtype::uint16;
inline constexpr Dtype uint32 = Dtype::uint32;
inline constexpr Dtype uint64 = Dtype::uint64;
inline constexpr Dtype int8 = Dtype::int8;
inline constexpr Dtype int16 = Dtype::int16;
inline constexpr Dtype int32 = Dtype::int32;
inline constexpr Dtype int64 = Dtype::int64;
inline constexpr Dtype float16 = Dtype::float16;
inline constexpr Dtype bfloat16 = Dtype::bfloat16;
inline constexpr Dtype float32 = Dtype::float32;
inline constexpr Dtype float64 = Dtype::float64;
inline constexpr int num_dtypes = 13;

size_t size_of(Dtype t);
const char* dtype_name(Dtype t);
std::ostream& operator<<(std::ostream& os, Dtype t);

inline bool is_floating(Dtype t) {
  return t == float16 || t == bfloat16 || t == float32 || t == float64;
}
inline bool is_unsigned(Dtype t) {
  return t == uint8 || t == uint16 || t == uint32 || t == uint64;
}
inline bool is_signed_integer(Dtype t) {
  return t == int8 || t == int16 || t == int32 || t == int64;
}
inline bool is_integral(Dtype t) { return is_unsigned(t) || is_signed_integer(t); }

// The smallest type both a and b convert to without losing their kind: bool < ints < floats.
// Mixed signed/unsigned widens (uint8+int8 -> int16); uint64+int64 -> float32 as in MLX;
// an integer with a float keeps the float (int32+float16 -> float16); f16+bf16 -> f32.
Dtype promote_types(Dtype a, Dtype b);

// The dtype to compute float functions (exp, sin, mean...) in: floats keep theirs, others float32.
inline Dtype float_result_type(Dtype t) { return is_floating(t) ? t : float32; }

template <typename T>
struct TypeToDtype;
#define ALLOY_TYPE_TO_DTYPE(T, D) \
  template <>                     \
  struct TypeToDtype<T> {         \
    static constexpr Dtype value = D; \
  };
ALLOY_TYPE_TO_DTYPE(bool, bool_)
ALLOY_TYPE_TO_DTYPE(uint8_t, uint8)
ALLOY_TYPE_TO_DTYPE(uint16_t, uint16)
ALLOY_TYPE_TO_DTYPE(uint32_t, uint32)
ALLOY_TYPE_TO_DTYPE(uint64_t, uint64)
ALLOY_TYPE_TO_DTYPE(int8_t, int8)
ALLOY_TYPE_TO_DTYPE(int16_t, int16)
ALLOY_TYPE_TO_DTYPE(int32_t, int32)
ALLOY_TYPE_TO_DTYPE(int64_t, int64)
ALLOY_TYPE_TO_DTYPE(float16_t, float16)
ALLOY_TYPE_TO_DTYPE(bfloat16_t, bfloat16)
ALLOY_TYPE_TO_DTYPE(float, float32)
ALLOY_TYPE_TO_DTYPE(double, float64)
#undef ALLOY_TYPE_TO_DTYPE
// `long long` is a distinct type from int64_t (`long`) on LP64 Linux.
template <>
struct TypeToDtype<long long> {
  static constexpr Dtype value = int64;
};
template <>
struct TypeToDtype<unsigned long long> {
  static constexpr Dtype value = uint64;
};

template <typename T>
inline constexpr Dtype dtype_of = TypeToDtype<std::remove_cv_t<T>>::value;

// Calls fn(T{}) with T the C++ type of `t`. Every switch over dtypes lists all cases.
template <typename Fn>
decltype(auto) dispatch_dtype(Dtype t, Fn&& fn) {
  switch (t) {
    case Dtype::bool_: return fn(bool{});
    case Dtype::uint8: return fn(uint8_t{});
    case Dtype::uint16: return fn(uint16_t{});
    case Dtype::uint32: return fn(uint32_t{});
    case Dtype::uint64: return fn(uint64_t{});
    case Dtype::int8: return fn(int8_t{});
    case Dtype::int16: return fn(int16_t{});
    case Dtype::int32: return fn(int32_t{});
    case Dtype::int64: return fn(int64_t{});
    case Dtype::float16: return fn(float16_t{});
    case Dtype::bfloat16: return fn(bfloat16_t{});
    case Dtype::float32: return fn(float{});
    case Dtype::float64: return fn(double{});
  }
  __builtin_unreachable();
}

}  // namespace alloy
