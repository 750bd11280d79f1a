// Qwen3 (dense): Llama's layout with an RMSNorm over each head of q and k before RoPE, and no
// q/k/v biases.
#include "alloy/llm/arch/architecture.h"

namespace alloy::llm {

const Architecture& qwen3_architecture() {
  static const Architecture arch = [] {
    Architecture a;
    a.name = "qwen3";
    a.hf_model_types = {"qwen3"};
    a.gguf_name = "qwen3";
    a.read_hf = [](const nlohmann::json& c, ModelConfig& cfg) {
      cfg.qk_norm = true;
      cfg.qkv_bias = c.value("attention_bias", false);
    };
    a.read_gguf = [](const GGUFMetadata&, ModelConfig& cfg) { cfg.qk_norm = true; };
    return a;
  }();
  return arch;
}

}  // namespace alloy::llm
