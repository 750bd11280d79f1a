// Embedding: a lookup table of num_embeddings vectors of size dims, as torch.nn.Embedding
// (parameter "weight", initialized N(0, 1) as PyTorch). forward takes indices of any integer
// dtype and shape and returns (..., dims), the rows of weight gathered by take. Indices are
// checked when the result is evaluated, as take's are: an index in [-num_embeddings, 0) counts
// from the end (PyTorch rejects negative indices), one outside [-num_embeddings, num_embeddings)
// makes eval() throw std::out_of_range naming the index ("[take] index 7 is out of range ...").
// PyTorch's padding_idx, max_norm and sparse gradients are not offered.
//
// quantize(bits, group_size) turns an Embedding quantized in place, as Linear::quantize (see
// nn/quantized.h for the formats): `weight` becomes its ggml blocks, a uint8 buffer
// (num_embeddings, row_bytes) saved and loaded under the same name but no parameter; forward
// takes the block rows of the indices and dequantizes them, as_linear runs quantized_matmul.
#pragma once

#include <optional>

#include "alloy/core/dtype.h"
#include "alloy/core/quant_formats.h"
#include "alloy/nn/module.h"

namespace alloy::nn {

class Embedding : public UnaryModule {
 public:
  Embedding(int64_t num_embeddings, int64_t dims, Dtype dtype = float32);
  // indices (...) -> (..., dims)
  array forward(const array& indices) override;
  // x (..., dims) -> (..., num_embeddings) = x @ weight^T: the embedding used as the output
  // layer of a model whose input and output embeddings are tied (as MLX's Embedding.as_linear).
  // Quantized, the output has x's dtype and x is quantized to 8 bits per block, as Linear's.
  array as_linear(const array& x) const;
  std::string describe() const override;

  int64_t num_embeddings() const { return num_; }
  int64_t dims() const { return dims_; }

  // Replaces weight by its blocks in the format of (bits, group_size); dims must be a multiple
  // of the format's block size. Quantizing twice is an error. forward then returns the dtype
  // weight had when it was quantized (set_dtype leaves the uint8 blocks and so this dtype as
  // they are).
  void quantize(int bits = 4, int group_size = 32);
  bool is_quantized() const { return quant_type_.has_value(); }
  std::optional<quant::Type> quant_type() const { return quant_type_; }

  array weight;  // (num_embeddings, dims), or uint8 (num_embeddings, row_bytes) quantized

 private:
  int64_t num_, dims_;
  std::optional<quant::Type> quant_type_;
  Dtype dtype_;  // of the rows forward returns when quantized
};

}  // namespace alloy::nn
