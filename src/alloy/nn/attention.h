// MultiHeadAttention, as MLX's nn.MultiHeadAttention (parameter names query_proj, key_proj,
// value_proj, out_proj, each a Linear) with PyTorch's defaults (biases on) and grouped-query
// attention: num_kv_heads key/value heads, each shared by num_heads / num_kv_heads query heads
// (query head h reads key/value head h / (num_heads / num_kv_heads), as llama.cpp and MLX).
// Inputs are batch first, (N, L, E), like PyTorch's batch_first=True. PyTorch packs the three
// input projections into in_proj_weight (3E, E) and in_proj_bias (3E,): rows [0, E) are
// query_proj, [E, 2E) key_proj and [2E, 3E) value_proj.
//
// Masks are added to or select from the scores (N, num_heads, L, S), broadcast from the right:
//   - floating: added to the scores (0 keeps, a large negative value or -inf masks);
//   - bool: true means "may attend", false masks. PyTorch's bool attn_mask means the opposite
//     (true = masked), so a PyTorch bool mask m is logical_not(m) here (MLX and
//     fast::scaled_dot_product_attention use true = keep).
// A query row that may attend to nothing gives NaN, as in PyTorch.
#pragma once

#include <optional>
#include <string>

#include "alloy/core/array.h"
#include "alloy/core/dtype.h"
#include "alloy/nn/linear.h"
#include "alloy/nn/module.h"

namespace alloy::nn {

class MultiHeadAttention : public Module {
 public:
  // dims must be a multiple of num_heads, num_heads of num_kv_heads (default num_heads).
  // key_input_dims / value_input_dims: the feature sizes of keys and values (default dims), as
  // PyTorch's kdim / vdim. dropout: on the attention weights in training mode, as PyTorch's.
  MultiHeadAttention(int64_t dims, int64_t num_heads, std::optional<int64_t> num_kv_heads = std::nullopt,
                     bool bias = true, std::optional<int64_t> key_input_dims = std::nullopt,
                     std::optional<int64_t> value_input_dims = std::nullopt, double dropout = 0.0,
                     Dtype dtype = float32);

  // queries (N, L, dims), keys (N, S, key_input_dims), values (N, S, value_input_dims)
  // -> (N, L, dims). mask: as above, broadcastable to (N, num_heads, L, S).
  array forward(const array& queries, const array& keys, const array& values,
                const std::optional<array>& mask = std::nullopt);
  array operator()(const array& queries, const array& keys, const array& values,
                   const std::optional<array>& mask = std::nullopt) {
    return forward(queries, keys, values, mask);
  }
  std::string describe() const override;

  // (L, L): 0 where key j <= query i, the dtype's lowest finite value above the diagonal (as
  // MLX; finite, so that adding a second mask cannot make NaN). PyTorch's
  // generate_square_subsequent_mask has -inf there; the softmax gives the same weights.
  static array create_additive_causal_mask(int64_t L, Dtype dtype = float32);

  int64_t dims() const { return dims_; }
  int64_t num_heads() const { return num_heads_; }
  int64_t num_kv_heads() const { return num_kv_heads_; }
  double dropout() const { return dropout_; }

  Linear query_proj;  // (dims, dims)
  Linear key_proj;    // (num_kv_heads * head_dim, key_input_dims)
  Linear value_proj;  // (num_kv_heads * head_dim, value_input_dims)
  Linear out_proj;    // (dims, dims)

 private:
  int64_t dims_, num_heads_, num_kv_heads_;
  double dropout_;
};

}  // namespace alloy::nn
