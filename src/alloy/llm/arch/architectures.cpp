// The list of architectures, lookups by Hugging Face model_type and by GGUF name, and the
// config readers the architecture files share.
#include <stdexcept>

#include "alloy/llm/arch/architecture.h"

namespace alloy::llm {

const std::vector<const Architecture*>& architectures() {
  static const std::vector<const Architecture*> all = {
      &llama_architecture(),  &mistral_architecture(), &qwen2_architecture(), &qwen3_architecture(),
      &phi3_architecture(),   &gemma2_architecture(),  &gemma3_architecture()};
  return all;
}

namespace {
std::string supported_list(bool hf) {
  std::string names;
  for (const Architecture* a : architectures()) {
    if (hf) {
      for (const std::string& t : a->hf_model_types) names += (names.empty() ? "" : ", ") + t;
    } else {
      if (!a->gguf_name.empty()) names += (names.empty() ? "" : ", ") + a->gguf_name;
    }
  }
  return names;
}
}  // namespace

const Architecture& architecture_for_hf(const std::string& model_type) {
  for (const Architecture* a : architectures())
    for (const std::string& t : a->hf_model_types)
      if (t == model_type) return *a;
  throw std::invalid_argument("unknown model type '" + model_type +
                              "' in config.json (supported: " + supported_list(true) + ")");
}

const Architecture& architecture_for_gguf(const std::string& gguf_name) {
  for (const Architecture* a : architectures())
    if (!a->gguf_name.empty() && a->gguf_name == gguf_name) return *a;
  throw std::invalid_argument("unknown architecture '" + gguf_name +
                              "' in GGUF general.architecture (supported: " + supported_list(false) +
                              ")");
}

namespace config_read {

std::optional<double> number(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::optional<int64_t> integer(const GGUFMetadata& md, const std::string& key) {
  auto it = md.find(key);
  if (it == md.end()) return std::nullopt;
  auto v = io::gguf_to_int(it->second);
  if (!v) throw std::invalid_argument("GGUF metadata " + key + " is not an integer");
  return v;
}

std::optional<double> real(const GGUFMetadata& md, const std::string& key) {
  auto it = md.find(key);
  if (it == md.end()) return std::nullopt;
  auto v = io::gguf_to_double(it->second);
  if (!v) throw std::invalid_argument("GGUF metadata " + key + " is not a number");
  return v;
}

namespace {
// One set of RoPE settings: {"rope_type"|"type", "rope_theta", "factor", ...}.
void read_rope_object(const nlohmann::json& p, RopeConfig& rope) {
  if (auto t = number(p, "rope_theta")) rope.theta = static_cast<float>(*t);
  std::string type = "default";
  if (p.contains("rope_type") && p["rope_type"].is_string()) type = p["rope_type"];
  else if (p.contains("type") && p["type"].is_string()) type = p["type"];
  if (type == "default" || type == "linear" || type == "llama3") {
    rope.scaling = type;
  } else {
    throw std::invalid_argument("RoPE scaling '" + type +
                                "' is not supported (supported: default, linear, llama3)");
  }
  if (auto f = number(p, "factor")) rope.factor = static_cast<float>(*f);
  if (auto f = number(p, "low_freq_factor")) rope.low_freq_factor = static_cast<float>(*f);
  if (auto f = number(p, "high_freq_factor")) rope.high_freq_factor = static_cast<float>(*f);
  if (auto n = number(p, "original_max_position_embeddings"))
    rope.original_max_positions = static_cast<int64_t>(*n);
}
}  // namespace

RopeConfig hf_rope(const nlohmann::json& config, const char* layer_type, int64_t head_dim) {
  RopeConfig rope;
  double partial = 1.0;
  if (config.contains("rope_parameters") && config["rope_parameters"].is_object()) {
    // transformers 5: one object, or one per layer type ({"full_attention": {...}, ...}).
    const nlohmann::json& p = config["rope_parameters"];
    const nlohmann::json* chosen = &p;
    if (!p.contains("rope_theta") && !p.contains("rope_type") && layer_type &&
        p.contains(layer_type))
      chosen = &p[layer_type];
    read_rope_object(*chosen, rope);
    if (auto f = number(*chosen, "partial_rotary_factor")) partial = *f;
  } else {
    // transformers 4: rope_theta and an optional rope_scaling object.
    if (auto t = number(config, "rope_theta")) rope.theta = static_cast<float>(*t);
    if (config.contains("rope_scaling") && config["rope_scaling"].is_object())
      read_rope_object(config["rope_scaling"], rope);
  }
  if (auto f = number(config, "partial_rotary_factor")) partial = *f;
  rope.dims = static_cast<int>(static_cast<double>(head_dim) * partial);
  return rope;
}

}  // namespace config_read
}  // namespace alloy::llm
