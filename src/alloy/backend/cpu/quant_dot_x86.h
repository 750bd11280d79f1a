// Unaligned 256-bit loads and stores for the x86 quantized-matmul kernels: block fields sit at
// any byte offset (an 18-byte Q4_0 block), so every access is a loadu/storeu, never a cast
// pointer dereference (which would be undefined behaviour and trips UBSan). And the matvecs'
// software prefetch.
#pragma once

#include <immintrin.h>

namespace alloy::cpu::quant {

__attribute__((target("avx2"))) inline __m256i loadu256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

__attribute__((target("avx2"))) inline void storeu256(void* p, __m256i v) {
  _mm256_storeu_si256(static_cast<__m256i*>(p), v);
}

// Prefetches the weight bytes kPrefetchBytes past [p, p + n): the lines a matvec's row loop
// reaches about 100 Q4_0 blocks later. With the hardware prefetcher alone a two-thread matvec
// of cold weights ran at 10-12 GB/s on the 2-core EPYC machine; with this, 13-17
// (bench_quant_dot; a prefetch past the end of the weights is harmless: it never faults).
constexpr int kPrefetchBytes = 2048;
inline void prefetch_ahead(const void* p, int n) {
  for (int l = 0; l < n; l += 64) _mm_prefetch(static_cast<const char*>(p) + kPrefetchBytes + l, _MM_HINT_T0);
}

}  // namespace alloy::cpu::quant
