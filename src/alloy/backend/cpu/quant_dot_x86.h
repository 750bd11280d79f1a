// Unaligned 256-bit loads and stores for the x86 quantized-matmul kernels: block fields sit at
// any byte offset (an 18-byte Q4_0 block), so every access is a loadu/storeu, never a cast
// pointer dereference (which would be undefined behaviour and trips UBSan).
#pragma once

#include <immintrin.h>

namespace alloy::cpu::quant {

__attribute__((target("avx2"))) inline __m256i loadu256(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

__attribute__((target("avx2"))) inline void storeu256(void* p, __m256i v) {
  _mm256_storeu_si256(static_cast<__m256i*>(p), v);
}

}  // namespace alloy::cpu::quant
