// Branch-free float32 exp, log, expm1, log1p and erf (about 1-2 ulp; tests/core/test_fast_math.cpp
// measures them) for CPU loops: libm's versions are scalar calls, these vectorize. Host code only;
// GPU code uses the device's own.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

namespace alloy::ew {

inline float pow2i(int32_t n) { return std::bit_cast<float>(uint32_t(n + 127) << 23); }

inline float fast_expf(float x) {
  float xc = x > 89.0f ? 89.0f : (x < -104.0f ? -104.0f : x);
  xc = x != x ? 0.0f : xc;
  float n = std::nearbyint(xc * 1.44269504088896341f);
  float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float y = p * r2 + r + 1.0f;
  // 2^n in two factors so results down to the subnormal range stay exact.
  int32_t ni = int32_t(n);
  int32_t n1 = ni >> 1;
  y = y * pow2i(n1) * pow2i(ni - n1);
  return x != x ? x : y;
}

// log(x) for positive, normal, finite x, whose exponent is then read as its own plus e_offset.
inline float log_normal(float x, float e_offset) {
  int32_t bits = std::bit_cast<int32_t>(x);
  float e = float(((bits >> 23) & 0xff) - 126) + e_offset;
  float m = std::bit_cast<float>((bits & 0x007fffff) | 0x3f000000);  // [0.5, 1)
  bool small = m < 0.707106781186547524f;
  e = small ? e - 1.0f : e;
  m = small ? m + m - 1.0f : m - 1.0f;
  float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m - 1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m - 1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m - 1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m - 2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y += -2.12194440e-4f * e;
  y += -0.5f * z;
  return m + y + 0.693359375f * e;
}

inline float fast_logf(float x) {
  // Subnormals are scaled into the normal range first.
  bool sub = x < std::numeric_limits<float>::min();
  float xs = sub ? x * 8388608.0f : x;  // 2^23
  float r = log_normal(xs, sub ? -23.0f : 0.0f);
  r = x == 0.0f ? -std::numeric_limits<float>::infinity() : r;
  r = x < 0.0f || x != x ? std::numeric_limits<float>::quiet_NaN() : r;
  r = x == std::numeric_limits<float>::infinity() ? x : r;
  return r;
}

// x = n ln2 + r with |r| <= ln2/2: expm1(x) = 2^n expm1(r) + (2^n - 1), and expm1(r) = r + r^2 P(r)
// (exp's polynomial) keeps full relative accuracy near 0, where exp(x) - 1 would cancel.
inline float fast_expm1f(float x) {
  constexpr float max_finite = 88.7228317f;  // the largest float whose exp is finite
  float xc = x > max_finite ? max_finite : (x < -87.0f ? -87.0f : x);  // expm1(-87) is -1
  xc = x != x ? 0.0f : xc;
  float n = std::nearbyint(xc * 1.44269504088896341f);
  float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  float em = p * (r * r) + r;
  // 2^128 is not a float: above n = 64 (where the -1 no longer counts) scale by 2^(n-1), then 2.
  int32_t ni = int32_t(n);
  bool big = ni > 64;
  float s = pow2i(big ? ni - 1 : ni);
  float y = em * s + (big ? s : s - 1.0f);
  y = big ? y + y : y;
  y = x > max_finite ? std::numeric_limits<float>::infinity() : y;
  return x != x || x == 0.0f ? x : y;  // NaN, and the sign of -0
}

// log1p(x) = log(u) + (x - (u - 1)) / u with u = 1 + x rounded: the quotient restores what the
// rounding of u lost (Goldberg, "What every computer scientist should know...", thm. 4).
inline float fast_log1pf(float x) {
  float u = 1.0f + x;
  float c = (x - (u - 1.0f)) / u;
  float r = fast_logf(u) + c;
  r = u == std::numeric_limits<float>::infinity() ? u : r;
  r = x == -1.0f ? -std::numeric_limits<float>::infinity() : r;
  r = x < -1.0f || x != x ? std::numeric_limits<float>::quiet_NaN() : r;
  return x == 0.0f ? x : r;  // the sign of -0
}

// erf in two pieces, weighted least-squares fits in float64 rounded to float. |x| < 0.9:
// x + x P(x^2), P(0) = 2/sqrt(pi) - 1, so the leading term x costs no rounding. 0.9 <= |x| < 4:
// 1 - exp(-x^2) R(|x| - 2.45) with R ~ erfc(x) exp(x^2); from 4 on erf is 1 in float.
inline float fast_erff(float x) {
  float s = x * x;
  float p = 8.578744746e-05f;
  p = p * s - 8.192114765e-04f;
  p = p * s + 5.205425899e-03f;
  p = p * s - 2.686120756e-02f;
  p = p * s + 1.128372923e-01f;
  p = p * s - 3.761263490e-01f;
  p = p * s + 1.283791661e-01f;
  float small = x + x * p;
  float a = x < 0.0f ? -x : x;
  a = a > 4.0f ? 4.0f : a;
  float t = a - 2.45f;
  float q = -3.404928430e-05f;
  q = q * t - 7.411174010e-05f;
  q = q * t - 1.599651732e-04f;
  q = q * t + 2.601545129e-04f;
  q = q * t - 6.789591280e-04f;
  q = q * t + 2.730931621e-03f;
  q = q * t - 8.516235277e-03f;
  q = q * t + 2.616245858e-02f;
  q = q * t - 7.690539956e-02f;
  q = q * t + 2.145870924e-01f;
  float large = 1.0f - fast_expf(-(a * a)) * q;
  large = x < 0.0f ? -large : large;
  float y = s < 0.81f ? small : large;
  return x != x ? x : y;
}

// logaddexp(a, b) = max + log1p(exp(-|a - b|)); infinities of either sign give the max. As
// exp(-|a - b|) lies in [0, 1], log1p needs no special cases, and the rounding of u = 1 + e
// (below 2^-24) is restored with 1/u ~ 2 - u instead of a division.
inline float fast_logaddexpf(float a, float b) {
  float m = a > b ? a : b;
  float d = a - b;
  d = d < 0.0f ? d : -d;
  float e = fast_expf(d);
  float u = 1.0f + e;
  float c = e - (u - 1.0f);
  float y = m + (log_normal(u, 0.0f) + c * (2.0f - u));
  y = m == std::numeric_limits<float>::infinity() || m == -std::numeric_limits<float>::infinity() ? m : y;
  return a != a || b != b ? std::numeric_limits<float>::quiet_NaN() : y;
}

}  // namespace alloy::ew
