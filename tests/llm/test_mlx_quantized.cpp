// MLX-community quantized safetensors: tiny-llama (../shared/data/hf) quantized here into MLX's
// layout (affine groups, each row's values one little-endian bit stream in uint32 words, scales
// and biases per group; the layout checked against mlx.core.quantize 0.32 by
// tests/llm/check_mlx_quantized.py) reads as the dequantized weights, and loads (as Q8_0 blocks)
// with logits close to those of the same model with the dequantized weights stored densely;
// per-module overrides and unquantized modules apply; bad configs and tensors get errors that
// name them.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../test_data.h"

#include "alloy/alloy.h"
#include "alloy/io/io.h"
#include "alloy/llm/convert/encode.h"
#include "alloy/llm/load.h"
#include "alloy/llm/load/tensor_set.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace alloy {
namespace {

struct AffineGroups {
  std::vector<uint32_t> words;     // (rows, cols * bits / 32)
  std::vector<float> scales, biases;  // (rows, cols / group)
  std::vector<float> dequantized;  // scales * q + biases, (rows, cols)
};

// Affine quantization as MLX defines it: per group of `group` columns, q = round((w - min) / scale)
// with scale = (max - min) / (2^bits - 1) and bias = min; q is packed as a bit stream per row.
AffineGroups quantize_affine(const std::vector<float>& w, int64_t rows, int64_t cols, int group, int bits) {
  AffineGroups a;
  const int64_t groups = cols / group, levels = (int64_t(1) << bits) - 1;
  a.words.assign(size_t(rows * cols * bits / 32), 0);
  a.dequantized.resize(w.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t gi = 0; gi < groups; ++gi) {
      const float* x = w.data() + r * cols + gi * group;
      float lo = x[0], hi = x[0];
      for (int i = 0; i < group; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
      const float scale = hi > lo ? (hi - lo) / float(levels) : 1.0f;
      a.scales.push_back(scale);
      a.biases.push_back(lo);
      for (int i = 0; i < group; ++i) {
        const int64_t q = std::clamp<int64_t>(std::llround((x[i] - lo) / scale), 0, levels);
        const int64_t j = gi * group + i, bit = (r * cols + j) * bits;  // rows are whole words
        for (int b = 0; b < bits; ++b) {
          if (q >> b & 1) a.words[size_t((bit + b) / 32)] |= uint32_t(1) << ((bit + b) % 32);
        }
        a.dequantized[size_t(r * cols + j)] = scale * float(q) + lo;
      }
    }
  }
  return a;
}

struct Fixture {
  fs::path quantized, dense;
};

// Writes tiny-llama quantized (MLX layout, `quantization` as given) and, beside it, the same
// model with the dequantized weights stored densely. schemes: module path -> (group, bits), or
// (0, 0) for a module left unquantized.
// scales_dtype: the dtype scales and biases are stored in (the dense model then differs from
// the quantized one by their rounding).
Fixture write_fixture(const std::string& name, const json& quantization,
                      const std::function<std::pair<int, int>(const std::string&)>& scheme,
                      Dtype scales_dtype = float32) {
  const fs::path src = test::test_data_dir() + "/hf/tiny-llama";
  Fixture f{fs::temp_directory_path() / ("alloy-mlx-" + name), fs::temp_directory_path() / ("alloy-mlx-" + name + "-dense")};
  for (const fs::path& dir : {f.quantized, f.dense}) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const char* file : {"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
      fs::copy_file(src / file, dir / file);
    }
  }
  json config = json::parse(test::read_text((src / "config.json").string()));
  std::ofstream(f.dense / "config.json") << config.dump(2);
  config["quantization"] = quantization;
  std::ofstream(f.quantized / "config.json") << config.dump(2);
  io::SafetensorsFile st = io::load_safetensors((src / "model.safetensors").string());
  std::unordered_map<std::string, array> q_out, d_out;
  for (auto& [tensor, a] : st.tensors) {
    const std::string module = tensor.substr(0, tensor.rfind('.'));
    auto [group, bits] = a.ndim() == 2 ? scheme(module) : std::pair{0, 0};
    if (bits == 0) {
      q_out.emplace(tensor, a);
      d_out.emplace(tensor, a);
      continue;
    }
    const int64_t rows = a.shape(0), cols = a.shape(1);
    AffineGroups g = quantize_affine(astype(a, float32).to_vector<float>(), rows, cols, group, bits);
    q_out.emplace(tensor, array(g.words, {rows, cols * bits / 32}));
    q_out.emplace(module + ".scales", astype(array(g.scales, {rows, cols / group}), scales_dtype));
    q_out.emplace(module + ".biases", astype(array(g.biases, {rows, cols / group}), scales_dtype));
    d_out.emplace(tensor, array(g.dequantized, {rows, cols}));
  }
  io::save_safetensors((f.quantized / "model.safetensors").string(), q_out);
  io::save_safetensors((f.dense / "model.safetensors").string(), d_out);
  return f;
}

array logits_of(const fs::path& dir, Device device = Device::cpu) {
  llm::LoadOptions options;
  options.device = device;
  if (device == Device::cpu) options.dtype = float32;  // on the GPU: the file's float type
  llm::LoadedModel m = llm::load(dir.string(), options);
  std::vector<int32_t> ids{1, 15, 200, 7, 311, 42, 99, 5};
  llm::KVCache cache = device == Device::cpu ? m.model.make_cache(1, 0, float32) : m.model.make_cache();
  array logits = m.model.forward(array(ids, {1, int64_t(ids.size())}), cache);
  return astype(logits, float32, Device::cpu);
}

double normalized_error(const array& a, const array& b) {
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < y.size(); ++i) num += (x[i] - y[i]) * (x[i] - y[i]), den += y[i] * y[i];
  return std::sqrt(num / den);
}

#define REQUIRE_TINY_LLAMA()                                                                   \
  if (!fs::exists(test::test_data_dir() + "/hf/tiny-llama/model.safetensors"))                \
  GTEST_SKIP() << "hf/tiny-llama is missing from the test data (" << test::test_data_dir() << ")"

TEST(MlxQuantized, LoadsWithTheLogitsOfItsDequantizedWeights) {
  REQUIRE_TINY_LLAMA();
  for (auto scheme : {std::pair{32, 4}, std::pair{64, 8}, std::pair{32, 3}}) {
    const int group = scheme.first, bits = scheme.second;  // named: lambdas capture them
    const std::string what = std::to_string(bits) + "-bit groups of " + std::to_string(group);
    // Overrides as mlx_lm writes mixed recipes: one module with its own scheme, one unquantized.
    json quantization = {{"group_size", group}, {"bits", bits},
                         {"model.layers.1.mlp.down_proj", {{"group_size", 64}, {"bits", 6}}},
                         {"model.layers.0.self_attn.o_proj", false}};
    Fixture f = write_fixture(std::to_string(bits) + "-" + std::to_string(group), quantization,
                              [&](const std::string& module) -> std::pair<int, int> {
                                if (module == "model.layers.1.mlp.down_proj") return {64, 6};
                                if (module == "model.layers.0.self_attn.o_proj") return {0, 0};
                                return {group, bits};
                              });
    // Read: the dense weights equal the dequantized groups (float32 scales here).
    llm::LoadOptions options;
    options.device = Device::cpu;
    llm::HFModelSource q = llm::read_hf_model(f.quantized.string(), options);
    llm::HFModelSource d = llm::read_hf_model(f.dense.string(), options);
    ASSERT_EQ(q.tensors.size(), d.tensors.size()) << what;
    for (const auto& [name, t] : d.tensors) {
      const llm::SourceTensor& r = q.tensors.at(name);
      EXPECT_TRUE(allclose(r.data, t.data, 1e-6, 1e-7)) << what << " " << name;
    }
    EXPECT_EQ(q.tensors.at("blk.0.attn_q.weight").type_name, "MLX " + std::to_string(bits) + "-bit/" + std::to_string(group));
    EXPECT_EQ(q.tensors.at("blk.1.ffn_down.weight").type_name, "MLX 6-bit/64");
    EXPECT_EQ(q.tensors.at("blk.0.attn_output.weight").type_name, "F32");
    // Loaded: modules of up to 6 bits run as Q8_0 blocks, with an error well below the MLX
    // quantization's own; 8-bit modules stay dense.
    array got = logits_of(f.quantized), want = logits_of(f.dense);
    ASSERT_EQ(got.shape(), want.shape()) << what;
    const double requantized = normalized_error(got, want);
    const double mlx_own = normalized_error(want, logits_of(test::test_data_dir() + "/hf/tiny-llama"));
    std::cout << what << ": logits " << requantized << " from the dequantized model's, which are " << mlx_own
              << " from the original's\n";
    EXPECT_LT(requantized, 0.03) << what;
    EXPECT_LT(requantized, 0.2 * mlx_own) << what;  // 8 bits: only the 6-bit override is requantized
    // And quantization happened: the original weights give other logits.
    array original = logits_of(test::test_data_dir() + "/hf/tiny-llama");
    EXPECT_GT(normalized_error(got, original), 1e-4) << what;
    fs::remove_all(f.quantized);
    fs::remove_all(f.dense);
  }
}

// Loading converts the modules of up to 6 bits to Q8_0 row by row, without the dense tensor:
// the rows are exactly quant::quantize_row's of the dense values (which are rounded to the
// scales' dtype first), for every width and scales dtype; 8-bit modules stay dense.
TEST(MlxQuantized, Q8_0RowsAreTheDenseValuesQuantized) {
  REQUIRE_TINY_LLAMA();
  for (Dtype dtype : {float32, float16, bfloat16}) {
    for (int bits : {2, 3, 4, 5, 6, 8}) {
      const int group = bits == 3 || bits == 5 ? 32 : 64;  // tiny-llama has rows of 64 and 128
      const std::string what = std::to_string(bits) + "-bit groups of " + std::to_string(group) + ", " +
                               dtype_name(dtype) + " scales";
      Fixture f = write_fixture("rows", {{"group_size", group}, {"bits", bits}},
                                [&](const std::string&) { return std::pair{group, bits}; }, dtype);
      llm::HFModelSource dense = llm::read_hf_model(f.quantized.string(), {}, llm::MlxWeights::dense);
      llm::HFModelSource rows = llm::read_hf_model(f.quantized.string(), {}, llm::MlxWeights::q8_0_rows);
      // The model's float type is the scales' (what the GPU computes in), not the Q8_0 bytes'.
      EXPECT_EQ(rows.file_dtype, dtype) << what;
      EXPECT_EQ(dense.file_dtype, dtype) << what;
      int checked = 0;
      for (const auto& [name, d] : dense.tensors) {
        if (d.type_name.rfind("MLX", 0) != 0) continue;
        SCOPED_TRACE(what + ": " + name);
        const llm::SourceTensor& r = rows.tensors.at(name);
        ASSERT_EQ(d.data.dtype(), dtype);
        ASSERT_EQ(r.shape, d.data.shape());
        if (bits == 8) {
          EXPECT_FALSE(r.qtype.has_value());
          EXPECT_TRUE(array_equal(r.data, d.data));
        } else {
          ASSERT_EQ(r.qtype, quant::Type::Q8_0);
          EXPECT_EQ(r.type_name, "Q8_0 (MLX " + std::to_string(bits) + "-bit/" + std::to_string(group) + ")");
          const int64_t K = d.data.shape(1);
          array want = llm::encode_rows(astype(d.data, float32).to_vector<float>(), uint32_t(quant::Type::Q8_0), K);
          EXPECT_EQ(r.data.to_vector<uint8_t>(), want.to_vector<uint8_t>());
        }
        ++checked;
      }
      EXPECT_EQ(checked, 16) << what;  // 7 projections in each of 2 layers, the embedding, the head
      fs::remove_all(f.quantized);
      fs::remove_all(f.dense);
    }
  }
}

// On the GPU an MLX folder with bfloat16 scales computes in bfloat16 (its float type) on the
// same Q8_0 rows: logits close to the CPU's float32 ones.
TEST(MlxQuantized, RunsOnTheGpu) {
  REQUIRE_TINY_LLAMA();
  if (!gpu_available()) GTEST_SKIP() << "no usable GPU";
  Fixture f = write_fixture("gpu", {{"group_size", 64}, {"bits", 4}}, [](const std::string&) { return std::pair{64, 4}; },
                            bfloat16);
  const double err = normalized_error(logits_of(f.quantized, Device::gpu), logits_of(f.quantized));
  std::cout << "4-bit groups of 64, bfloat16 scales: GPU logits " << err << " from the CPU's\n";
  EXPECT_LT(err, 0.02);
  fs::remove_all(f.quantized);
  fs::remove_all(f.dense);
}

std::string load_error(const fs::path& dir) {
  try {
    llm::LoadOptions options;
    options.device = Device::cpu;
    llm::load(dir.string(), options);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

TEST(MlxQuantized, BadConfigsAndTensorsNameTheProblem) {
  REQUIRE_TINY_LLAMA();
  auto all_4bit = [](const std::string&) { return std::pair{32, 4}; };
  Fixture f = write_fixture("bad", {{"group_size", 32}, {"bits", 4}}, all_4bit);
  const fs::path config = f.quantized / "config.json";
  json good = json::parse(test::read_text(config.string()));
  auto with_config = [&](const json& c) {
    std::ofstream(config) << c.dump();
    return load_error(f.quantized);
  };
  json c = good;
  c["quantization"]["bits"] = 7;
  EXPECT_NE(with_config(c).find("bits 7 and group_size 32 is not one MLX writes"), std::string::npos) << with_config(c);
  c = good;
  c["quantization"]["mode"] = "mxfp4";
  EXPECT_NE(with_config(c).find("mode 'mxfp4' is not supported"), std::string::npos) << with_config(c);
  c = good;
  c.erase("quantization");
  c["quantization_config"] = {{"quant_method", "gptq"}, {"bits", 4}};
  EXPECT_NE(with_config(c).find("quantized with 'gptq'"), std::string::npos) << with_config(c);
  // The config says 8 bits, the words hold 4.
  c = good;
  c["quantization"]["bits"] = 8;
  std::string e = with_config(c);
  EXPECT_NE(e.find("do not hold 8-bit values in groups of 32"), std::string::npos) << e;
  EXPECT_NE(e.find("lm_head: weight (512, 8) uint32, scales (512, 2)"), std::string::npos) << e;
  // A module without its biases.
  std::ofstream(config) << good.dump();
  io::SafetensorsFile st = io::load_safetensors((f.quantized / "model.safetensors").string());
  std::unordered_map<std::string, array> tensors(st.tensors.begin(), st.tensors.end());
  tensors.erase("model.layers.0.mlp.up_proj.biases");
  io::save_safetensors((f.quantized / "model.safetensors").string(), tensors);
  e = load_error(f.quantized);
  EXPECT_NE(e.find("model.layers.0.mlp.up_proj.scales has no biases"), std::string::npos) << e;
  fs::remove_all(f.quantized);
  fs::remove_all(f.dense);
}

}  // namespace
}  // namespace alloy
