#include "alloy/llm/convert/convert.h"
#include "alloy/llm/convert/encode.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/io/gguf.h"
#include "alloy/llm/arch/architecture.h"
#include "alloy/llm/load/tensor_set.h"

namespace alloy::llm {

namespace {

// Rows of a (heads * hd, K) matrix from rotate-half order (i, i + hd/2) to adjacent pairs
// (2i, 2i + 1): row h*hd + half*(hd/2) + i moves to h*hd + 2i + half.
std::vector<float> permute_qk(const std::vector<float>& w, int64_t heads, int64_t K) {
  int64_t rows = int64_t(w.size()) / K, hd = rows / heads, half = hd / 2;
  std::vector<float> out(w.size());
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t part = 0; part < 2; ++part)
      for (int64_t i = 0; i < half; ++i)
        std::memcpy(&out[size_t((h * hd + 2 * i + part) * K)], &w[size_t((h * hd + part * half + i) * K)],
                    size_t(K) * sizeof(float));
  return out;
}

// RoPE llama3 scaling as llama.cpp stores it: per frequency, the factor it is divided by.
std::vector<float> llama3_factors(const RopeConfig& r, int dims) {
  std::vector<float> f;
  const float pi = 3.14159265358979f, old = float(r.original_max_positions);
  for (int i = 0; i < dims / 2; ++i) {
    float freq = std::pow(r.theta, -2.0f * float(i) / float(dims)), wavelen = 2.0f * pi / freq;
    if (wavelen < old / r.high_freq_factor) f.push_back(1.0f);
    else if (wavelen > old / r.low_freq_factor) f.push_back(r.factor);
    else {
      float smooth = (old / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
      f.push_back(1.0f / ((1.0f - smooth) / r.factor + smooth));
    }
  }
  return f;
}

}  // namespace

void convert_hf_to_gguf(const std::string& directory, const std::string& output, const std::string& type_name) {
  uint32_t type = 0, file_type = 0;
  if (type_name == "F32") type = 0, file_type = 0;
  else if (type_name == "F16") type = 1, file_type = 1;
  else if (type_name == "BF16") type = 30, file_type = 32;
  else throw std::invalid_argument("convert writes F32, F16 or BF16, not '" + type_name + "' (quantize the result)");
  HFModelSource src = read_hf_model(directory, {});
  const ModelConfig& c = src.config;
  const Architecture& arch = *src.arch;
  const std::string a = arch.gguf_name.empty() ? "llama" : arch.gguf_name;  // mistral is written as llama
  const bool permute = arch.gguf_permutes_qk;

  std::map<std::string, io::GGUFValue> md = src.tokenizer->to_gguf_metadata();
  md["general.architecture"] = a;
  md["general.name"] = std::filesystem::path(directory).filename().string();
  md["general.file_type"] = file_type;
  md[a + ".context_length"] = uint32_t(c.context_length);
  md[a + ".embedding_length"] = uint32_t(c.hidden);
  md[a + ".block_count"] = uint32_t(c.n_layers);
  md[a + ".feed_forward_length"] = uint32_t(c.ffn);
  md[a + ".attention.head_count"] = uint32_t(c.n_heads);
  md[a + ".attention.head_count_kv"] = uint32_t(c.n_kv_heads);
  md[a + ".attention.key_length"] = uint32_t(c.head_dim);
  md[a + ".attention.value_length"] = uint32_t(c.head_dim);
  md[a + ".attention.layer_norm_rms_epsilon"] = c.norm_eps;
  md[a + ".rope.freq_base"] = c.rope.theta;
  md[a + ".rope.dimension_count"] = uint32_t(c.rope.dims > 0 ? c.rope.dims : c.head_dim);
  md[a + ".vocab_size"] = uint32_t(c.vocab_size);
  if (c.rope.scaling == "linear") {
    md[a + ".rope.scaling.type"] = std::string("linear");
    md[a + ".rope.scaling.factor"] = c.rope.factor;
  }
  if (c.sliding_window > 0 && a != "llama") md[a + ".attention.sliding_window"] = uint32_t(c.sliding_window);
  if (c.attn_softcap > 0) md[a + ".attn_logit_softcapping"] = c.attn_softcap;
  if (c.final_softcap > 0) md[a + ".final_logit_softcapping"] = c.final_softcap;

  std::vector<io::GGUFTensorOut> tensors;
  if (c.rope.scaling == "llama3") {
    auto f = llama3_factors(c.rope, c.rope.dims > 0 ? c.rope.dims : int(c.head_dim));
    tensors.push_back({"rope_freqs.weight", 0, {uint64_t(f.size())}, array(f, {int64_t(f.size())})});
  }
  for (const auto& [name, t] : src.tensors) {
    if (name == "output.weight" && c.tie_embeddings) continue;
    array v32 = astype(t.data, float32);
    v32.eval();
    std::vector<float> v(v32.data<float>(), v32.data<float>() + v32.size());
    bool is_norm = name.size() > 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0;
    if (arch.norm_adds_one && is_norm)
      for (float& x : v) x += 1.0f;
    int64_t K = t.shape.back();
    if (permute && name.find(".attn_q.weight") != std::string::npos) v = permute_qk(v, c.n_heads, K);
    if (permute && name.find(".attn_k.weight") != std::string::npos) v = permute_qk(v, c.n_kv_heads, K);
    if (permute && name.find(".attn_q.bias") != std::string::npos) v = permute_qk(v, c.n_heads, 1);
    if (permute && name.find(".attn_k.bias") != std::string::npos) v = permute_qk(v, c.n_kv_heads, 1);
    std::vector<uint64_t> ne;
    for (auto d = t.shape.rbegin(); d != t.shape.rend(); ++d) ne.push_back(uint64_t(*d));
    uint32_t tt = t.shape.size() >= 2 ? type : 0;
    tensors.push_back({name, tt, ne, encode_rows(v, tt, K)});
  }
  io::save_gguf_tensors(output, tensors, md);
}

}  // namespace alloy::llm
