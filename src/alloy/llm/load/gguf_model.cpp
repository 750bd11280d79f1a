// Loading a GGUF file: hyper-parameters from "<arch>.*" metadata, tensors as they lie in the
// mapping (quantized ones as rows of blocks), the tokenizer and chat template from
// "tokenizer.*". llama-architecture files keep llama.cpp's permuted Q/K rows, which RoPE on
// adjacent pairs ("traditional") undoes exactly.
#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/io/gguf.h"
#include "alloy/llm/arch/architecture.h"
#include "alloy/llm/load.h"
#include "alloy/llm/load/tensor_set.h"

namespace alloy::llm {

namespace {

std::string metadata_string(const GGUFMetadata& md, const std::string& key) {
  auto it = md.find(key);
  if (it == md.end()) return "";
  const auto* s = std::get_if<std::string>(&it->second.variant());
  if (!s) throw std::invalid_argument("GGUF metadata " + key + " is not a string");
  return *s;
}

ModelConfig read_config(const io::GGUFFile& f, const std::string& gguf_arch, const Architecture& arch) {
  const GGUFMetadata& md = f.metadata;
  auto key = [&](const char* k) { return gguf_arch + "." + k; };
  auto required = [&](const char* k) {
    auto v = config_read::integer(md, key(k));
    if (!v) throw std::invalid_argument("the GGUF file has no " + key(k) + " metadata");
    return *v;
  };
  ModelConfig c;
  c.arch = arch.name;
  c.hidden = required("embedding_length");
  c.n_layers = required("block_count");
  c.ffn = required("feed_forward_length");
  c.n_heads = required("attention.head_count");
  c.n_kv_heads = config_read::integer(md, key("attention.head_count_kv")).value_or(c.n_heads);
  c.head_dim = config_read::integer(md, key("attention.key_length"))
                   .value_or(c.n_heads > 0 ? c.hidden / c.n_heads : 0);
  c.context_length = config_read::integer(md, key("context_length")).value_or(2048);
  c.norm_eps = float(config_read::real(md, key("attention.layer_norm_rms_epsilon")).value_or(1e-5));
  c.rope.theta = float(config_read::real(md, key("rope.freq_base")).value_or(10000.0));
  c.rope.dims = int(config_read::integer(md, key("rope.dimension_count")).value_or(c.head_dim));
  c.rope.traditional = arch.gguf_permutes_qk;
  std::string scaling = metadata_string(md, key("rope.scaling.type"));
  if (scaling == "linear") {
    c.rope.scaling = "linear";
    c.rope.factor = float(config_read::real(md, key("rope.scaling.factor")).value_or(1.0));
  } else if (!scaling.empty() && scaling != "none") {
    throw std::invalid_argument("RoPE scaling '" + scaling + "' in " + key("rope.scaling.type") +
                                " is not supported (supported: none, linear)");
  }
  c.vocab_size = config_read::integer(md, key("vocab_size")).value_or(0);
  if (c.vocab_size == 0) {
    auto it = md.find("tokenizer.ggml.tokens");
    if (it != md.end())
      if (const auto* t = std::get_if<std::vector<std::string>>(&it->second.variant()))
        c.vocab_size = int64_t(t->size());
  }
  c.rope_local = c.rope;
  arch.read_gguf(md, c);
  c.rope_local.traditional = c.rope.traditional;
  return c;
}

// Every tensor of the file, dense arrays wrapping the mapping or rows of quantized blocks.
TensorSet read_tensors(const io::GGUFFile& f) {
  TensorSet ts;
  for (const io::GGUFTensorInfo& info : f.tensor_infos) {
    SourceTensor t;
    t.type_name = io::ggml_type_name(info.ggml_type);
    auto dense = f.tensors.find(info.name);
    if (dense != f.tensors.end()) {
      t.data = dense->second;
      t.shape = t.data.shape();
    } else if (const quant::Format* q = quant::format(info.ggml_type)) {
      int64_t K = int64_t(info.ne.empty() ? 0 : info.ne[0]), rows = 1;
      for (size_t i = 1; i < info.ne.size(); ++i) rows *= int64_t(info.ne[i]);
      int64_t row_bytes = int64_t(quant::row_bytes(q->type, K));
      auto keep = f.mapping;
      t.data = array(const_cast<uint8_t*>(f.tensor_data(info)), Shape{rows, row_bytes}, uint8,
                     [keep](void*) {});
      t.qtype = q->type;
      t.shape = {rows, K};
    } else {
      throw std::invalid_argument("tensor " + info.name + " has type " + t.type_name +
                                  ", which alloy cannot load (supported: F32, F16, BF16, Q4_0, Q4_1, "
                                  "Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS)");
    }
    ts.emplace(info.name, std::move(t));
  }
  return ts;
}

Dtype weights_float_dtype(const TensorSet& ts) {
  auto it = ts.find("blk.0.attn_norm.weight");
  auto q = ts.find("blk.0.attn_q.weight");
  const SourceTensor* probe = q != ts.end() ? &q->second : (it != ts.end() ? &it->second : nullptr);
  if (!probe || probe->qtype) return float16;
  return probe->data.dtype();
}

}  // namespace

LoadedModel load_gguf_model(const std::string& path, const LoadOptions& options) {
  io::GGUFFile f = io::load_gguf(path);
  std::string gguf_arch = metadata_string(f.metadata, "general.architecture");
  if (gguf_arch.empty()) throw std::invalid_argument(path + " has no general.architecture metadata");
  const Architecture& arch = architecture_for_gguf(gguf_arch);
  ModelConfig config = read_config(f, gguf_arch, arch);
  TensorSet tensors = read_tensors(f);
  if (auto it = tensors.find("rope_freqs.weight"); it != tensors.end()) {
    array factors = astype(it->second.data, float32);
    factors.eval();
    const float* p = factors.data<float>();
    config.rope.freq_factors.assign(p, p + factors.size());
  }
  if (config.vocab_size == 0)
    if (auto it = tensors.find("token_embd.weight"); it != tensors.end()) config.vocab_size = it->second.shape[0];
  if (!tensors.count("output.weight")) config.tie_embeddings = true;
  if (options.context_length > 0) config.context_length = options.context_length;

  if (!f.find("tokenizer.ggml.model")) throw std::invalid_argument(path + " has no tokenizer (tokenizer.ggml.* metadata)");
  Tokenizer tokenizer = Tokenizer::from_gguf_metadata(f.metadata);
  tokenizer.set_chat_template(metadata_string(f.metadata, "tokenizer.chat_template"));
  config.bos_id = tokenizer.bos_id();
  if (tokenizer.eos_id() >= 0) config.eos_ids = {tokenizer.eos_id()};
  config.validate();

  BuildOptions build = resolve_build_options(options, weights_float_dtype(tensors));
  ModelInfo info;
  info.source = path;
  info.format = "gguf";
  ModelWeights weights = build_weights(config, tensors, build, info);
  return {Model(std::move(config), std::move(weights), build.device, build.dtype, std::move(info)),
          std::move(tokenizer)};
}

}  // namespace alloy::llm
