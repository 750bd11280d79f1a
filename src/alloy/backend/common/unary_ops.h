// Unary elementwise functors shared by the CPU and CUDA backends. Each takes and returns the
// compute type (float for 16-bit floats, the storage type otherwise).
#pragma once

#include <cmath>
#include <type_traits>

#include "alloy/backend/common/elementwise_ops.h"
#include "alloy/backend/common/fast_math.h"

namespace alloy::ew::unary {

// exp and log: on the CPU, float goes through the vectorizable polynomials of fast_math.h.
template <typename T>
ALLOY_HD inline T fexp(T x) {
#ifdef __CUDA_ARCH__
  return std::exp(x);
#else
  if constexpr (std::is_same_v<T, float>) return fast_expf(x);
  else return std::exp(x);
#endif
}
template <typename T>
ALLOY_HD inline T flog(T x) {
#ifdef __CUDA_ARCH__
  return std::log(x);
#else
  if constexpr (std::is_same_v<T, float>) return fast_logf(x);
  else return std::log(x);
#endif
}

// expm1, log1p and erf likewise (libm's are scalar calls, about 5x slower than these loops).
template <typename T>
ALLOY_HD inline T fexpm1(T x) {
#ifdef __CUDA_ARCH__
  return std::expm1(x);
#else
  if constexpr (std::is_same_v<T, float>) return fast_expm1f(x);
  else return std::expm1(x);
#endif
}
template <typename T>
ALLOY_HD inline T flog1p(T x) {
#ifdef __CUDA_ARCH__
  return std::log1p(x);
#else
  if constexpr (std::is_same_v<T, float>) return fast_log1pf(x);
  else return std::log1p(x);
#endif
}
template <typename T>
ALLOY_HD inline T ferf(T x) {
#ifdef __CUDA_ARCH__
  return std::erf(x);
#else
  if constexpr (std::is_same_v<T, float>) return fast_erff(x);
  else return std::erf(x);
#endif
}

#define ALLOY_FN(NAME, EXPR)                  \
  struct NAME {                               \
    template <typename T>                     \
    ALLOY_HD T operator()(T x) const { return EXPR; }  \
  };
ALLOY_FN(Exp, fexp(x))
ALLOY_FN(Expm1, fexpm1(x))
ALLOY_FN(Log, flog(x))
ALLOY_FN(Log1p, flog1p(x))
ALLOY_FN(Log2, std::log2(x))
ALLOY_FN(Log10, std::log10(x))
ALLOY_FN(Sqrt, std::sqrt(x))
ALLOY_FN(Rsqrt, T(1) / std::sqrt(x))
ALLOY_FN(Reciprocal, T(1) / x)
ALLOY_FN(Sin, std::sin(x))
ALLOY_FN(Cos, std::cos(x))
ALLOY_FN(Tan, std::tan(x))
ALLOY_FN(ArcSin, std::asin(x))
ALLOY_FN(ArcCos, std::acos(x))
ALLOY_FN(ArcTan, std::atan(x))
ALLOY_FN(Sinh, std::sinh(x))
ALLOY_FN(Cosh, std::cosh(x))
ALLOY_FN(Tanh, std::tanh(x))
ALLOY_FN(ArcSinh, std::asinh(x))
ALLOY_FN(ArcCosh, std::acosh(x))
ALLOY_FN(ArcTanh, std::atanh(x))
ALLOY_FN(Sigmoid, T(1) / (T(1) + fexp(-x)))
ALLOY_FN(Erf, ferf(x))
ALLOY_FN(ErfInv, ew::erfinv_impl(x))
ALLOY_FN(Floor, std::floor(x))
ALLOY_FN(Ceil, std::ceil(x))
ALLOY_FN(Round, std::nearbyint(x))
#undef ALLOY_FN

struct Abs {
  template <typename T>
  ALLOY_HD T operator()(T x) const {
    if constexpr (std::is_unsigned_v<T>) return x;
    else return x < T(0) ? T(-x) : x;
  }
};
struct Negative {
  template <typename T>
  ALLOY_HD T operator()(T x) const { return T(-x); }
};
struct Square {
  template <typename T>
  ALLOY_HD T operator()(T x) const { return T(x * x); }
};
struct Sign {
  template <typename T>
  ALLOY_HD T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) {
      return x != x ? x : T((x > T(0)) - (x < T(0)));
    } else if constexpr (std::is_unsigned_v<T>) {
      return T(x != 0);
    } else {
      return T((x > T(0)) - (x < T(0)));
    }
  }
};
struct BitwiseInvert {
  template <typename T>
  ALLOY_HD T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) return !x;
    else if constexpr (std::is_integral_v<T>) return T(~x);
    else return x;  // floats are refused by the op
  }
};

struct IsNaN {
  template <typename T>
  ALLOY_HD bool operator()(T x) const { return x != x; }
};
struct IsInf {
  template <typename T>
  ALLOY_HD bool operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) return std::isinf(x);
    else return false;
  }
};
struct IsZero {
  template <typename T>
  ALLOY_HD bool operator()(T x) const { return x == T(0); }
};


}  // namespace alloy::ew::unary
