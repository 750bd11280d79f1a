#include "alloy/llm/model/config.h"

#include <cmath>
#include <stdexcept>

namespace alloy::llm {

float ModelConfig::attention_scale() const {
  return attn_scale > 0 ? attn_scale : 1.0f / std::sqrt(static_cast<float>(head_dim));
}

void ModelConfig::validate() const {
  auto positive = [&](int64_t v, const char* what) {
    if (v <= 0) throw std::invalid_argument("the " + arch + " model's " + what + " must be positive, got " + std::to_string(v));
  };
  positive(vocab_size, "vocabulary size");
  positive(hidden, "hidden size");
  positive(n_layers, "layer count");
  positive(n_heads, "attention head count");
  positive(n_kv_heads, "key/value head count");
  positive(head_dim, "head dimension");
  positive(ffn, "feed-forward size");
  positive(context_length, "context length");
  if (n_heads % n_kv_heads != 0) {
    throw std::invalid_argument("the " + arch + " model's " + std::to_string(n_heads) +
                                " attention heads are not a multiple of its " + std::to_string(n_kv_heads) +
                                " key/value heads");
  }
  for (const RopeConfig* r : {&rope, &rope_local}) {
    int d = r->dims > 0 ? r->dims : int(head_dim);
    if (d % 2 != 0 || d > head_dim) {
      throw std::invalid_argument("the " + arch + " model rotates " + std::to_string(d) +
                                  " features of heads of " + std::to_string(head_dim) + " (must be even, at most the head size)");
    }
  }
  if (!sliding_layers.empty() && int64_t(sliding_layers.size()) != n_layers) {
    throw std::invalid_argument("the " + arch + " model lists " + std::to_string(sliding_layers.size()) +
                                " layer types for " + std::to_string(n_layers) + " layers");
  }
}

}  // namespace alloy::llm
