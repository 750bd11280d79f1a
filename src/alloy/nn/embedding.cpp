#include "alloy/nn/embedding.h"

#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/nn/init.h"

namespace alloy::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t dims, Dtype dtype)
    : weight(array(0.0f)), num_(num_embeddings), dims_(dims) {
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
  return take(weight, indices, 0);
}

array Embedding::as_linear(const array& x) const {
  if (x.ndim() == 0 || x.shape(-1) != dims_) {
    throw std::invalid_argument("[Embedding::as_linear] expects input (..., " + std::to_string(dims_) +
                                "), got shape " + shape_to_string(x.shape()));
  }
  return matmul(x, transpose(weight));
}

std::string Embedding::describe() const {
  return "Embedding(" + std::to_string(num_) + ", " + std::to_string(dims_) + ")";
}

}  // namespace alloy::nn
