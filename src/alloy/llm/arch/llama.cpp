// Llama 1, 2, 3, 3.1 and 3.2 (and the many models that reuse its layout): pre-norm blocks of
// grouped-query attention with RoPE and a SwiGLU MLP. Llama 3.1/3.2 scale RoPE ("llama3");
// the small 3.2 models tie the output to the embeddings.
#include "alloy/llm/arch/architecture.h"

namespace alloy::llm {

const Architecture& llama_architecture() {
  static const Architecture arch = [] {
    Architecture a;
    a.name = "llama";
    a.hf_model_types = {"llama"};
    a.gguf_name = "llama";
    a.gguf_permutes_qk = true;
    a.read_hf = [](const nlohmann::json& c, ModelConfig& cfg) {
      cfg.qkv_bias = c.value("attention_bias", false);
    };
    a.read_gguf = [](const GGUFMetadata&, ModelConfig&) {};
    return a;
  }();
  return arch;
}

}  // namespace alloy::llm
