// Gemma 2: GELU (tanh) gated MLP; a norm before and after both attention and the MLP; the
// embeddings scaled by sqrt(hidden); attention scores and final logits soft-capped
// (cap * tanh(x / cap)); every other layer (the even ones) attends within a sliding window;
// queries scaled by query_pre_attn_scalar^-1/2; norms compute x * (1 + w).
#include <cmath>

#include "alloy/llm/arch/architecture.h"

namespace alloy::llm {

namespace {
void alternate_windows(ModelConfig& cfg) {
  cfg.sliding_layers.assign(static_cast<size_t>(cfg.n_layers), false);
  for (int64_t i = 0; i < cfg.n_layers; i += 2) cfg.sliding_layers[static_cast<size_t>(i)] = true;
}
}  // namespace

void set_gemma_architecture(Architecture& a) {
  a.norm_adds_one = true;
  a.hf_layer_names = {{"post_attention_layernorm", "post_attention_norm"},
                      {"pre_feedforward_layernorm", "ffn_norm"},
                      {"post_feedforward_layernorm", "post_ffw_norm"}};
}

void set_gemma_config(ModelConfig& cfg) {
  cfg.activation = Activation::gelu_tanh;
  cfg.sandwich_norms = true;
  cfg.embed_scale = std::sqrt(static_cast<float>(cfg.hidden));
}

void read_gemma_hf(const nlohmann::json& c, ModelConfig& cfg) {
  set_gemma_config(cfg);
  cfg.tie_embeddings = c.value("tie_word_embeddings", true);
  if (auto s = config_read::number(c, "query_pre_attn_scalar")) cfg.attn_scale = static_cast<float>(1.0 / std::sqrt(*s));
  if (auto w = config_read::number(c, "sliding_window")) cfg.sliding_window = static_cast<int64_t>(*w);
}

const Architecture& gemma2_architecture() {
  static const Architecture arch = [] {
    Architecture a;
    a.name = "gemma2";
    a.hf_model_types = {"gemma2"};
    a.gguf_name = "gemma2";
    set_gemma_architecture(a);
    a.read_hf = [](const nlohmann::json& c, ModelConfig& cfg) {
      read_gemma_hf(c, cfg);
      if (auto s = config_read::number(c, "attn_logit_softcapping")) cfg.attn_softcap = static_cast<float>(*s);
      if (auto s = config_read::number(c, "final_logit_softcapping")) cfg.final_softcap = static_cast<float>(*s);
      alternate_windows(cfg);
    };
    a.read_gguf = [](const GGUFMetadata& md, ModelConfig& cfg) {
      set_gemma_config(cfg);
      if (auto s = config_read::real(md, "gemma2.attn_logit_softcapping")) cfg.attn_softcap = static_cast<float>(*s);
      if (auto s = config_read::real(md, "gemma2.final_logit_softcapping")) cfg.final_softcap = static_cast<float>(*s);
      if (auto w = config_read::integer(md, "gemma2.attention.sliding_window")) cfg.sliding_window = *w;
      alternate_windows(cfg);
    };
    return a;
  }();
  return arch;
}

}  // namespace alloy::llm
