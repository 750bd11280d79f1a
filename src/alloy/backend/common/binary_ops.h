// Binary elementwise functors shared by the CPU and CUDA backends, on the compute type.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "alloy/backend/common/elementwise_ops.h"
#include "alloy/backend/common/fast_math.h"

namespace alloy::ew::binary {

template <typename T>
ALLOY_HD inline bool is_negative(T v) {
  if constexpr (std::is_signed_v<T>) return v < T(0);
  else return false;
}

#define ALLOY_FN2(NAME, EXPR)                          \
  struct NAME {                                        \
    template <typename T>                              \
    ALLOY_HD auto operator()(T a, T b) const { return EXPR; }   \
  };
ALLOY_FN2(Add, T(a + b))
ALLOY_FN2(Subtract, T(a - b))
ALLOY_FN2(Multiply, T(a * b))
ALLOY_FN2(Divide, T(a / b))
ALLOY_FN2(Equal, a == b)
ALLOY_FN2(NotEqual, a != b)
ALLOY_FN2(Less, a < b)
ALLOY_FN2(LessEqual, a <= b)
ALLOY_FN2(Greater, a > b)
ALLOY_FN2(GreaterEqual, a >= b)
ALLOY_FN2(LogicalAnd, bool(a) && bool(b))
ALLOY_FN2(LogicalOr, bool(a) || bool(b))
ALLOY_FN2(ArcTan2, std::atan2(a, b))
#undef ALLOY_FN2

// NaN from either argument wins, as in NumPy and PyTorch (a != a is false for integers, so
// the test costs them nothing; floats compare once more and blend, which still vectorizes).
struct Maximum {
  template <typename T>
  ALLOY_HD T operator()(T a, T b) const { return a > b || a != a ? a : b; }
};
struct Minimum {
  template <typename T>
  ALLOY_HD T operator()(T a, T b) const { return a < b || a != a ? a : b; }
};
struct FloorDivide {
  template <typename T>
  ALLOY_HD T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::floor(a / b);
    } else if constexpr (std::is_signed_v<T>) {
      if (b == 0) return 0;
      if (b == T(-1)) return T(-a);  // avoids INT_MIN / -1 overflow trap
      T q = a / b;
      return (a % b != 0 && ((a < 0) != (b < 0))) ? T(q - 1) : q;
    } else {
      return b == 0 ? T(0) : T(a / b);
    }
  }
};
struct Remainder {
  template <typename T>
  ALLOY_HD T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      T r = std::fmod(a, b);
      return (r != 0 && ((r < 0) != (b < 0))) ? T(r + b) : r;
    } else if constexpr (std::is_signed_v<T>) {
      if (b == 0 || b == T(-1)) return 0;
      T r = a % b;
      return (r != 0 && ((r < 0) != (b < 0))) ? T(r + b) : r;
    } else {
      return b == 0 ? T(0) : T(a % b);
    }
  }
};
struct Power {
  template <typename T>
  ALLOY_HD T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::pow(a, b);
    } else {
      if constexpr (std::is_signed_v<T>) {
        if (b < 0) return a == 1 ? T(1) : (a == T(-1) ? T((b & 1) ? -1 : 1) : T(0));
      }
      T result = 1;
      T base = a;
      auto e = b;
      while (e) {
        if (e & 1) result = T(result * base);
        base = T(base * base);
        e >>= 1;
      }
      return result;
    }
  }
};
struct LogAddExp {
  template <typename T>
  ALLOY_HD T operator()(T a, T b) const {
#ifndef __CUDA_ARCH__
    if constexpr (std::is_same_v<T, float>) return fast_logaddexpf(a, b);  // vectorizes
#endif
    if (a != a || b != b) return std::numeric_limits<T>::quiet_NaN();
    T m = a > b ? a : b;
    if (m == -std::numeric_limits<T>::infinity()) return m;
    if (m == std::numeric_limits<T>::infinity()) return m;
    return m + std::log1p(std::exp(-std::abs(a - b)));
  }
};
struct BitwiseAnd {
  template <typename T>
  ALLOY_HD T operator()(T a, T b) const { return T(a & b); }
};
struct BitwiseOr {
  template <typename T>
  ALLOY_HD T operator()(T a, T b) const { return T(a | b); }
};
struct BitwiseXor {
  template <typename T>
  ALLOY_HD T operator()(T a, T b) const { return T(a ^ b); }
};
struct LeftShift {
  template <typename T>
  ALLOY_HD T operator()(T a, T b) const {
    if (is_negative(b) || uint64_t(b) >= sizeof(T) * 8) return 0;
    return T(std::make_unsigned_t<T>(a) << b);
  }
};
struct RightShift {
  template <typename T>
  ALLOY_HD T operator()(T a, T b) const {
    if (is_negative(b) || uint64_t(b) >= sizeof(T) * 8) return is_negative(a) ? T(-1) : T(0);
    return T(a >> b);
  }
};

}  // namespace alloy::ew::binary
