// Transformer layers as PyTorch's nn.TransformerEncoderLayer / TransformerDecoderLayer /
// TransformerEncoder / TransformerDecoder / Transformer, batch first ((N, L, E), PyTorch's
// batch_first=True), with PyTorch's submodule names (self_attn, multihead_attn, linear1,
// linear2, norm1..3, dropout, dropout1..3, layers.<i>, encoder, decoder, norm) so state
// dicts interchange; the attention modules are MultiHeadAttention, so PyTorch's packed
// in_proj_weight / in_proj_bias are split into query_proj / key_proj / value_proj.
//
// Post-norm (norm_first false, PyTorch's default):  x = norm1(x + self_attn(x)); x = norm2(x + ff(x))
// Pre-norm (norm_first true):                       x = x + self_attn(norm1(x)); x = x + ff(norm2(x))
// with ff(x) = linear2(dropout(activation(linear1(x)))). The decoder layer has a cross-attention
// block (multihead_attn over the memory, with norm2) between the two, and norm3 for ff.
// Masks are MultiHeadAttention's: additive floating, or bool with true = may attend (PyTorch's
// bool masks are the opposite), broadcastable to (N, nhead, L, S); a key padding mask is a
// mask of shape (N, 1, 1, S). The norms are nn::LayerNorm, the dropouts nn::Dropout, so dropout
// must be in [0, 1) (PyTorch also takes 1, which drops everything).
#pragma once

#include <optional>
#include <string>

#include "alloy/core/array.h"
#include "alloy/core/dtype.h"
#include "alloy/nn/attention.h"
#include "alloy/nn/dropout.h"
#include "alloy/nn/linear.h"
#include "alloy/nn/module.h"
#include "alloy/nn/module_list.h"
#include "alloy/nn/normalization.h"

namespace alloy::nn {

// The arguments shared by the encoder and decoder layers, as PyTorch's.
struct TransformerLayerConfig {
  int64_t d_model;
  int64_t nhead;
  int64_t dim_feedforward = 2048;
  double dropout = 0.1;  // in [0, 1)
  std::string activation = "relu";  // "relu" or "gelu" (exact, with erf)
  double layer_norm_eps = 1e-5;
  bool norm_first = false;
  bool bias = true;  // in the linear layers, the attention projections and the layer norms
};

class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048, double dropout = 0.1,
                          const std::string& activation = "relu", double layer_norm_eps = 1e-5,
                          bool norm_first = false, bool bias = true, Dtype dtype = float32);
  TransformerEncoderLayer(const TransformerLayerConfig& config, Dtype dtype = float32);

  // src (N, L, d_model) -> (N, L, d_model); src_mask broadcastable to (N, nhead, L, L).
  array forward(const array& src, const std::optional<array>& src_mask = std::nullopt);
  array operator()(const array& src, const std::optional<array>& src_mask = std::nullopt) {
    return forward(src, src_mask);
  }
  std::string describe() const override;
  const TransformerLayerConfig& config() const { return config_; }

 private:
  TransformerLayerConfig config_;  // declared first: the members below are built from it

 public:
  MultiHeadAttention self_attn;
  Linear linear1;  // (dim_feedforward, d_model)
  Linear linear2;  // (d_model, dim_feedforward)
  LayerNorm norm1;  // (d_model,)
  LayerNorm norm2;
  Dropout dropout;   // after the activation
  Dropout dropout1;  // after self_attn
  Dropout dropout2;  // after linear2
};

class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048, double dropout = 0.1,
                          const std::string& activation = "relu", double layer_norm_eps = 1e-5,
                          bool norm_first = false, bool bias = true, Dtype dtype = float32);
  TransformerDecoderLayer(const TransformerLayerConfig& config, Dtype dtype = float32);

  // tgt (N, T, d_model), memory (N, S, d_model) -> (N, T, d_model). tgt_mask broadcastable to
  // (N, nhead, T, T), memory_mask to (N, nhead, T, S).
  array forward(const array& tgt, const array& memory, const std::optional<array>& tgt_mask = std::nullopt,
                const std::optional<array>& memory_mask = std::nullopt);
  array operator()(const array& tgt, const array& memory, const std::optional<array>& tgt_mask = std::nullopt,
                   const std::optional<array>& memory_mask = std::nullopt) {
    return forward(tgt, memory, tgt_mask, memory_mask);
  }
  std::string describe() const override;
  const TransformerLayerConfig& config() const { return config_; }

 private:
  TransformerLayerConfig config_;  // declared first: the members below are built from it

 public:
  MultiHeadAttention self_attn;
  MultiHeadAttention multihead_attn;  // queries from tgt, keys and values from memory
  Linear linear1;  // (dim_feedforward, d_model)
  Linear linear2;  // (d_model, dim_feedforward)
  LayerNorm norm1;  // before/after self_attn
  LayerNorm norm2;  // before/after multihead_attn
  LayerNorm norm3;  // before/after the feed-forward block
  Dropout dropout;   // after the activation
  Dropout dropout1;  // after self_attn
  Dropout dropout2;  // after multihead_attn
  Dropout dropout3;  // after linear2
};

// num_layers layers configured as `layer`, each starting as a copy of its weights (PyTorch
// deep-copies the layer it is given); final_norm adds a LayerNorm "norm" after the last one
// (d_model, the layer's eps and bias).
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(const TransformerEncoderLayer& layer, int64_t num_layers, bool final_norm = false);
  array forward(const array& src, const std::optional<array>& mask = std::nullopt);
  array operator()(const array& src, const std::optional<array>& mask = std::nullopt) {
    return forward(src, mask);
  }
  std::string describe() const override;

  ModuleList<TransformerEncoderLayer> layers;
  std::optional<LayerNorm> norm;  // the final norm, or none
};

class TransformerDecoder : public Module {
 public:
  TransformerDecoder(const TransformerDecoderLayer& layer, int64_t num_layers, bool final_norm = false);
  array forward(const array& tgt, const array& memory, const std::optional<array>& tgt_mask = std::nullopt,
                const std::optional<array>& memory_mask = std::nullopt);
  array operator()(const array& tgt, const array& memory, const std::optional<array>& tgt_mask = std::nullopt,
                   const std::optional<array>& memory_mask = std::nullopt) {
    return forward(tgt, memory, tgt_mask, memory_mask);
  }
  std::string describe() const override;

  ModuleList<TransformerDecoderLayer> layers;
  std::optional<LayerNorm> norm;  // the final norm, or none
};

// PyTorch's nn.Transformer: an encoder and a decoder, each with a final LayerNorm, and every
// parameter of two or more dimensions drawn from xavier_uniform (PyTorch's _reset_parameters).
class Transformer : public Module {
 public:
  Transformer(int64_t d_model = 512, int64_t nhead = 8, int64_t num_encoder_layers = 6,
              int64_t num_decoder_layers = 6, int64_t dim_feedforward = 2048, double dropout = 0.1,
              const std::string& activation = "relu", double layer_norm_eps = 1e-5, bool norm_first = false,
              bool bias = true, Dtype dtype = float32);

  // src (N, S, d_model), tgt (N, T, d_model) -> (N, T, d_model). src_mask: (N, nhead, S, S),
  // tgt_mask: (N, nhead, T, T), memory_mask: (N, nhead, T, S), each broadcastable.
  array forward(const array& src, const array& tgt, const std::optional<array>& src_mask = std::nullopt,
                const std::optional<array>& tgt_mask = std::nullopt,
                const std::optional<array>& memory_mask = std::nullopt);
  array operator()(const array& src, const array& tgt, const std::optional<array>& src_mask = std::nullopt,
                   const std::optional<array>& tgt_mask = std::nullopt,
                   const std::optional<array>& memory_mask = std::nullopt) {
    return forward(src, tgt, src_mask, tgt_mask, memory_mask);
  }
  std::string describe() const override;

  // PyTorch's generate_square_subsequent_mask, as MultiHeadAttention::create_additive_causal_mask.
  static array generate_square_subsequent_mask(int64_t L, Dtype dtype = float32) {
    return MultiHeadAttention::create_additive_causal_mask(L, dtype);
  }

  TransformerEncoder encoder;
  TransformerDecoder decoder;
};

}  // namespace alloy::nn
