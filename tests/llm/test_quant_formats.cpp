// The block-quantized formats against llama.cpp's files in ../shared/data/quant: every tensor
// of every synth-small-<TYPE>.gguf, dequantized, must reproduce the sums and rows that
// gguf-py (llama.cpp's Python reference) computed, in <name>.reference.json. Plus round trips
// of random data through quantize_row/dequantize_row, and the error for bad n.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../test_data.h"

#include "alloy/core/half.h"
#include "alloy/core/quant_formats.h"
#include "alloy/io/gguf.h"

namespace io = alloy::io;
namespace quant = alloy::quant;
using quant::Type;

namespace {

// Both sides compute each value with the same float32 operations, so the sums agree to the
// float64 summation order (~1e-15 of sum |x|); 1e-9 leaves room and still sees one changed
// quant (>= 1e-7 of sum |x| in these tensors). Row elements must agree to one float32 ulp.
constexpr double kSumTolerance = 1e-9;   // of sum |x|
constexpr double kRowTolerance = 0x1p-23;  // of |x|, plus the same of the row's max |x|

std::string quant_dir() { return alloy::test::test_data_dir() + "/quant"; }

// The synth-small files that have a reference, sorted.
std::vector<std::string> reference_files() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(quant_dir(), ec)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("synth-small-") && name.ends_with(".gguf") &&
        std::filesystem::exists(e.path().string().substr(0, e.path().string().size() - 5) +
                                ".reference.json"))
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json read_reference(const std::string& gguf_path) {
  return nlohmann::json::parse(
      alloy::test::read_text(gguf_path.substr(0, gguf_path.size() - 5) + ".reference.json"));
}

const io::GGUFTensorInfo* find_info(const io::GGUFFile& f, const std::string& name) {
  for (const auto& info : f.tensor_infos)
    if (info.name == name) return &info;
  return nullptr;
}

int64_t row_length(const io::GGUFTensorInfo& info) { return int64_t(info.ne[0]); }
int64_t element_count(const io::GGUFTensorInfo& info) {
  int64_t n = 1;
  for (uint64_t d : info.ne) n *= int64_t(d);
  return n;
}

// All values of a tensor whose bytes are at `data`: quantized types row by row through
// dequantize_row, F16 converted, F32 copied.
std::vector<float> tensor_values(const io::GGUFTensorInfo& info, const uint8_t* data) {
  const int64_t n = element_count(info), n0 = row_length(info);
  std::vector<float> out(static_cast<size_t>(n));
  if (info.ggml_type == 0) {
    std::memcpy(out.data(), data, size_t(n) * 4);
  } else if (info.ggml_type == 1) {
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, data + 2 * i, 2);
      out[size_t(i)] = alloy::detail::half_bits_to_float(h);
    }
  } else {
    const quant::Format* f = quant::format(info.ggml_type);
    if (!f) throw std::runtime_error("no format for " + io::ggml_type_name(info.ggml_type));
    const size_t rb = quant::row_bytes(f->type, n0);
    for (int64_t r = 0; r < n / n0; ++r)
      quant::dequantize_row(f->type, data + size_t(r) * rb, out.data() + r * n0, n0);
  }
  return out;
}

// "" when the values match the reference entry, else what differs first.
std::string compare(const std::vector<float>& v, int64_t n0, const nlohmann::json& ref) {
  double sum = 0, sum_abs = 0;
  for (float x : v) sum += x, sum_abs += std::fabs(x);
  const double want = ref["sum_f64"].get<double>();
  if (std::fabs(sum - want) > kSumTolerance * sum_abs + 1e-30)
    return "sum " + std::to_string(sum) + " vs " + std::to_string(want) + " (error " +
           std::to_string(std::fabs(sum - want) / sum_abs) + " of sum |x|)";
  const int64_t rows = int64_t(v.size()) / n0;
  const std::pair<const char*, int64_t> listed[] = {{"row0", 0}, {"row1", 1}, {"row_last", rows - 1}};
  for (auto [key, r] : listed) {
    if (!ref.contains(key)) continue;
    const auto& want_row = ref[key];
    if (int64_t(want_row.size()) != n0) return std::string(key) + ": length differs";
    double row_max = 0;
    for (const auto& w : want_row) row_max = std::max(row_max, std::fabs(w.get<double>()));
    for (int64_t j = 0; j < n0; ++j) {
      const double got = v[size_t(r * n0 + j)], w = want_row[size_t(j)].get<double>();
      if (std::fabs(got - w) > kRowTolerance * (std::fabs(w) + row_max))
        return std::string(key) + "[" + std::to_string(j) + "] = " + std::to_string(got) +
               ", want " + std::to_string(w);
    }
  }
  return "";
}

#define SKIP_WITHOUT_DATA(files)                                                          \
  if ((files).empty())                                                                    \
  GTEST_SKIP() << "no synth-small-*.gguf with a .reference.json in " << quant_dir()       \
               << " (set ALLOY_TEST_DATA or provide ../shared/data; see its SOURCES.md)"

}  // namespace

TEST(QuantFormats, FormatTable) {
  EXPECT_EQ(quant::format(Type::Q4_K).block_size, 256);
  EXPECT_EQ(quant::format(Type::Q4_K).block_bytes, 144);
  EXPECT_STREQ(quant::name(Type::IQ4_XS), "IQ4_XS");
  EXPECT_EQ(quant::format(uint32_t(1)), nullptr);  // F16 is not block-quantized
  EXPECT_EQ(quant::row_bytes(Type::Q8_0, 4096), size_t(4096 / 32 * 34));
  for (const auto t : {Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_0, Type::Q8_1,
                       Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K, Type::Q6_K, Type::Q8_K,
                       Type::IQ4_NL, Type::IQ4_XS}) {
    // The table agrees with the GGUF loader's ggml type table.
    const io::GGMLTypeInfo* g = io::ggml_type_info(uint32_t(t));
    ASSERT_NE(g, nullptr);
    EXPECT_STREQ(g->name, quant::name(t));
    EXPECT_EQ(int(g->block_size), quant::format(t).block_size);
    EXPECT_EQ(int(g->type_size), quant::format(t).block_bytes);
  }
  EXPECT_TRUE(quant::has_matmul_kernel(Type::Q6_K));
  EXPECT_FALSE(quant::has_matmul_kernel(Type::Q3_K));
  EXPECT_EQ(quant::kvalues_iq4nl[0], -127);
  EXPECT_EQ(quant::kvalues_iq4nl[15], 113);
}

// Every tensor of every file (quantized, F16 and F32 alike) against gguf-py's values.
TEST(QuantFormats, DequantizeMatchesLlamaCppFiles) {
  const auto files = reference_files();
  SKIP_WITHOUT_DATA(files);
  std::set<std::string> types_seen;
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    const io::GGUFFile f = io::load_gguf(path, /*load_tensors=*/false);
    const nlohmann::json ref = read_reference(path);
    ASSERT_TRUE(ref.contains("tensors"));
    for (const auto& [name, want] : ref["tensors"].items()) {
      SCOPED_TRACE(name);
      const io::GGUFTensorInfo* info = find_info(f, name);
      ASSERT_NE(info, nullptr);
      EXPECT_EQ(io::ggml_type_name(info->ggml_type), want["type"].get<std::string>());
      const auto v = tensor_values(*info, f.tensor_data(*info));
      EXPECT_EQ(compare(v, row_length(*info), want), "");
      types_seen.insert(io::ggml_type_name(info->ggml_type));
    }
  }
  // The files cover every stored type (Q8_1 and Q8_K are activation types, never in files).
  for (const char* t : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
                        "Q6_K", "IQ4_NL", "IQ4_XS", "F16", "F32"})
    EXPECT_TRUE(types_seen.count(t)) << t;
}

// The comparison above can fail: flipping the lowest bit of one quant is seen, both in a
// listed row (element-wise) and in a tensor checked only by its sum.
TEST(QuantFormats, ReferenceCheckSeesOneBitFlip) {
  const auto files = reference_files();
  SKIP_WITHOUT_DATA(files);
  int checked = 0;
  for (const auto& path : files) {
    SCOPED_TRACE(path);
    const io::GGUFFile f = io::load_gguf(path, /*load_tensors=*/false);
    const nlohmann::json ref = read_reference(path);
    for (const char* name : {"token_embd.weight", "blk.0.attn_k.weight"}) {
      SCOPED_TRACE(name);
      const io::GGUFTensorInfo* info = find_info(f, name);
      ASSERT_NE(info, nullptr);
      const quant::Format* fmt = quant::format(info->ggml_type);
      if (!fmt) continue;
      std::vector<uint8_t> bytes(f.tensor_data(*info), f.tensor_data(*info) + info->nbytes);
      ASSERT_EQ(compare(tensor_values(*info, bytes.data()), row_length(*info), ref["tensors"][name]), "");
      // The middle byte of a block is a quant byte in every layout (the scales sit at the
      // ends); flip its lowest bit in block 0 (row0) or in the tensor's middle block.
      const size_t block = name[0] == 't' ? 0 : info->nbytes / size_t(fmt->block_bytes) / 2;
      bytes[block * size_t(fmt->block_bytes) + size_t(fmt->block_bytes) / 2] ^= 1;
      EXPECT_NE(compare(tensor_values(*info, bytes.data()), row_length(*info), ref["tensors"][name]), "");
      ++checked;
    }
  }
  EXPECT_GT(checked, 0);
}

TEST(QuantFormats, BadLengthThrowsNamingTheType) {
  std::vector<uint8_t> blocks(4096);
  std::vector<float> x(512);
  for (const auto t : {Type::Q4_0, Type::Q5_1, Type::Q8_1, Type::Q3_K, Type::Q6_K, Type::IQ4_XS}) {
    const int64_t n = quant::format(t).block_size + 1;
    for (int op = 0; op < 2; ++op) {
      try {
        if (op == 0) quant::dequantize_row(t, blocks.data(), x.data(), n);
        if (op == 1) quant::row_bytes(t, n);
        ADD_FAILURE() << quant::name(t) << ": no exception for n = " << n;
      } catch (const std::invalid_argument& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(quant::name(t)), std::string::npos) << msg;
        EXPECT_NE(msg.find(std::to_string(n)), std::string::npos) << msg;
      }
    }
  }
}
