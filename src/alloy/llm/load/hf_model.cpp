// Loading a Hugging Face model directory: config.json (transformers 4 and 5 field names),
// model.safetensors or its shards (model.safetensors.index.json), tokenizer.json with
// tokenizer_config.json, and generation_config.json. Tensor names are mapped to GGUF's
// ("model.layers.3.self_attn.q_proj.weight" -> "blk.3.attn_q.weight").
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "alloy/core/ops.h"
#include "alloy/io/io.h"
#include "alloy/llm/arch/architecture.h"
#include "alloy/llm/load.h"
#include "alloy/llm/load/mlx_quantized.h"
#include "alloy/llm/load/tensor_set.h"

namespace alloy::llm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const fs::path& p) {
  std::ifstream f(p);
  if (!f) throw std::invalid_argument("cannot open " + p.string());
  try {
    return json::parse(f);
  } catch (const json::exception& e) {
    throw std::invalid_argument(p.string() + " is not valid JSON: " + e.what());
  }
}

int64_t required_int(const json& c, const char* key) {
  auto v = config_read::number(c, key);
  if (!v) throw std::invalid_argument(std::string("config.json has no number ") + key);
  return int64_t(*v);
}

std::vector<int32_t> token_ids(const json& j) {
  std::vector<int32_t> ids;
  if (j.is_number_integer()) ids.push_back(j.get<int32_t>());
  if (j.is_array())
    for (const auto& e : j)
      if (e.is_number_integer()) ids.push_back(e.get<int32_t>());
  return ids;
}

ModelConfig read_config(const json& c, const Architecture& arch) {
  ModelConfig cfg;
  cfg.arch = arch.name;
  cfg.vocab_size = required_int(c, "vocab_size");
  cfg.hidden = required_int(c, "hidden_size");
  cfg.n_layers = required_int(c, "num_hidden_layers");
  cfg.n_heads = required_int(c, "num_attention_heads");
  cfg.n_kv_heads = int64_t(config_read::number(c, "num_key_value_heads").value_or(double(cfg.n_heads)));
  cfg.head_dim = int64_t(config_read::number(c, "head_dim").value_or(double(cfg.hidden / cfg.n_heads)));
  cfg.ffn = required_int(c, "intermediate_size");
  cfg.context_length = int64_t(config_read::number(c, "max_position_embeddings").value_or(2048));
  cfg.norm_eps = float(config_read::number(c, "rms_norm_eps").value_or(1e-6));
  cfg.tie_embeddings = c.value("tie_word_embeddings", false);
  cfg.rope = config_read::hf_rope(c, "full_attention", cfg.head_dim);
  cfg.rope_local = cfg.rope;
  if (c.contains("bos_token_id")) {
    auto b = token_ids(c["bos_token_id"]);
    if (!b.empty()) cfg.bos_id = b[0];
  }
  if (c.contains("eos_token_id")) cfg.eos_ids = token_ids(c["eos_token_id"]);
  arch.read_hf(c, cfg);
  return cfg;
}

// HF layer tensor name (after "model.layers.N.", before ".weight") -> GGUF suffix.
std::map<std::string, std::string> layer_names(const Architecture& arch) {
  std::map<std::string, std::string> m = {
      {"input_layernorm", "attn_norm"},         {"self_attn.q_proj", "attn_q"},
      {"self_attn.k_proj", "attn_k"},           {"self_attn.v_proj", "attn_v"},
      {"self_attn.o_proj", "attn_output"},      {"self_attn.qkv_proj", "attn_qkv"},
      {"self_attn.q_norm", "attn_q_norm"},      {"self_attn.k_norm", "attn_k_norm"},
      {"post_attention_layernorm", "ffn_norm"}, {"mlp.gate_proj", "ffn_gate"},
      {"mlp.up_proj", "ffn_up"},                {"mlp.down_proj", "ffn_down"},
      {"mlp.gate_up_proj", "ffn_up"}};
  for (const auto& [hf, gguf] : arch.hf_layer_names) m[hf] = gguf;
  return m;
}

// The GGUF name of a Hugging Face tensor, or "" for tensors the model does not use.
std::string gguf_name(std::string name, const std::map<std::string, std::string>& layers) {
  for (const char* prefix : {"language_model.", "model.language_model."}) {
    if (name.rfind(prefix, 0) == 0) name = name.substr(std::string(prefix).size());
  }
  if (name.rfind("model.", 0) != 0 && name.rfind("lm_head.", 0) != 0) name = "model." + name;
  if (name == "model.embed_tokens.weight") return "token_embd.weight";
  if (name == "model.norm.weight") return "output_norm.weight";
  if (name == "lm_head.weight" || name == "model.lm_head.weight") return "output.weight";
  const std::string lp = "model.layers.";
  if (name.rfind(lp, 0) != 0) return "";
  size_t dot = name.find('.', lp.size());
  if (dot == std::string::npos) return "";
  std::string layer = name.substr(lp.size(), dot - lp.size());
  std::string rest = name.substr(dot + 1);
  size_t last = rest.rfind('.');
  if (last == std::string::npos) return "";
  std::string kind = rest.substr(last + 1);  // weight or bias
  auto it = layers.find(rest.substr(0, last));
  if (it == layers.end() || (kind != "weight" && kind != "bias")) return "";
  return "blk." + layer + "." + it->second + "." + kind;
}

std::vector<fs::path> weight_files(const fs::path& dir) {
  if (fs::exists(dir / "model.safetensors")) return {dir / "model.safetensors"};
  fs::path index = dir / "model.safetensors.index.json";
  std::vector<fs::path> files;
  if (fs::exists(index)) {
    json j = read_json(index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      throw std::invalid_argument(index.string() + " has no weight_map");
    std::set<std::string> names;
    for (const auto& [tensor, file] : j["weight_map"].items()) names.insert(file.get<std::string>());
    for (const std::string& n : names) {
      if (n.find('/') != std::string::npos || n.find("..") != std::string::npos)
        throw std::invalid_argument(index.string() + " names a shard outside the folder: " + n);
      files.push_back(dir / n);
    }
    return files;
  }
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") files.push_back(e.path());
  if (files.empty()) throw std::invalid_argument(dir.string() + " has no model.safetensors or safetensors shards");
  std::sort(files.begin(), files.end());
  return files;
}

std::string file_type_name(Dtype d) {
  if (d == float32) return "F32";
  if (d == float16) return "F16";
  if (d == bfloat16) return "BF16";
  return "other";
}

std::string chat_template_of(const fs::path& dir) {
  if (fs::exists(dir / "chat_template.jinja")) {
    std::ifstream f(dir / "chat_template.jinja");
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  if (!fs::exists(dir / "tokenizer_config.json")) return "";
  json tc = read_json(dir / "tokenizer_config.json");
  if (!tc.contains("chat_template")) return "";
  const json& t = tc["chat_template"];
  if (t.is_string()) return t.get<std::string>();
  if (t.is_array()) {  // [{"name": "default", "template": "..."}, ...]
    for (const auto& e : t)
      if (e.value("name", "") == "default" && e.contains("template")) return e["template"].get<std::string>();
    if (!t.empty() && t[0].contains("template")) return t[0]["template"].get<std::string>();
  }
  return "";
}

}  // namespace

HFModelSource read_hf_model(const std::string& directory, const LoadOptions& options, MlxWeights mlx_weights) {
  fs::path dir(directory);
  if (!fs::exists(dir / "config.json")) throw std::invalid_argument(directory + " has no config.json");
  json c = read_json(dir / "config.json");
  if (c.contains("text_config") && c["text_config"].is_object()) {
    // Multimodal wrappers (gemma3): the text model's fields are nested.
    json text = c["text_config"];
    for (const auto& [k, v] : c.items())
      if (!text.contains(k) && k != "text_config" && k != "model_type") text[k] = v;
    c = text;
    if (!c.contains("model_type")) c["model_type"] = "gemma3_text";
  }
  // MLX's "quantization" (newer mlx_lm also copies it to "quantization_config"); other
  // "quantization_config"s (GPTQ, AWQ, bitsandbytes, ...) are refused by name.
  std::optional<MlxQuantization> mlx_quant = read_mlx_quantization(c, (dir / "config.json").string());
  if (!mlx_quant && c.contains("quantization_config")) {
    const json& qc = c["quantization_config"];
    std::string method = qc.is_object() ? qc.value("quant_method", "unnamed") : "unnamed";
    throw std::invalid_argument(directory + " is quantized with '" + method +
                                "', which alloy cannot load (MLX affine and GGUF quantized models load)");
  }
  std::string model_type = c.value("model_type", "");
  const Architecture& arch = architecture_for_hf(model_type);
  ModelConfig config = read_config(c, arch);
  if (fs::exists(dir / "generation_config.json")) {
    json g = read_json(dir / "generation_config.json");
    if (g.contains("eos_token_id")) {
      auto ids = token_ids(g["eos_token_id"]);
      if (!ids.empty()) config.eos_ids = ids;
    }
  }
  if (options.context_length > 0) config.context_length = options.context_length;
  config.validate();

  TensorSet tensors;
  auto names = layer_names(arch);
  Dtype file_dtype = float32;
  std::map<std::string, array> file_tensors;
  for (const fs::path& file : weight_files(dir)) {
    io::SafetensorsFile st = io::load_safetensors(file.string());
    for (auto& [name, a] : st.tensors) file_tensors.emplace(name, a);
  }
  std::map<std::string, MlxModule> mlx_modules;
  if (mlx_quant) mlx_modules = convert_mlx_tensors(file_tensors, *mlx_quant, mlx_weights);
  for (auto& [name, a] : file_tensors) {
    std::string g = gguf_name(name, names);
    if (g.empty()) continue;
    auto mlx = mlx_modules.find(name);
    if (g == "token_embd.weight") file_dtype = mlx != mlx_modules.end() ? mlx->second.dtype : a.dtype();
    SourceTensor t;
    t.shape = a.shape();
    t.type_name = file_type_name(a.dtype());
    if (mlx != mlx_modules.end()) {
      const MlxModule& m = mlx->second;
      t.type_name = "MLX " + std::to_string(m.bits) + "-bit/" + std::to_string(m.group_size);
      if (m.q8_0) {
        t.shape = m.shape;
        t.qtype = quant::Type::Q8_0;
        t.type_name = "Q8_0 (" + t.type_name + ")";
      }
    }
    t.data = a;
    tensors.emplace(g, std::move(t));
  }
  if (!tensors.count("output.weight")) config.tie_embeddings = true;

  if (!fs::exists(dir / "tokenizer.json")) throw std::invalid_argument(directory + " has no tokenizer.json");
  Tokenizer tokenizer = Tokenizer::from_tokenizer_json((dir / "tokenizer.json").string());
  tokenizer.set_chat_template(chat_template_of(dir));
  if (config.bos_id < 0) config.bos_id = tokenizer.bos_id();
  if (config.eos_ids.empty() && tokenizer.eos_id() >= 0) config.eos_ids = {tokenizer.eos_id()};
  return {std::move(config), &arch, std::move(tensors), std::move(tokenizer), file_dtype};
}

LoadedModel load_hf_model(const std::string& directory, const LoadOptions& options) {
  HFModelSource src = read_hf_model(directory, options, MlxWeights::q8_0_rows);
  BuildOptions build = resolve_build_options(options, src.file_dtype);
  build.norm_adds_one = src.arch->norm_adds_one;
  ModelInfo info;
  info.source = directory;
  info.format = "huggingface";
  ModelWeights weights = build_weights(src.config, src.tensors, build, info);
  return {Model(std::move(src.config), std::move(weights), build.device, build.dtype, std::move(info)),
          std::move(*src.tokenizer)};
}

}  // namespace alloy::llm
