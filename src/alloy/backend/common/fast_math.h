// Branch-free float32 exp and log (Cephes coefficients, about 1 ulp) for CPU loops: libm's
// versions are scalar calls, these vectorize. Host code only; GPU code uses the device's own.
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

inline float fast_logf(float x) {
  // Subnormals are scaled into the normal range first.
  bool sub = x < std::numeric_limits<float>::min();
  float xs = sub ? x * 8388608.0f : x;  // 2^23
  int32_t bits = std::bit_cast<int32_t>(xs);
  float e = float(((bits >> 23) & 0xff) - 126) - (sub ? 23.0f : 0.0f);
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
  float r = m + y + 0.693359375f * e;
  r = x == 0.0f ? -std::numeric_limits<float>::infinity() : r;
  r = x < 0.0f || x != x ? std::numeric_limits<float>::quiet_NaN() : r;
  r = x == std::numeric_limits<float>::infinity() ? x : r;
  return r;
}

}  // namespace alloy::ew
