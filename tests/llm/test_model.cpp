// Models against Hugging Face transformers' float32 logits (../shared/data/hf/*/reference.json):
// every position's logits within 1e-4 normalized error, and the greedy continuation identical;
// stories260K also through its GGUF file (llama.cpp's permuted Q/K layout). Bad inputs get
// errors that name the problem.
#include <cmath>
#include <filesystem>
#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../test_data.h"

#include "alloy/core/transforms.h"
#include "alloy/llm/convert/convert.h"
#include "alloy/llm/generate/generate.h"
#include "alloy/llm/load.h"

namespace llm = alloy::llm;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string data_dir() { return alloy::test::test_data_dir(); }

json read_reference(const std::string& dir) {
  return json::parse(alloy::test::read_text(dir + "/reference.json"));
}

// ||a - b|| / ||b|| over every value.
double normalized_error(const float* a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

// Checks every case of a reference file: logits of all positions, then the greedy continuation.
void check_against_reference(const llm::LoadedModel& m, const json& reference, const std::string& what,
                             double tolerance = 1e-4) {
  for (size_t c = 0; c < reference.size(); ++c) {
    const json& ref = reference[c];
    std::vector<int32_t> ids = ref["input_ids"].get<std::vector<int32_t>>();
    llm::KVCache cache = m.model.make_cache(1, 0, alloy::float32);  // float32 as the reference
    alloy::array logits = m.model.forward(alloy::array(ids, {1, int64_t(ids.size())}), cache);
    logits.eval();
    const int64_t V = m.model.config().vocab_size;
    ASSERT_EQ(logits.shape(), (alloy::Shape{1, int64_t(ids.size()), V})) << what;
    for (size_t t = 0; t < ids.size(); ++t) {
      std::vector<float> expected = ref["logits"][t].get<std::vector<float>>();
      ASSERT_EQ(int64_t(expected.size()), V);
      double err = normalized_error(logits.data<float>() + t * V, expected);
      EXPECT_LT(err, tolerance) << what << " case " << c << " position " << t;
    }
    std::vector<int32_t> greedy = ref["greedy_next_ids"].get<std::vector<int32_t>>();
    llm::GenerateOptions o;
    o.max_tokens = int64_t(greedy.size());
    o.ignore_eos = true;
    llm::KVCache gen_cache = m.model.make_cache(1, 0, alloy::float32);
    llm::GenerateResult r = llm::generate_tokens(m.model, m.tokenizer, ids, gen_cache, o);
    EXPECT_EQ(r.tokens, greedy) << what << " case " << c;
    if (ref.contains("greedy_text")) {
      EXPECT_EQ(r.text, ref["greedy_text"].get<std::string>()) << what;
    }
  }
}

// Every model on the CPU and, where one is usable, on the GPU.
using ModelOnDevice = std::tuple<std::string, alloy::Device::Type>;
class HFModels : public ::testing::TestWithParam<ModelOnDevice> {};

llm::LoadOptions options_for(alloy::Device::Type type) {
  llm::LoadOptions opt;
  opt.device = alloy::Device(type);
  return opt;
}

TEST_P(HFModels, LogitsAndGreedyMatchTransformers) {
  auto [name, device] = GetParam();
  if (device == alloy::Device::gpu && !alloy::gpu_available()) GTEST_SKIP() << "no usable GPU";
  std::string dir = data_dir() + "/hf/" + name;
  if (!fs::exists(dir + "/reference.json")) GTEST_SKIP() << "test data absent: " << dir;
  llm::LoadedModel m = llm::load(dir, options_for(device));
  check_against_reference(m, read_reference(dir), name);
}

// Hugging Face -> GGUF (llama.cpp's conventions: permuted Q/K for llama and mistral, Gemma's
// 1 + w norms, tokenizer metadata) -> the same logits and greedy text.
TEST_P(HFModels, ConvertedToGGUFMatchesTransformers) {
  auto [name, device] = GetParam();
  if (device == alloy::Device::gpu) GTEST_SKIP() << "conversion is checked on the CPU";
  std::string dir = data_dir() + "/hf/" + name;
  if (!fs::exists(dir + "/reference.json")) GTEST_SKIP() << "test data absent: " << dir;
  std::string out = (fs::temp_directory_path() / ("alloy_convert_" + name + ".gguf")).string();
  llm::convert_hf_to_gguf(dir, out, "F32");
  llm::LoadedModel m = llm::load(out, options_for(device));
  check_against_reference(m, read_reference(dir), name + " via GGUF");
  llm::LoadedModel hf = llm::load(dir, options_for(device));
  EXPECT_EQ(m.tokenizer.encode("Once upon a time, Lily", true), hf.tokenizer.encode("Once upon a time, Lily", true));
  fs::remove(out);
}

INSTANTIATE_TEST_SUITE_P(All, HFModels,
                         ::testing::Combine(::testing::Values("stories260K-hf", "tiny-llama", "tiny-mistral",
                                                              "tiny-qwen2", "tiny-qwen3", "tiny-phi3", "tiny-gemma2",
                                                              "tiny-gemma3"),
                                            ::testing::Values(alloy::Device::cpu, alloy::Device::gpu)),
                         [](const auto& info) {
                           std::string n = std::get<0>(info.param);
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n + (std::get<1>(info.param) == alloy::Device::gpu ? "_gpu" : "_cpu");
                         });

class GGUFModel : public ::testing::TestWithParam<alloy::Device::Type> {};

TEST_P(GGUFModel, Stories260KMatchesTransformers) {
  if (GetParam() == alloy::Device::gpu && !alloy::gpu_available()) GTEST_SKIP() << "no usable GPU";
  std::string path = data_dir() + "/models/stories260K.gguf";
  std::string ref_dir = data_dir() + "/hf/stories260K-hf";
  if (!fs::exists(path) || !fs::exists(ref_dir)) GTEST_SKIP() << "test data absent: " << path;
  llm::LoadedModel m = llm::load(path, options_for(GetParam()));
  EXPECT_EQ(m.model.config().arch, "llama");
  EXPECT_EQ(m.model.config().n_layers, 5);
  EXPECT_EQ(m.model.config().n_kv_heads, 4);
  check_against_reference(m, read_reference(ref_dir), "stories260K.gguf");
}

INSTANTIATE_TEST_SUITE_P(Devices, GGUFModel, ::testing::Values(alloy::Device::cpu, alloy::Device::gpu),
                         [](const auto& info) { return info.param == alloy::Device::gpu ? "gpu" : "cpu"; });

TEST(Generate, ContinuesTheKnownStory) {
  std::string path = data_dir() + "/models/stories260K.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << "test data absent: " << path;
  llm::LoadOptions opt;
  opt.device = alloy::Device::cpu;
  auto [model, tokenizer] = llm::load(path, opt);
  llm::GenerateOptions o;
  o.max_tokens = 12;
  std::string streamed;
  llm::GenerateResult r = llm::generate(model, tokenizer, "Once upon a time", o, [&](const llm::GeneratedToken& t) {
    streamed += t.text;
    return true;
  });
  EXPECT_EQ(r.text, streamed);
  EXPECT_EQ(r.text.rfind(", there was a little girl named Lily", 0), 0u) << r.text;
  // A stop string ends the text before it.
  o.stop = {"girl"};
  llm::GenerateResult s = llm::generate(model, tokenizer, "Once upon a time", o);
  EXPECT_EQ(s.finish_reason, "stop");
  EXPECT_EQ(s.text, ", there was a little ");
}

TEST(ModelErrors, NameTheProblem) {
  auto message = [](const std::string& path) {
    try {
      llm::load(path);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("/nonexistent/model.gguf").find("no such file"), std::string::npos);
  fs::path tmp = fs::temp_directory_path() / "alloy_test_model_errors";
  fs::create_directories(tmp);
  {
    std::ofstream(tmp / "config.json") << R"({"model_type": "mamba", "vocab_size": 10})";
  }
  EXPECT_NE(message(tmp.string()).find("unknown model type 'mamba'"), std::string::npos) << message(tmp.string());
  {
    std::ofstream(tmp / "junk.bin") << "not a model";
  }
  EXPECT_NE(message((tmp / "junk.bin").string()).find("neither a GGUF file"), std::string::npos);
  fs::remove_all(tmp);

  std::string path = data_dir() + "/models/stories260K.gguf";
  if (!fs::exists(path)) return;
  llm::LoadOptions opt;
  opt.device = alloy::Device::cpu;
  opt.context_length = 16;
  auto [model, tokenizer] = llm::load(path, opt);
  llm::GenerateOptions o;
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "Once upon a time ";
  try {
    llm::generate(model, tokenizer, long_prompt, o);
    ADD_FAILURE() << "a prompt past the context was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("context holds 16"), std::string::npos) << e.what();
  }
}

}  // namespace
