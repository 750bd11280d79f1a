// The quantized ops: validation and the nodes. The gradient of quantized_matmul in x is the
// cotangent times the dequantized weights; the weights themselves get none (they are data).
#include "alloy/core/quantized.h"

#include "alloy/core/fast.h"
#include "alloy/core/ops.h"
#include "alloy/core/ops_util.h"
#include "alloy/core/quantized_primitives.h"
#include "alloy/core/transforms.h"

namespace alloy {
using detail::fail;

int64_t quantized_row_length(quant::Type type, int64_t row_bytes, const char* op) {
  const quant::Format& f = quant::format(type);
  if (row_bytes <= 0 || row_bytes % f.block_bytes != 0) {
    fail(op, "rows of ", row_bytes, " bytes are not whole ", f.name, " blocks of ", f.block_bytes,
         " bytes");
  }
  return row_bytes / f.block_bytes * f.block_size;
}

namespace {

// x (..., K) floating and w (N, row_bytes) uint8 blocks of `type` holding K values a row.
void check_matmul_inputs(const array& x, const array& w, quant::Type type, const char* op) {
  if (!quant::has_matmul_kernel(type)) fail(op, "has no kernel for ", quant::name(type), " weights");
  if (w.dtype() != uint8 || w.ndim() != 2) {
    fail(op, "weights must be a 2-d uint8 array of blocks, got ", w.dtype(), " ",
         shape_to_string(w.shape()));
  }
  if (x.ndim() == 0 || !is_floating(x.dtype())) {
    fail(op, "needs a floating-point input with at least one dimension, got ", x.dtype(), " ",
         shape_to_string(x.shape()));
  }
  int64_t K = quantized_row_length(type, w.shape(1), op);
  if (x.shape(-1) != K) {
    fail(op, "input has ", x.shape(-1), " features but the ", quant::name(type), " weights have ", K,
         " per row");
  }
}

}  // namespace

array quantized_matmul(const array& x, const array& w, quant::Type type, StreamOrDevice sd) {
  check_matmul_inputs(x, w, type, "quantized_matmul");
  Shape out_shape = x.shape();
  out_shape.back() = w.shape(0);
  Stream s = to_stream(sd);
  return array(out_shape, x.dtype(), std::make_shared<QuantizedMatmul>(s, type), {x, w});
}

array quantized_matmul_swiglu(const array& x, const array& w, quant::Type type, StreamOrDevice sd) {
  check_matmul_inputs(x, w, type, "quantized_matmul_swiglu");
  if (w.shape(0) % 2 != 0) {
    fail("quantized_matmul_swiglu", "needs the gate rows then the up rows (an even count), got ", w.shape(0),
         " rows");
  }
  const int64_t F = w.shape(0) / 2;
  Stream s = to_stream(sd);
  Fused::Fallback composed = [type, s, F](const std::vector<array>& in) {
    array gu = quantized_matmul(in[0], in[1], type, s);
    Shape start(size_t(gu.ndim()), 0), mid = gu.shape(), stop = gu.shape();
    mid.back() = F;
    array gate = slice(gu, start, mid, s);
    start.back() = F;
    array up = slice(gu, start, stop, s);
    return std::vector<array>{fast::swiglu(gate, up, s)};
  };
  Shape out_shape = x.shape();
  out_shape.back() = F;
  return array::make_arrays({out_shape}, {x.dtype()}, std::make_shared<QuantizedMatmulSwiGLU>(s, type, composed),
                            {x, w})[0];
}

array dequantize(const array& w, quant::Type type, Dtype dtype, StreamOrDevice sd) {
  const char* op = "dequantize";
  if (w.dtype() != uint8 || w.ndim() == 0) {
    fail(op, "needs a uint8 array of blocks, got ", w.dtype(), " ", shape_to_string(w.shape()));
  }
  if (!is_floating(dtype)) fail(op, "output dtype must be floating, got ", dtype);
  Shape out_shape = w.shape();
  out_shape.back() = quantized_row_length(type, w.shape(-1), op);
  return array(out_shape, dtype, std::make_shared<Dequantize>(to_stream(sd), type), {w});
}

array quantize(const array& x, quant::Type type, StreamOrDevice sd) {
  const char* op = "quantize";
  if (x.ndim() == 0 || !is_floating(x.dtype())) {
    fail(op, "needs a floating-point input with at least one dimension, got ", x.dtype(), " ",
         shape_to_string(x.shape()));
  }
  const quant::Format& f = quant::format(type);
  if (x.shape(-1) % f.block_size != 0) {
    fail(op, "rows of ", x.shape(-1), " values are not whole ", f.name, " blocks of ", f.block_size);
  }
  Shape out_shape = x.shape();
  out_shape.back() = x.shape(-1) / f.block_size * f.block_bytes;
  Stream s = to_stream(sd);
  return array(out_shape, uint8, std::make_shared<Quantize>(s, type), {astype(x, float32, s)});
}

std::vector<array> QuantizedMatmul::vjp(const std::vector<array>& primals,
                                        const std::vector<array>& cotangents,
                                        const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> grads;
  for (int a : argnums) {
    if (a != 0) fail("quantized_matmul", "has no gradient with respect to its quantized weights");
    array w = dequantize(primals[1], type_, cotangents[0].dtype(), stream());
    grads.push_back(matmul(cotangents[0], w, stream()));
  }
  return grads;
}

std::vector<array> QuantizedMatmul::jvp(const std::vector<array>& primals,
                                        const std::vector<array>& tangents,
                                        const std::vector<int>& argnums) {
  if (argnums.size() != 1 || argnums[0] != 0)
    fail("quantized_matmul", "has no derivative with respect to its quantized weights");
  return {quantized_matmul(tangents[0], primals[1], type_, stream())};
}

std::vector<array> QuantizedMatmulSwiGLU::vjp(const std::vector<array>& primals,
                                              const std::vector<array>& cotangents, const std::vector<int>& argnums,
                                              const std::vector<array>&) {
  for (int a : argnums)
    if (a != 0) fail("quantized_matmul_swiglu", "has no gradient with respect to its quantized weights");
  return {alloy::vjp(composed_in_x(primals[1]), {primals[0]}, cotangents).second[0]};
}

std::vector<array> QuantizedMatmulSwiGLU::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                              const std::vector<int>& argnums) {
  if (argnums.size() != 1 || argnums[0] != 0)
    fail("quantized_matmul_swiglu", "has no derivative with respect to its quantized weights");
  return alloy::jvp(composed_in_x(primals[1]), {primals[0]}, {tangents[0]}).second;
}

Fused::Fallback QuantizedMatmulSwiGLU::composed_in_x(const array& w) const {
  return [fallback = fallback_, w](const std::vector<array>& x) { return fallback({x[0], w}); };
}

}  // namespace alloy
