// The block-quantized formats against llama.cpp's files in ../shared/data/quant: every tensor
// of every synth-small-<TYPE>.gguf, dequantized, must reproduce the sums and rows that
// gguf-py (llama.cpp's Python reference) computed, in <name>.reference.json; quantizing the
// F16 original must reproduce llama-quantize's blocks. Plus round trips of random data through
// quantize_row/dequantize_row, and the error for bad n.
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
#include "alloy/core/ops.h"
#include "alloy/core/quant_formats.h"
#include "alloy/core/quantized.h"
#include "alloy/io/gguf.h"

namespace io = alloy::io;
namespace quant = alloy::quant;
using quant::Type;

namespace {

// Both sides compute each value with the same float32 operations (measured: every sum and
// row element equal exactly), so only the float64 summation order could differ (~1e-15 of
// sum |x|); 1e-9 leaves room and still sees one changed quant (>= 1e-7 of sum |x| in these
// tensors). Row elements must agree to one float32 ulp.
constexpr double kSumTolerance = 1e-9;     // of sum |x|
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
  const std::pair<const char*, int64_t> listed[] = {
      {"row0", 0}, {"row1", 1}, {"row_last", rows - 1}};
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
      const auto& want = ref["tensors"][name];
      ASSERT_EQ(compare(tensor_values(*info, bytes.data()), row_length(*info), want), "");
      // The middle byte of a block is a quant byte in every layout (the scales sit at the
      // ends); flip its lowest bit in block 0 (row0) or in the tensor's middle block.
      const size_t block = name[0] == 't' ? 0 : info->nbytes / size_t(fmt->block_bytes) / 2;
      bytes[block * size_t(fmt->block_bytes) + size_t(fmt->block_bytes) / 2] ^= 1;
      EXPECT_NE(compare(tensor_values(*info, bytes.data()), row_length(*info), want), "");
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
    for (int op = 0; op < 3; ++op) {
      try {
        if (op == 0) quant::dequantize_row(t, blocks.data(), x.data(), n);
        if (op == 1) quant::quantize_row(t, x.data(), blocks.data(), n);
        if (op == 2) quant::row_bytes(t, n);
        ADD_FAILURE() << quant::name(t) << ": no exception for n = " << n;
      } catch (const std::invalid_argument& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find(quant::name(t)), std::string::npos) << msg;
        EXPECT_NE(msg.find(std::to_string(n)), std::string::npos) << msg;
      }
    }
  }
}

namespace {

const Type kAllTypes[] = {Type::Q4_0, Type::Q4_1, Type::Q5_0, Type::Q5_1, Type::Q8_0,
                          Type::Q8_1, Type::Q2_K, Type::Q3_K, Type::Q4_K, Type::Q5_K,
                          Type::Q6_K, Type::Q8_K, Type::IQ4_NL, Type::IQ4_XS};

std::vector<uint8_t> quantize(Type t, const float* x, int64_t n) {
  std::vector<uint8_t> out(quant::row_bytes(t, n));
  quant::quantize_row(t, x, out.data(), n);
  return out;
}

// Blocks of `a` and `b` (same type and length) that differ.
int64_t differing_blocks(Type t, const uint8_t* a, const uint8_t* b, size_t nbytes) {
  const size_t bb = size_t(quant::format(t).block_bytes);
  int64_t count = 0;
  for (size_t off = 0; off < nbytes; off += bb) count += std::memcmp(a + off, b + off, bb) != 0;
  return count;
}

}  // namespace

// quantize_row then dequantize_row of N(0, 1) data: the normalized RMS error sqrt(sum (x - y)^2
// / sum x^2) stays below a bound measured for each type (about 1.1x what these 32768 values
// give).
TEST(QuantFormats, RoundTripError) {
  // Measured with this seed: Q4_0 0.0863, Q4_1 0.0781, Q5_0 0.0426, Q5_1 0.0377, Q8_0 0.00535,
  // Q8_1 0.00535, Q2_K 0.296, Q3_K 0.151, Q4_K 0.0714, Q5_K 0.0361, Q6_K 0.0177, Q8_K 0.00706,
  // IQ4_NL 0.0766, IQ4_XS 0.0772.
  const std::pair<Type, double> bounds[] = {
      {Type::Q4_0, 0.095},  {Type::Q4_1, 0.086},   {Type::Q5_0, 0.047},  {Type::Q5_1, 0.042},
      {Type::Q8_0, 0.0059}, {Type::Q8_1, 0.0059},  {Type::Q2_K, 0.33},   {Type::Q3_K, 0.167},
      {Type::Q4_K, 0.079},  {Type::Q5_K, 0.040},   {Type::Q6_K, 0.0195}, {Type::Q8_K, 0.0078},
      {Type::IQ4_NL, 0.085}, {Type::IQ4_XS, 0.085}};
  const int64_t n = 128 * quant::qk_k;
  std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float& v : x) v = normal(rng);
  for (auto [t, bound] : bounds) {
    const auto q = quantize(t, x.data(), n);
    quant::dequantize_row(t, q.data(), y.data(), n);
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; ++i) {
      err += double(x[i] - y[i]) * (x[i] - y[i]);
      ref += double(x[i]) * x[i];
    }
    const double nrmse = std::sqrt(err / ref);
    EXPECT_LT(nrmse, bound) << quant::name(t);
    // Deterministic: the same input gives the same bytes.
    EXPECT_EQ(quantize(t, x.data(), n), q) << quant::name(t);
  }
}

// The quantize op writes quantize_row's bytes, row by row, for every type; bad input is named.
TEST(QuantFormats, QuantizeOpIsQuantizeRow) {
  const int64_t rows = 3, n = 2 * quant::qk_k;
  std::vector<float> x(static_cast<size_t>(rows * n));
  std::mt19937 rng(99);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (float& v : x) v = normal(rng);
  for (Type t : {Type::Q8_0, Type::Q4_0, Type::Q4_K, Type::Q6_K, Type::IQ4_NL}) {
    alloy::array blocks = alloy::quantize(alloy::array(x, {rows, n}), t, alloy::Device::cpu);
    const size_t rb = quant::row_bytes(t, n);
    ASSERT_EQ(blocks.shape(), (alloy::Shape{rows, int64_t(rb)})) << quant::name(t);
    std::vector<uint8_t> got = blocks.to_vector<uint8_t>(), want(rows * rb);
    for (int64_t r = 0; r < rows; ++r) quant::quantize_row(t, x.data() + r * n, want.data() + r * rb, n);
    EXPECT_EQ(got, want) << quant::name(t);
  }
  EXPECT_THROW(alloy::quantize(alloy::ones({2, 33}), Type::Q8_0), std::invalid_argument);
  EXPECT_THROW(alloy::quantize(alloy::array({1, 2}, {1, 2}), Type::Q8_0), std::invalid_argument);
}

// Q8_0 rounds x / d halves away from zero, as std::round (and llama.cpp's roundf): with a
// block maximum of 127, d is 1 and every k + 0.5 is a tie.
TEST(QuantFormats, Q8_0RoundsHalvesAwayFromZero) {
  std::vector<float> x;
  for (int k = -127; k < 127; ++k) x.push_back(float(k) + 0.5f);
  for (int k = -126; k < 127; ++k) x.push_back(float(k) + (k % 3 == 0 ? 0.49999997f : -0.49999997f));
  x.push_back(127.0f);
  while (x.size() % 32 != 0) x.push_back(-0.5f);
  // Every block needs |x| = 127 for d = 1: put it first in each.
  for (size_t b = 0; b < x.size(); b += 32) x[b] = b % 64 ? -127.0f : 127.0f;
  const auto q = quantize(Type::Q8_0, x.data(), int64_t(x.size()));
  const auto* blocks = reinterpret_cast<const quant::block_q8_0*>(q.data());
  for (size_t i = 0; i < x.size(); ++i) {
    const quant::block_q8_0& b = blocks[i / 32];
    ASSERT_EQ(alloy::detail::half_bits_to_float(b.d), 1.0f);
    EXPECT_EQ(int(b.qs[i % 32]), int(std::round(x[i]))) << "x = " << x[i];
  }
}

// Where the reference quantizer is a fixed point of dequantize (Q8_0, Q4_0: the block's
// extreme comes back on the same level, so d and every level are found again), quantizing the
// dequantized tensors of llama.cpp's files gives their bytes back exactly.
TEST(QuantFormats, RequantizeReproducesLlamaCppBytes) {
  const auto files = reference_files();
  SKIP_WITHOUT_DATA(files);
  int tensors = 0;
  for (const auto& path : files) {
    const io::GGUFFile f = io::load_gguf(path, /*load_tensors=*/false);
    for (const auto& info : f.tensor_infos) {
      if (info.ggml_type != uint32_t(Type::Q8_0) && info.ggml_type != uint32_t(Type::Q4_0))
        continue;
      SCOPED_TRACE(path + ": " + info.name);
      const Type t = Type(info.ggml_type);
      const auto v = tensor_values(info, f.tensor_data(info));
      const auto q = quantize(t, v.data(), int64_t(v.size()));
      ASSERT_EQ(q.size(), info.nbytes);
      EXPECT_EQ(differing_blocks(t, q.data(), f.tensor_data(info), q.size()), 0);
      ++tensors;
    }
  }
  EXPECT_GT(tensors, 0);
}

// llama-quantize made every file from synth-small-F16.gguf with the reference quantizers (no
// importance matrix): quantizing the F16 weights ourselves gives the same blocks.
TEST(QuantFormats, QuantizeMatchesLlamaQuantize) {
  const auto files = reference_files();
  SKIP_WITHOUT_DATA(files);
  const std::string f16_path = quant_dir() + "/synth-small-F16.gguf";
  if (!std::filesystem::exists(f16_path)) GTEST_SKIP() << "not found: " << f16_path;
  const io::GGUFFile src = io::load_gguf(f16_path, /*load_tensors=*/false);
  std::set<std::string> types_seen;
  for (const auto& path : files) {
    const io::GGUFFile f = io::load_gguf(path, /*load_tensors=*/false);
    for (const auto& info : f.tensor_infos) {
      const quant::Format* fmt = quant::format(info.ggml_type);
      if (!fmt) continue;
      SCOPED_TRACE(path + ": " + info.name + " " + fmt->name);
      const io::GGUFTensorInfo* s = find_info(src, info.name);
      ASSERT_NE(s, nullptr);
      ASSERT_EQ(s->ggml_type, 1u);  // F16
      const auto v = tensor_values(*s, src.tensor_data(*s));
      const auto q = quantize(fmt->type, v.data(), int64_t(v.size()));
      ASSERT_EQ(q.size(), info.nbytes);
      const int64_t bad = differing_blocks(fmt->type, q.data(), f.tensor_data(info), q.size());
      EXPECT_EQ(bad, 0) << "of " << q.size() / size_t(fmt->block_bytes) << " blocks";
      types_seen.insert(fmt->name);
    }
  }
  EXPECT_EQ(types_seen.size(), 12u);  // all stored types
}
