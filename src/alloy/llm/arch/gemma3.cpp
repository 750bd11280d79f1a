// Gemma 3 (the text model): Gemma 2's blocks without soft-capping, with an RMSNorm over each
// head of q and k, and five sliding-window layers for every global one (layer i is global when
// (i + 1) % 6 == 0, or as config.json's layer_types say). The sliding layers use their own RoPE
// base (10000); the global ones the model's (1e6, possibly linearly scaled).
#include <cmath>

#include "alloy/llm/arch/architecture.h"

namespace alloy::llm {

namespace {
void window_pattern(ModelConfig& cfg, int64_t pattern) {
  cfg.sliding_layers.assign(static_cast<size_t>(cfg.n_layers), true);
  for (int64_t i = 0; i < cfg.n_layers; ++i)
    if (pattern > 0 && (i + 1) % pattern == 0) cfg.sliding_layers[static_cast<size_t>(i)] = false;
}
}  // namespace

const Architecture& gemma3_architecture() {
  static const Architecture arch = [] {
    Architecture a;
    a.name = "gemma3";
    a.hf_model_types = {"gemma3_text", "gemma3"};
    a.gguf_name = "gemma3";
    set_gemma_architecture(a);
    a.read_hf = [](const nlohmann::json& c, ModelConfig& cfg) {
      read_gemma_hf(c, cfg);
      cfg.qk_norm = true;
      if (c.contains("layer_types") && c["layer_types"].is_array()) {
        cfg.sliding_layers.clear();
        for (const auto& t : c["layer_types"]) cfg.sliding_layers.push_back(t == "sliding_attention");
      } else {
        int64_t pattern = 6;
        if (auto p = config_read::number(c, "sliding_window_pattern")) pattern = static_cast<int64_t>(*p);
        window_pattern(cfg, pattern);
      }
      cfg.rope = config_read::hf_rope(c, "full_attention", cfg.head_dim);
      cfg.rope_local = config_read::hf_rope(c, "sliding_attention", cfg.head_dim);
      if (!c.contains("rope_parameters") || c["rope_parameters"].contains("rope_theta")) {
        // transformers 4 (or one shared object): the local layers' base is its own field.
        cfg.rope_local = RopeConfig{};
        cfg.rope_local.dims = cfg.rope.dims;
        cfg.rope_local.theta = static_cast<float>(config_read::number(c, "rope_local_base_freq").value_or(10000.0));
      }
    };
    a.read_gguf = [](const GGUFMetadata& md, ModelConfig& cfg) {
      set_gemma_config(cfg);
      cfg.qk_norm = true;
      if (auto w = config_read::integer(md, "gemma3.attention.sliding_window")) cfg.sliding_window = *w;
      window_pattern(cfg, 6);
      cfg.rope_local = RopeConfig{};
      cfg.rope_local.dims = cfg.rope.dims;
      cfg.rope_local.theta = 10000.0f;
    };
    return a;
  }();
  return arch;
}

}  // namespace alloy::llm
