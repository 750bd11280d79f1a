#include "alloy/nn/linear.h"

#include <cmath>
#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/core/quantized.h"
#include "alloy/nn/init.h"
#include "alloy/nn/quantized.h"

namespace alloy::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool has_bias, Dtype dtype)
    : weight(array(0.0f)), in_features_(in_features), out_features_(out_features) {
  if (in_features <= 0 || out_features <= 0) {
    throw std::invalid_argument("[Linear] features must be positive, got in_features " +
                                std::to_string(in_features) + " and out_features " +
                                std::to_string(out_features));
  }
  const double bound = 1.0 / std::sqrt(double(in_features));
  weight = init::uniform({out_features, in_features}, -bound, bound, dtype);
  register_parameter("weight", weight);
  if (has_bias) {
    bias = init::uniform({out_features}, -bound, bound, dtype);
    register_parameter("bias", *bias);
  }
}

array Linear::forward(const array& x) {
  if (x.ndim() == 0 || x.shape(-1) != in_features_) {
    throw std::invalid_argument("[Linear] expects input (..., " + std::to_string(in_features_) +
                                "), got shape " + shape_to_string(x.shape()));
  }
  if (quant_type_) {
    array y = quantized_matmul(x, weight, *quant_type_);
    return bias ? add(y, *bias) : y;
  }
  array wt = transpose(weight);
  return bias ? addmm(*bias, x, wt) : matmul(x, wt);
}

void Linear::quantize(int bits, int group_size) {
  const char* op = "Linear::quantize";
  if (quant_type_) {
    throw std::invalid_argument(std::string("[") + op + "] the weights are already quantized (" +
                                quant::name(*quant_type_) + ")");
  }
  quant::Type type = quantization_type(bits, group_size, op);
  weight = quantize_rows(weight, type, op);  // (out_features, row_bytes)
  make_buffer("weight");
  quant_type_ = type;
}

std::string Linear::describe() const {
  return "Linear(" + std::to_string(in_features_) + ", " + std::to_string(out_features_) +
         ", bias=" + (bias ? "true" : "false") +
         (quant_type_ ? std::string(", quantized=") + quant::name(*quant_type_) : std::string()) + ")";
}

}  // namespace alloy::nn
