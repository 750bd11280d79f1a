// Phi-3 (mini, medium): Llama's blocks with q, k and v fused into one projection (qkv_proj:
// rows q, then k, then v) and gate and up fused (gate_up_proj: gate rows, then up rows); the
// GGUF form keeps both fusions (attn_qkv, and ffn_up holding gate and up).
#include "alloy/llm/arch/architecture.h"

namespace alloy::llm {

const Architecture& phi3_architecture() {
  static const Architecture arch = [] {
    Architecture a;
    a.name = "phi3";
    a.hf_model_types = {"phi3"};
    a.gguf_name = "phi3";
    a.read_hf = [](const nlohmann::json& c, ModelConfig& cfg) {
      if (auto w = config_read::number(c, "sliding_window")) cfg.sliding_window = static_cast<int64_t>(*w);
    };
    a.read_gguf = [](const GGUFMetadata& md, ModelConfig& cfg) {
      if (auto w = config_read::integer(md, "phi3.attention.sliding_window")) cfg.sliding_window = *w;
    };
    return a;
  }();
  return arch;
}

}  // namespace alloy::llm
