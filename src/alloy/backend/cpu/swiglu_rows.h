// out[i] = silu(gate[i]) * up[i] over n contiguous elements, in T's compute type (float32 for
// the 16-bit floats), compiled for the wider instruction sets (fast_swiglu.cpp). For fast::swiglu
// and for quantized_matmul_swiglu's CPU path, which applies it to the two halves of each row.
#pragma once

#include <cstdint>

namespace alloy::cpu {

template <typename T>
void swiglu_rows(const T* gate, const T* up, T* out, int64_t n);

}  // namespace alloy::cpu
