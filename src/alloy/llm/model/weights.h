// The weights of a decoder-only transformer, dense or block-quantized, with the two ways they
// are applied: a linear layer (x @ W^T + b) and an embedding lookup.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/core/device.h"
#include "alloy/core/quant_formats.h"

namespace alloy::llm {

// W (N, K): dense in the compute dtype, or N rows of quantized blocks (uint8 (N, row_bytes)).
struct Linear {
  array weight = array(0.0f);
  std::optional<quant::Type> qtype;
  std::optional<array> bias;  // (N,)

  bool quantized() const { return qtype.has_value(); }
  int64_t out_features() const { return weight.shape(0); }
  // x (..., K) -> (..., N)
  array operator()(const array& x, StreamOrDevice s = {}) const;
};

// The token embedding table (V, D), dense or quantized rows.
struct Embedding {
  Linear table;
  // tokens (...) int32 -> (..., D) in `dtype`
  array lookup(const array& tokens, Dtype dtype, StreamOrDevice s = {}) const;
};

struct LayerWeights {
  array attn_norm = array(0.0f);  // (D,)
  // q (Hq * hd, D), k and v (Hkv * hd, D); or fused (phi3): qkv rows q, k, v.
  std::optional<Linear> qkv;
  Linear q, k, v, o;
  std::optional<array> q_norm, k_norm;       // (hd,)
  std::optional<array> post_attention_norm;  // (D,) gemma
  array ffn_norm = array(0.0f);              // (D,)
  // gate and up (F, D), or fused (phi3): gate_up rows gate then up; down (D, F).
  std::optional<Linear> gate_up;
  Linear gate, up, down;
  std::optional<array> post_ffw_norm;  // (D,) gemma
};

struct ModelWeights {
  Embedding token_embd;
  std::vector<LayerWeights> layers;
  array output_norm = array(0.0f);  // (D,)
  Linear output;                    // (V, D); the embedding table itself when tied
};

}  // namespace alloy::llm
