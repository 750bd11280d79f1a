// Vectorization support for the CPU kernels. Hot loops are plain C++ written so the compiler
// vectorizes them, and are compiled for several instruction sets (x86-64-v4: AVX-512;
// x86-64-v3: AVX2, FMA, F16C; baseline)
// with the right one picked at run time (GCC target_clones). On other architectures the macro
// is empty and the same loops vectorize for the baseline (NEON on ARM64).
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define ALLOY_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ALLOY_SIMD_CLONES
#endif

#include "alloy/backend/common/fast_math.h"

namespace alloy::cpu {
using ew::fast_expf;
using ew::fast_logf;
}  // namespace alloy::cpu
