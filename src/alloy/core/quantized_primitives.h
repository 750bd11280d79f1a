// Primitives of the quantized ops (quantized.h).
#pragma once

#include "alloy/core/primitives.h"
#include "alloy/core/quant_formats.h"

namespace alloy {

// Inputs (x (M..., K), w (N, row_bytes)); output (M..., N).
class QuantizedMatmul : public SingleOutputPrimitive {
 public:
  QuantizedMatmul(Stream s, quant::Type type) : SingleOutputPrimitive(s), type_(type) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("quantized_matmul")
  quant::Type type() const { return type_; }

 private:
  quant::Type type_;
};

// Inputs (x (M..., K), w (2F, row_bytes): the gate rows, then the up rows); output (M..., F) =
// silu(gate) * up of the two halves of quantized_matmul(x, w). Gradients in x come from that
// composition (the fallback).
class QuantizedMatmulSwiGLU : public Fused {
 public:
  QuantizedMatmulSwiGLU(Stream s, quant::Type type, Fallback f) : Fused(s, std::move(f)), type_(type) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("quantized_matmul_swiglu")
  // In x only, through the composition with w held constant (the weights get no gradient).
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override;
  quant::Type type() const { return type_; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    Shape out = inputs[0].shape();
    out.back() = inputs[1].shape(0) / 2;
    return {out};
  }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override { return {inputs[0].dtype()}; }

 private:
  Fallback composed_in_x(const array& w) const;  // the fallback with w held constant
  quant::Type type_;
};

// Input w (..., row_bytes) uint8; output (..., K).
class Dequantize : public SingleOutputPrimitive {
 public:
  Dequantize(Stream s, quant::Type type) : SingleOutputPrimitive(s), type_(type) {}
  ALLOY_EVAL_SINGLE
  ALLOY_NAME("dequantize")
  quant::Type type() const { return type_; }

 private:
  quant::Type type_;
};

// Input x (..., K) float32; output (..., row_bytes) uint8.
class Quantize : public SingleOutputPrimitive {
 public:
  Quantize(Stream s, quant::Type type) : SingleOutputPrimitive(s), type_(type) {}
  ALLOY_EVAL_SINGLE
  ALLOY_NAME("quantize")
  quant::Type type() const { return type_; }

 private:
  quant::Type type_;
};

}  // namespace alloy
