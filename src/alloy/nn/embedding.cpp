#include "alloy/nn/embedding.h"

#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/core/quantized.h"
#include "alloy/nn/init.h"
#include "alloy/nn/quantized.h"

namespace alloy::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t dims, Dtype dtype)
    : weight(array(0.0f)), num_(num_embeddings), dims_(dims), dtype_(dtype) {
  if (num_embeddings <= 0 || dims <= 0) {
    throw std::invalid_argument("[Embedding] num_embeddings and dims must be positive, got " +
                                std::to_string(num_embeddings) + " and " + std::to_string(dims));
  }
  if (!is_floating(dtype)) {
    throw std::invalid_argument("[Embedding] needs a floating dtype, got " + std::string(dtype_name(dtype)));
  }
  weight = init::normal({num_embeddings, dims}, 0.0, 1.0, dtype);
  register_parameter("weight", weight);
}

array Embedding::forward(const array& indices) {
  if (!is_integral(indices.dtype())) {
    throw std::invalid_argument("[Embedding] expects integer indices, got " +
                                std::string(dtype_name(indices.dtype())));
  }
  if (quant_type_) {
    // Only the rows asked for are decoded: (..., row_bytes) -> (..., dims).
    return dequantize(take(weight, indices, 0), *quant_type_, dtype_);
  }
  return take(weight, indices, 0);
}

array Embedding::as_linear(const array& x) const {
  if (x.ndim() == 0 || x.shape(-1) != dims_) {
    throw std::invalid_argument("[Embedding::as_linear] expects input (..., " + std::to_string(dims_) +
                                "), got shape " + shape_to_string(x.shape()));
  }
  if (quant_type_) return quantized_matmul(x, weight, *quant_type_);
  return matmul(x, transpose(weight));
}

void Embedding::quantize(int bits, int group_size) {
  const char* op = "Embedding::quantize";
  if (quant_type_) {
    throw std::invalid_argument(std::string("[") + op + "] the weights are already quantized (" +
                                quant::name(*quant_type_) + ")");
  }
  quant::Type type = quantization_type(bits, group_size, op);
  const int block = quant::format(type).block_size;
  if (dims_ % block != 0) {
    throw std::invalid_argument(std::string("[") + op + "] dims must be a multiple of the " + quant::name(type) +
                                " block size " + std::to_string(block) + ", got " + std::to_string(dims_));
  }
  dtype_ = weight.dtype();
  weight = quantize_rows(weight, type, op);  // (num_embeddings, row_bytes)
  make_buffer("weight");
  quant_type_ = type;
}

std::string Embedding::describe() const {
  return "Embedding(" + std::to_string(num_) + ", " + std::to_string(dims_) +
         (quant_type_ ? std::string(", quantized=") + quant::name(*quant_type_) : std::string()) + ")";
}

}  // namespace alloy::nn
