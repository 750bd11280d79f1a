// CPU matmul on block-quantized weights (the hot path of LLM inference on the CPU).
//
// The activations are quantized once per call to the format the weight type's integer dot
// product consumes (Q8_0 blocks for Q4_0 and Q8_0 weights, Q8_K for Q4_K, Q5_K and Q6_K), then
// every output is an integer dot product of a weight row and an activation row, scaled. The
// kernels are picked at run time from the CPU's features (AVX-512 VNNI, AVX2, scalar).
#pragma once

#include <cstdint>

#include "alloy/core/quant_formats.h"

namespace alloy::cpu::quant {

using alloy::quant::Type;

// The activation format of a weight type's dot product (Q8_0 or Q8_K).
Type activation_type(Type weight);

// out (M, N) = x (M, K) @ W^T, where W (N, K) is stored as N rows of
// row_bytes(weight_type, K) bytes starting at w. K must be a multiple of the weight type's
// block size. Runs on the CPU thread pool (threading.h), splitting N (and M for large M).
// weight_type: Q4_0, Q8_0, Q4_K, Q5_K or Q6_K.
void quantized_matmul(Type weight_type, const float* x, int64_t M, int64_t K, const uint8_t* w,
                      int64_t N, float* out);

}  // namespace alloy::cpu::quant
