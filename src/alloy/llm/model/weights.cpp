// Applying weights: dense through matmul (a transposed view, no copy) or addmm with the bias;
// quantized through quantized_matmul, whose kernels read the blocks as stored.
#include "alloy/llm/model/weights.h"

#include "alloy/core/ops.h"
#include "alloy/core/quantized.h"

namespace alloy::llm {

array Linear::operator()(const array& x, StreamOrDevice s) const {
  if (quantized()) {
    array y = quantized_matmul(x, weight, *qtype, s);
    return bias ? add(y, *bias, s) : y;
  }
  array wt = transpose(weight, s);  // (K, N) view
  if (bias) return addmm(*bias, x, wt, 1.0f, 1.0f, s);
  return matmul(x, wt, s);
}

array Embedding::lookup(const array& tokens, Dtype dtype, StreamOrDevice s) const {
  array rows = take(table.weight, tokens, 0, s);  // (..., D) values or (..., row_bytes) blocks
  if (table.quantized()) return dequantize(rows, *table.qtype, dtype, s);
  return rows.dtype() == dtype ? rows : astype(rows, dtype, s);
}

}  // namespace alloy::llm
