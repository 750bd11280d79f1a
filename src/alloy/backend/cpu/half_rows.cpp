#include "alloy/backend/cpu/half_rows.h"

#include "alloy/core/half.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define ALLOY_HAVE_F16C_PATH 1
#endif

namespace alloy::cpu {

namespace {

#ifdef ALLOY_HAVE_F16C_PATH
__attribute__((target("avx,f16c"))) void half_to_float_f16c(const uint16_t* in, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
  for (; i < n; ++i) out[i] = _cvtsh_ss(in[i]);
}

__attribute__((target("avx,f16c"))) void float_to_half_f16c(const float* in, uint16_t* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) out[i] = _cvtss_sh(in[i], _MM_FROUND_TO_NEAREST_INT);
}
#endif

}  // namespace

bool cpu_has_f16c() {
#ifdef ALLOY_HAVE_F16C_PATH
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0 && (c & bit_AVX) != 0 && (c & bit_OSXSAVE) != 0;
  }();
  return has;
#else
  return false;
#endif
}

void half_to_float_row(const uint16_t* in, float* out, int64_t n) {
#ifdef ALLOY_HAVE_F16C_PATH
  if (cpu_has_f16c()) return half_to_float_f16c(in, out, n);
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = detail::half_bits_to_float(in[i]);
}

void float_to_half_row(const float* in, uint16_t* out, int64_t n) {
#ifdef ALLOY_HAVE_F16C_PATH
  if (cpu_has_f16c()) return float_to_half_f16c(in, out, n);
#endif
  for (int64_t i = 0; i < n; ++i) out[i] = detail::float_to_half_bits(in[i]);
}

}  // namespace alloy::cpu
