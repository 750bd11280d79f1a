// The hyper-parameters of a decoder-only transformer, in one struct for every architecture.
// The architectures (llm/arch/*.cpp) differ by these fields and by their tensor names; one
// forward pass (model.cpp) reads the fields. Filled from a Hugging Face config.json or from
// GGUF metadata by the architecture's readers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace alloy::llm {

enum class Activation { silu, gelu_tanh };

struct RopeConfig {
  float theta = 10000.0f;
  int dims = 0;              // rotated features of each head; 0 = all of head_dim
  bool traditional = false;  // rotate pairs (2i, 2i+1) instead of halves (i, i + dims/2)
  // "default", "linear" (positions / factor) or "llama3" (long wavelengths slowed by factor,
  // smoothly between low_freq_factor and high_freq_factor).
  std::string scaling = "default";
  float factor = 1.0f;
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int64_t original_max_positions = 8192;
  // From GGUF's rope_freqs tensor (llama.cpp's form of the llama3 scaling): frequency i is
  // divided by freq_factors[i]. Empty otherwise.
  std::vector<float> freq_factors;
};

struct ModelConfig {
  std::string arch;  // "llama", "mistral", "qwen2", "qwen3", "phi3", "gemma2", "gemma3"
  int64_t vocab_size = 0;
  int64_t hidden = 0;
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t ffn = 0;
  int64_t context_length = 2048;
  float norm_eps = 1e-5f;
  Activation activation = Activation::silu;
  RopeConfig rope;
  RopeConfig rope_local;  // the sliding-window layers' RoPE (gemma3); = rope elsewhere
  bool tie_embeddings = false;
  bool qkv_bias = false;        // qwen2
  bool qk_norm = false;         // qwen3, gemma3: RMSNorm over each head of q and k
  bool sandwich_norms = false;  // gemma2/3: norms after attention and after the MLP too
  float embed_scale = 1.0f;     // gemma: sqrt(hidden)
  float attn_scale = 0.0f;      // 0 = 1 / sqrt(head_dim)
  float attn_softcap = 0.0f;    // gemma2: scores = cap * tanh(scores / cap); 0 = none
  float final_softcap = 0.0f;   // gemma2: the same on the logits
  int64_t sliding_window = 0;   // keys within this many positions; 0 = none
  std::vector<bool> sliding_layers;  // per layer: uses the window (empty: all layers, if any)
  int32_t bos_id = -1;
  std::vector<int32_t> eos_ids;

  bool layer_is_sliding(int64_t layer) const {
    if (sliding_window <= 0) return false;
    if (sliding_layers.empty()) return true;
    return sliding_layers[static_cast<size_t>(layer)];
  }
  float attention_scale() const;
  // Throws std::invalid_argument naming the first field that is missing or inconsistent.
  void validate() const;
};

}  // namespace alloy::llm
