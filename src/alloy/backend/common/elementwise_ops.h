// One functor per elementwise op, shared by the CPU backend (and written so a CUDA backend can
// include it with ALLOY_HD = __host__ __device__). Inputs arrive in the compute type: float for
// float16/bfloat16, the storage type otherwise.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "alloy/core/half.h"

#ifndef ALLOY_HD
#ifdef __CUDACC__
#define ALLOY_HD __host__ __device__
#else
#define ALLOY_HD
#endif
#endif

namespace alloy::ew {

template <typename T>
using compute_t = std::conditional_t<std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>, float, T>;

template <typename T>
inline constexpr bool is_float_v = std::is_floating_point_v<T>;

// erfinv by Giles' approximation ("Approximating the erfinv function", GPU Gems 2012): a few ulp
// in float; the double path refines it with two Newton steps on erf(y) - x.
template <typename T>
ALLOY_HD inline T erfinv_impl(T x) {
  if (x <= T(-1)) return x == T(-1) ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::quiet_NaN();
  if (x >= T(1)) return x == T(1) ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::quiet_NaN();
  T w = -std::log((T(1) - x) * (T(1) + x));
  T p;
  if (w < T(5)) {
    w = w - T(2.5);
    p = T(2.81022636e-08);
    p = T(3.43273939e-07) + p * w;
    p = T(-3.5233877e-06) + p * w;
    p = T(-4.39150654e-06) + p * w;
    p = T(0.00021858087) + p * w;
    p = T(-0.00125372503) + p * w;
    p = T(-0.00417768164) + p * w;
    p = T(0.246640727) + p * w;
    p = T(1.50140941) + p * w;
  } else {
    w = std::sqrt(w) - T(3);
    p = T(-0.000200214257);
    p = T(0.000100950558) + p * w;
    p = T(0.00134934322) + p * w;
    p = T(-0.00367342844) + p * w;
    p = T(0.00573950773) + p * w;
    p = T(-0.0076224613) + p * w;
    p = T(0.00943887047) + p * w;
    p = T(1.00167406) + p * w;
    p = T(2.83297682) + p * w;
  }
  T y = p * x;
  if constexpr (std::is_same_v<T, double>) {
    for (int i = 0; i < 2; ++i) {
      double err = std::erf(y) - x;
      y -= err / (1.1283791670955126 * std::exp(-y * y));
    }
  }
  return y;
}

}  // namespace alloy::ew
