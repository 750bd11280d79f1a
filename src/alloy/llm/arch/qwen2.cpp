// Qwen2 and Qwen2.5: Llama's layout with biases on the q, k and v projections.
#include "alloy/llm/arch/architecture.h"

namespace alloy::llm {

const Architecture& qwen2_architecture() {
  static const Architecture arch = [] {
    Architecture a;
    a.name = "qwen2";
    a.hf_model_types = {"qwen2"};
    a.gguf_name = "qwen2";
    a.read_hf = [](const nlohmann::json& c, ModelConfig& cfg) {
      cfg.qkv_bias = true;
      // The window applies only where use_sliding_window is on (it is off in released models).
      if (c.value("use_sliding_window", false)) {
        if (auto w = config_read::number(c, "sliding_window")) cfg.sliding_window = static_cast<int64_t>(*w);
      }
    };
    a.read_gguf = [](const GGUFMetadata&, ModelConfig& cfg) { cfg.qkv_bias = true; };
    return a;
  }();
  return arch;
}

}  // namespace alloy::llm
