// An architecture: how its hyper-parameters are read from a Hugging Face config.json and from
// GGUF metadata, how its tensors are named in both, and what llama.cpp's conversion changed.
// One file each (llama.cpp, mistral.cpp, ...); architectures.cpp lists them. The forward pass
// is shared (model/model.cpp) and reads the ModelConfig they fill.
//
// Tensors are known inside alloy by their GGUF names ("blk.3.attn_q.weight"), so that a GGUF
// file needs no mapping and converting to GGUF is a renaming.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alloy/io/gguf.h"
#include "alloy/llm/model/config.h"

namespace alloy::llm {

using GGUFMetadata = std::map<std::string, io::GGUFValue>;

struct Architecture {
  std::string name;                         // alloy's name, "llama"
  std::vector<std::string> hf_model_types;  // config.json "model_type" values
  std::string gguf_name;                    // general.architecture
  // Fills the fields the common readers do not (the common ones come first).
  std::function<void(const nlohmann::json& config, ModelConfig&)> read_hf;
  std::function<void(const GGUFMetadata& md, ModelConfig&)> read_gguf;
  // llama.cpp stores llama's Q and K rows permuted so that RoPE rotates adjacent pairs; the
  // other architectures keep Hugging Face's row order and rotate halves.
  bool gguf_permutes_qk = false;
  // Gemma computes x * (1 + w) in its norms; llama.cpp's conversion stores 1 + w.
  bool norm_adds_one = false;
  // Hugging Face tensor names for one layer's GGUF suffixes beyond the common ones
  // ("attn_q" <- "self_attn.q_proj"), e.g. gemma2's post norms.
  std::map<std::string, std::string> hf_layer_names;
};

const std::vector<const Architecture*>& architectures();
// Throws std::invalid_argument listing the supported names when there is none.
const Architecture& architecture_for_hf(const std::string& model_type);
const Architecture& architecture_for_gguf(const std::string& gguf_name);

// Reading helpers shared by the architecture files.
namespace config_read {
std::optional<double> number(const nlohmann::json& j, const char* key);
std::optional<int64_t> integer(const GGUFMetadata& md, const std::string& key);
std::optional<double> real(const GGUFMetadata& md, const std::string& key);
// HF RoPE settings: transformers 5's rope_parameters (possibly one object per layer type) or
// transformers 4's rope_theta / rope_scaling / partial_rotary_factor.
RopeConfig hf_rope(const nlohmann::json& config, const char* layer_type, int64_t head_dim);
}  // namespace config_read

// What Gemma 2 and 3 share (gemma2.cpp): norms computing x * (1 + w) placed before and after
// attention and the MLP (with their Hugging Face names), a GELU-tanh MLP, embeddings scaled by
// sqrt(hidden), tied output.
void set_gemma_architecture(Architecture& a);
void set_gemma_config(ModelConfig& cfg);
void read_gemma_hf(const nlohmann::json& c, ModelConfig& cfg);  // also queries' scale, window

const Architecture& llama_architecture();
const Architecture& mistral_architecture();
const Architecture& qwen2_architecture();
const Architecture& qwen3_architecture();
const Architecture& phi3_architecture();
const Architecture& gemma2_architecture();
const Architecture& gemma3_architecture();

}  // namespace alloy::llm
