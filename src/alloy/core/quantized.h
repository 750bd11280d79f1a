// Ops on block-quantized weights (the formats of quant_formats.h, as GGUF stores them): a
// weight matrix W (N, K) is an uint8 array (N, row_bytes(type, K)), one row of blocks per
// output feature, used as it lies in the file.
#pragma once

#include "alloy/core/array.h"
#include "alloy/core/device.h"
#include "alloy/core/quant_formats.h"

namespace alloy {

// x (..., K) @ W^T -> (..., N), in x's floating dtype; the kernels accumulate in int32/float32
// from activations quantized to 8 bits per row (as llama.cpp does). `type` must have a matmul
// kernel (quant::has_matmul_kernel). Differentiable in x.
array quantized_matmul(const array& x, const array& w, quant::Type type, StreamOrDevice s = {});

// silu(x @ Wg^T) * (x @ Wu^T) -> (..., F) for w = [Wg; Wu] (2F rows: a stacked gate/up
// projection, gate rows first), in x's dtype. Each product is rounded to that dtype first, so
// the result is fast::swiglu of quantized_matmul's two halves; on the GPU a single row of Q4_0
// or Q8_0 runs as one kernel (the decode step's MLP input). Differentiable in x.
array quantized_matmul_swiglu(const array& x, const array& w, quant::Type type, StreamOrDevice s = {});

// Rows of blocks (..., row_bytes(type, K)) -> (..., K) values in `dtype` (a float type).
array dequantize(const array& w, quant::Type type, Dtype dtype = float32, StreamOrDevice s = {});

// Values (..., K) of a float dtype -> rows of blocks (..., row_bytes(type, K)) uint8, scales chosen
// as quant::quantize_row does (llama.cpp's reference quantizers). K must be whole blocks. The GPU
// has a kernel for Q8_0 (the KV cache's type), bit-identical to the CPU's; other types run on the
// CPU. Not differentiable.
array quantize(const array& x, quant::Type type, StreamOrDevice s = {});

// The number of values K in a row of `row_bytes` bytes; throws when it is not whole blocks.
int64_t quantized_row_length(quant::Type type, int64_t row_bytes, const char* op);

}  // namespace alloy
