// GGUF -> GGUF in another type. Each tensor is read as float32 (dequantized or converted),
// given its type by llama-quantize's rules (choose_type), and encoded row by row on all cores.
#include "alloy/llm/convert/quantize.h"

#include <filesystem>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "alloy/core/half.h"
#include "alloy/core/ops.h"
#include "alloy/core/quant_formats.h"
#include "alloy/io/gguf.h"
#include "alloy/llm/convert/convert.h"
#include "alloy/llm/convert/encode.h"

namespace alloy::llm {

namespace {

struct FileType {
  const char* name;
  uint32_t base;         // ggml type of most matrices
  uint32_t llama_ftype;  // general.file_type (llama.cpp's LLAMA_FTYPE_MOSTLY_*)
};

// ggml type ids.
constexpr uint32_t F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q2_K = 10,
                   Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, IQ4_NL = 20, IQ4_XS = 23, BF16 = 30;

const FileType kFileTypes[] = {
    {"F32", F32, 0},        {"F16", F16, 1},       {"BF16", BF16, 32},     {"Q4_0", Q4_0, 2},
    {"Q4_1", Q4_1, 3},      {"Q5_0", Q5_0, 8},     {"Q5_1", Q5_1, 9},      {"Q8_0", Q8_0, 7},
    {"Q2_K", Q2_K, 10},     {"Q3_K_M", Q3_K, 12},  {"Q4_K_M", Q4_K, 15},   {"Q5_K_M", Q5_K, 17},
    {"Q6_K", Q6_K, 18},     {"IQ4_NL", IQ4_NL, 25}, {"IQ4_XS", IQ4_XS, 30},
};

const FileType& file_type(const std::string& name) {
  for (const FileType& f : kFileTypes)
    if (name == f.name) return f;
  std::string list;
  for (const FileType& f : kFileTypes) list += (list.empty() ? "" : ", ") + std::string(f.name);
  throw std::invalid_argument("unknown quantization type '" + name + "' (supported: " + list + ")");
}

// llama.cpp's use_more_bits: the first and last eighth of the layers, and every third between.
bool more_bits(int64_t layer, int64_t n_layers) {
  return layer < n_layers / 8 || layer >= 7 * n_layers / 8 || (layer - n_layers / 8) % 3 == 2;
}

int64_t layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  return std::atoll(name.c_str() + 4);
}

bool ends_with(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// The type llama-quantize gives a matrix of a file type (before the block-size fallback).
uint32_t choose_type(const FileType& ft, const std::string& name, int64_t n_layers, int64_t n_heads, int64_t n_kv_heads) {
  const uint32_t base = ft.base;
  const std::string f = ft.name;
  if (base == F32 || base == F16 || base == BF16) return base;
  if (name == "output.weight") return base == Q8_0 ? Q8_0 : Q6_K;
  int64_t layer = layer_of(name);
  int64_t gqa = n_kv_heads > 0 ? n_heads / n_kv_heads : 1;
  if (ends_with(name, "attn_v.weight")) {
    if (f == "Q2_K") return gqa >= 4 ? Q4_K : Q3_K;
    if (f == "Q3_K_M") return layer < 2 ? Q5_K : Q4_K;
    if ((f == "Q4_K_M" || f == "Q5_K_M") && more_bits(layer, n_layers)) return Q6_K;
    return base;
  }
  if (ends_with(name, "ffn_down.weight")) {
    if (f == "Q2_K") return Q3_K;
    if (f == "Q3_K_M") return layer < n_layers / 16 ? Q5_K : Q4_K;
    if ((f == "Q4_K_M" || f == "Q5_K_M") && more_bits(layer, n_layers)) return Q6_K;
    return base;
  }
  if (ends_with(name, "attn_output.weight")) {
    if (f == "Q2_K") return Q3_K;
    if (f == "Q3_K_M") return Q4_K;
    return base;
  }
  return base;
}

// llama-quantize's fallback when a row does not divide into 256-element super-blocks, then F16
// when it does not divide into 32-element blocks either.
uint32_t fit_type(uint32_t type, int64_t row) {
  const io::GGMLTypeInfo* info = io::ggml_type_info(type);
  if (row % info->block_size == 0) return type;
  uint32_t fallback = F16;
  switch (type) {
    case Q2_K: case Q3_K: case IQ4_XS: fallback = IQ4_NL; break;
    case Q4_K: fallback = Q5_0; break;
    case Q5_K: fallback = Q5_1; break;
    case Q6_K: fallback = Q8_0; break;
    default: break;
  }
  return row % io::ggml_type_info(fallback)->block_size == 0 ? fallback : F16;
}

// All values of a tensor as float32, rows of ne[0].
std::vector<float> read_values(const io::GGUFFile& f, const io::GGUFTensorInfo& info) {
  uint64_t n = 1;
  for (uint64_t d : info.ne) n *= d;
  std::vector<float> out(n);
  if (auto it = f.tensors.find(info.name); it != f.tensors.end()) {
    array a = astype(it->second, float32);
    a.eval();
    std::memcpy(out.data(), a.data<float>(), n * sizeof(float));
    return out;
  }
  const quant::Format* q = quant::format(info.ggml_type);
  if (!q) throw std::invalid_argument("tensor " + info.name + " has type " + io::ggml_type_name(info.ggml_type) + ", which alloy cannot read");
  int64_t row = int64_t(info.ne[0]), rows = int64_t(n) / row;
  size_t rb = quant::row_bytes(q->type, row);
  const uint8_t* src = f.tensor_data(info);
  for (int64_t r = 0; r < rows; ++r) quant::dequantize_row(q->type, src + size_t(r) * rb, out.data() + r * row, row);
  return out;
}

int64_t metadata_int(const io::GGUFFile& f, const std::string& key, int64_t fallback) {
  const io::GGUFValue* v = f.find(key);
  if (!v) return fallback;
  return io::gguf_to_int(*v).value_or(fallback);
}

}  // namespace

const std::vector<std::string>& quantize_file_types() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const FileType& f : kFileTypes) n.push_back(f.name);
    return n;
  }();
  return names;
}

void quantize_gguf(const std::string& input, const std::string& output, const QuantizeOptions& options) {
  const FileType& ft = file_type(options.type);
  if (std::filesystem::is_directory(input)) {
    // A Hugging Face folder: through an F32 GGUF beside the output.
    std::string staged = output + ".f32.tmp";
    convert_hf_to_gguf(input, staged, "F32");
    try {
      quantize_gguf(staged, output, options);
    } catch (...) {
      std::filesystem::remove(staged);
      throw;
    }
    std::filesystem::remove(staged);
    return;
  }
  io::GGUFFile f = io::load_gguf(input);
  const io::GGUFValue* arch_value = f.find("general.architecture");
  const auto* arch = arch_value ? std::get_if<std::string>(&arch_value->variant()) : nullptr;
  if (!arch) throw std::invalid_argument(input + " has no general.architecture: not a GGUF model");
  int64_t n_layers = metadata_int(f, *arch + ".block_count", 0);
  int64_t n_heads = metadata_int(f, *arch + ".attention.head_count", 1);
  int64_t n_kv = metadata_int(f, *arch + ".attention.head_count_kv", n_heads);

  std::map<std::string, io::GGUFValue> md = f.metadata;
  md.erase("general.alignment");
  md["general.file_type"] = uint32_t(ft.llama_ftype);
  md["general.quantization_version"] = uint32_t(2);
  std::vector<io::GGUFTensorOut> tensors;
  for (size_t i = 0; i < f.tensor_infos.size(); ++i) {
    const io::GGUFTensorInfo& info = f.tensor_infos[i];
    std::vector<float> values = read_values(f, info);
    int64_t row = int64_t(info.ne.empty() ? 1 : info.ne[0]);
    bool matrix = info.ne.size() >= 2;
    uint32_t type = matrix ? fit_type(choose_type(ft, info.name, n_layers, n_heads, n_kv), row) : F32;
    tensors.push_back({info.name, type, info.ne, encode_rows(values, type, row)});
    if (options.progress) options.progress(i + 1, f.tensor_infos.size());
  }
  io::save_gguf_tensors(output, tensors, md);
}

}  // namespace alloy::llm
