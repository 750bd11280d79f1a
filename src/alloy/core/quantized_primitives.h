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
