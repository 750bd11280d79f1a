// Mistral: Llama's layout with an optional sliding attention window. llama.cpp writes Mistral
// models as GGUF architecture "llama", so GGUF files of it load through llama.cpp.
#include "alloy/llm/arch/architecture.h"

namespace alloy::llm {

const Architecture& mistral_architecture() {
  static const Architecture arch = [] {
    Architecture a;
    a.name = "mistral";
    a.hf_model_types = {"mistral"};
    a.gguf_name = "";  // converted to "llama"
    a.gguf_permutes_qk = true;
    a.read_hf = [](const nlohmann::json& c, ModelConfig& cfg) {
      if (auto w = config_read::number(c, "sliding_window")) cfg.sliding_window = static_cast<int64_t>(*w);
    };
    a.read_gguf = [](const GGUFMetadata&, ModelConfig&) {};
    return a;
  }();
  return arch;
}

}  // namespace alloy::llm
