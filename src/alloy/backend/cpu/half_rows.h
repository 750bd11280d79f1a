// float16 <-> float32 over contiguous rows with the CPU's conversion instructions (F16C's
// vcvtph2ps / vcvtps2ph, 8 values each) where it has them. The portable conversions of
// core/half.h do not auto-vectorize (GCC keeps their selects scalar), and a decode step
// converts its whole f16 KV cache to float32 once per layer.
#pragma once

#include <cstdint>

namespace alloy::cpu {

// F16C, AVX and OS support for AVX state, asked once (CPUID leaf 1, ECX bits 29, 28 and 27).
bool cpu_has_f16c();

// out[i] = in[i] as float, exactly (every binary16 value is a binary32 value).
void half_to_float_row(const uint16_t* in, float* out, int64_t n);
// out[i] = in[i] rounded to binary16, to nearest even (NaN stays NaN; its payload may differ
// from float_to_half_bits's canonical 0x7e00).
void float_to_half_row(const float* in, uint16_t* out, int64_t n);

}  // namespace alloy::cpu
