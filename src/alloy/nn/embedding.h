// Embedding: a lookup table of num_embeddings vectors of size dims, as torch.nn.Embedding
// (parameter "weight", initialized N(0, 1) as PyTorch). forward takes indices of any integer
// dtype and shape and returns (..., dims), the rows of weight gathered by take. Indices are
// checked when the result is evaluated, as take's are: an index in [-num_embeddings, 0) counts
// from the end (PyTorch rejects negative indices), one outside [-num_embeddings, num_embeddings)
// makes eval() throw std::out_of_range naming the index ("[take] index 7 is out of range ...").
// PyTorch's padding_idx, max_norm and sparse gradients are not offered.
#pragma once

#include "alloy/core/dtype.h"
#include "alloy/nn/module.h"

namespace alloy::nn {

class Embedding : public UnaryModule {
 public:
  Embedding(int64_t num_embeddings, int64_t dims, Dtype dtype = float32);
  // indices (...) -> (..., dims)
  array forward(const array& indices) override;
  // x (..., dims) -> (..., num_embeddings) = x @ weight^T: the embedding used as the output
  // layer of a model whose input and output embeddings are tied (as MLX's Embedding.as_linear).
  array as_linear(const array& x) const;
  std::string describe() const override;

  int64_t num_embeddings() const { return num_; }
  int64_t dims() const { return dims_; }

  array weight;  // (num_embeddings, dims)

 private:
  int64_t num_, dims_;
};

}  // namespace alloy::nn
