// alloy synth: a Llama-architecture model of any shape with random weights (uniform, std 0.02)
// and a real vocabulary copied from another GGUF file, written as GGUF in llama.cpp's
// conventions (tensor names, metadata, general.file_type), for benchmarks. Quantized types
// follow llama-quantize's choices for the output matrix (Q6_K, Q8_0 for Q8_0 files); norms
// stay F32. Rows are generated and quantized on all cores.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <thread>

#include "alloy/io/gguf.h"
#include "alloy/llm/convert/encode.h"
#include "common.h"

namespace alloy::cli {

namespace {

struct FileType {
  const char* name;
  uint32_t ggml_type;      // of the big matrices
  uint32_t output_type;    // of output.weight
  uint32_t llama_ftype;    // general.file_type (llama.cpp's LLAMA_FTYPE_*)
};

const FileType kTypes[] = {
    {"F32", 0, 0, 0},           {"F16", 1, 1, 1},          {"BF16", 30, 30, 32},
    {"Q4_0", 2, 14, 2},         {"Q8_0", 8, 8, 7},         {"Q4_K", 12, 14, 15},
    {"Q5_K", 13, 14, 17},       {"Q6_K", 14, 14, 18},
};

// One tensor of uniform random values (std `stddev`), rows generated on all cores, encoded.
array random_tensor(uint32_t ggml_type, int64_t rows, int64_t cols, uint64_t seed, float stddev) {
  std::vector<float> values(static_cast<size_t>(rows * cols));
  float a = stddev * std::sqrt(3.0f);  // uniform on [-a, a] has this standard deviation
  int threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int64_t r = t; r < rows; r += threads) {
        uint64_t s = seed ^ (uint64_t(r) * 0x9E3779B97F4A7C15ull);  // xorshift64* per row
        for (int64_t i = 0; i < cols; ++i) {
          s ^= s >> 12;
          s ^= s << 25;
          s ^= s >> 27;
          uint64_t x = s * 0x2545F4914F6CDD1Dull;
          values[size_t(r * cols + i)] = (float(x >> 40) / float(1 << 24) * 2.0f - 1.0f) * a;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  return llm::encode_rows(values, ggml_type, cols);
}

array ones_f32(int64_t n) {
  std::vector<float> v(size_t(n), 1.0f);
  array a(v, {n});
  a.eval();
  return a;
}

}  // namespace

int cmd_synth(Args& args) {
  std::string arch = args.value({"--arch"}).value_or("llama");
  int64_t dim = args.integer({"--dim"}, 2048), ffn = args.integer({"--ffn"}, 8192);
  int64_t layers = args.integer({"--layers"}, 16), heads = args.integer({"--heads"}, 32);
  int64_t kv_heads = args.integer({"--kv-heads"}, heads);
  int64_t ctx = args.integer({"--ctx"}, 4096);
  std::string vocab_file = args.required({"--vocab-from"}, "FILE.gguf (a GGUF whose tokenizer the model uses)");
  std::string out = args.required({"-o", "--output"}, "OUT.gguf");
  std::string type_name = args.value({"--type"}).value_or("F16");
  uint64_t seed = uint64_t(args.integer({"--seed"}, 1));
  args.finish();
  if (arch != "llama") throw usage_error("--arch supports llama, got '" + arch + "'");
  if (dim <= 0 || ffn <= 0 || layers <= 0 || heads <= 0 || kv_heads <= 0 || dim % heads || heads % kv_heads)
    throw usage_error("the shape needs positive sizes, dim a multiple of heads and heads a multiple of kv-heads");
  const FileType* ft = nullptr;
  for (const FileType& t : kTypes)
    if (type_name == t.name) ft = &t;
  if (!ft) throw usage_error("--type must be one of F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K; got '" + type_name + "'");
  int64_t block = io::ggml_type_info(ft->ggml_type)->block_size;
  if (dim % block || ffn % block) {
    throw usage_error("dim and ffn must be multiples of " + std::to_string(block) + " for " + type_name);
  }

  io::GGUFFile vocab = io::load_gguf(vocab_file, false);
  std::map<std::string, io::GGUFValue> md;
  for (const auto& [k, v] : vocab.metadata)
    if (k.rfind("tokenizer.", 0) == 0) md[k] = v;
  auto tokens = md.find("tokenizer.ggml.tokens");
  if (tokens == md.end()) throw std::invalid_argument(vocab_file + " has no tokenizer.ggml.tokens");
  int64_t V = int64_t(std::get<std::vector<std::string>>(tokens->second.variant()).size());
  int64_t hd = dim / heads;
  md["general.architecture"] = std::string("llama");
  md["general.name"] = std::string("alloy synth llama " + std::to_string(dim) + "x" + std::to_string(layers));
  md["general.file_type"] = ft->llama_ftype;
  md["llama.context_length"] = uint32_t(ctx);
  md["llama.embedding_length"] = uint32_t(dim);
  md["llama.block_count"] = uint32_t(layers);
  md["llama.feed_forward_length"] = uint32_t(ffn);
  md["llama.attention.head_count"] = uint32_t(heads);
  md["llama.attention.head_count_kv"] = uint32_t(kv_heads);
  md["llama.rope.dimension_count"] = uint32_t(hd);
  md["llama.rope.freq_base"] = 10000.0f;
  md["llama.attention.layer_norm_rms_epsilon"] = 1e-5f;
  md["llama.vocab_size"] = uint32_t(V);

  std::vector<io::GGUFTensorOut> tensors;
  uint64_t n = 0;
  auto matrix = [&](const std::string& name, uint32_t type, int64_t rows, int64_t cols) {
    tensors.push_back({name, type, {uint64_t(cols), uint64_t(rows)}, random_tensor(type, rows, cols, seed + ++n, 0.02f)});
  };
  auto vector1 = [&](const std::string& name, int64_t len) {
    tensors.push_back({name, 0, {uint64_t(len)}, ones_f32(len)});
  };
  uint32_t embd_type = ft->ggml_type;
  matrix("token_embd.weight", embd_type, V, dim);
  for (int64_t l = 0; l < layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    vector1(p + "attn_norm.weight", dim);
    matrix(p + "attn_q.weight", ft->ggml_type, heads * hd, dim);
    matrix(p + "attn_k.weight", ft->ggml_type, kv_heads * hd, dim);
    matrix(p + "attn_v.weight", ft->ggml_type, kv_heads * hd, dim);
    matrix(p + "attn_output.weight", ft->ggml_type, dim, heads * hd);
    vector1(p + "ffn_norm.weight", dim);
    matrix(p + "ffn_gate.weight", ft->ggml_type, ffn, dim);
    matrix(p + "ffn_up.weight", ft->ggml_type, ffn, dim);
    matrix(p + "ffn_down.weight", ft->ggml_type, dim, ffn);
    std::fprintf(stderr, "\rsynth: layer %lld/%lld", (long long)(l + 1), (long long)layers);
  }
  vector1("output_norm.weight", dim);
  matrix("output.weight", ft->output_type, V, dim);
  io::save_gguf_tensors(out, tensors, md);
  uint64_t bytes = 0;
  for (const auto& t : tensors) bytes += t.data.nbytes();
  std::fprintf(stderr, "\rsynth: wrote %s (%s, %s of tensors)\n", out.c_str(), type_name.c_str(), format_bytes(double(bytes)).c_str());
  return 0;
}

}  // namespace alloy::cli
