// The decode step that a GPU records once and replays (Model::decode_step, llm::Decoder) against
// Model::forward, the op-by-op pass the reference tests check: the same logits for every model,
// on the CPU (where decode_step runs as ops) and on the GPU (where the Decoder replays a CUDA
// graph, re-recorded when the cache grows past 256 positions).
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "../test_data.h"

#include "alloy/core/ops.h"
#include "alloy/core/quantized.h"
#include "alloy/core/random.h"
#include "alloy/core/transforms.h"
#include "alloy/llm/generate/decoder.h"
#include "alloy/llm/load.h"

namespace llm = alloy::llm;
namespace fs = std::filesystem;

namespace {

double normalized_error(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

int32_t argmax(const std::vector<float>& v) {
  return int32_t(std::max_element(v.begin(), v.end()) - v.begin());
}

llm::LoadedModel load_on(const std::string& path, alloy::Device::Type device) {
  llm::LoadOptions opt;
  opt.device = alloy::Device(device);
  return llm::load(path, opt);
}

const std::vector<int32_t> kPrompt = {1, 15, 200, 33, 7, 99, 4};

// kPrompt into both caches, then `steps` greedy tokens from a Decoder over `recorded` against
// Model::forward over `op_by_op`: the same token at every step; worst = the largest normalized
// error of the logits.
void decode_against_forward(const llm::Model& model, llm::KVCache& recorded, llm::KVCache& op_by_op, int steps,
                            double& worst) {
  alloy::array prompt(kPrompt, {1, int64_t(kPrompt.size())});
  std::vector<float> logits = llm::last_logits(model.forward(prompt, recorded, true));
  model.forward(prompt, op_by_op, true);
  llm::Decoder decoder(model, recorded);
  ASSERT_TRUE(decoder.replays());
  worst = 0;
  for (int step = 0; step < steps; ++step) {
    const int32_t token = argmax(logits);
    std::vector<float> want =
        llm::last_logits(model.forward(alloy::array(std::vector<int32_t>{token}, {1, 1}), op_by_op, true));
    logits = decoder.step(token);
    worst = std::max(worst, normalized_error(logits, want));
    ASSERT_EQ(argmax(logits), argmax(want)) << "step " << step;
  }
}

class DecodeStep : public ::testing::TestWithParam<std::string> {};

// decode_step at a device-held position over the whole capacity equals forward over the cached
// positions, for every architecture (sliding windows, soft-capping, q/k norms, fused qkv).
TEST_P(DecodeStep, MatchesForwardOnTheCpu) {
  const std::string dir = alloy::test::test_data_dir() + "/hf/" + GetParam();
  if (!fs::exists(dir + "/config.json")) GTEST_SKIP() << "test data absent: " << dir;
  llm::LoadedModel m = load_on(dir, alloy::Device::cpu);
  llm::KVCache by_forward = m.model.make_cache(1, 0, alloy::float32);
  llm::KVCache by_step = m.model.make_cache(1, 0, alloy::float32);
  alloy::array prompt(kPrompt, {1, int64_t(kPrompt.size())});
  std::vector<float> logits = llm::last_logits(m.model.forward(prompt, by_forward, true));
  m.model.forward(prompt, by_step, true);
  alloy::eval(by_step.state());
  for (int step = 0; step < 24; ++step) {
    int32_t token = argmax(logits);
    logits = llm::last_logits(m.model.forward(alloy::array(std::vector<int32_t>{token}, {1, 1}), by_forward, true));
    by_step.reserve(by_step.offset() + 1);
    alloy::array position(std::vector<int32_t>{int32_t(by_step.offset())}, {1});
    std::vector<float> got =
        m.model.decode_step(alloy::array(std::vector<int32_t>{token}, {1, 1}), position, by_step).to_vector<float>();
    ASSERT_EQ(got.size(), logits.size());
    EXPECT_LT(normalized_error(got, logits), 1e-5) << GetParam() << " step " << step;
  }
  EXPECT_EQ(by_step.offset(), by_forward.offset());
}

// The CPU Decoder's recorded graph (RecordedGraph) against op-by-op forward, over 100 steps of
// a cache that grows every 32 positions (a recording each time, the cache carried in place
// between runs), in f16 and q8_0 caches where the head size allows.
TEST_P(DecodeStep, RecordedGraphMatchesOpByOpOnTheCpu) {
  const std::string dir = alloy::test::test_data_dir() + "/hf/" + GetParam();
  if (!fs::exists(dir + "/config.json")) GTEST_SKIP() << "test data absent: " << dir;
  llm::LoadedModel m = load_on(dir, alloy::Device::cpu);
  llm::KVCache recorded = m.model.make_cache(1, 0, alloy::float16, 32);
  llm::KVCache op_by_op = m.model.make_cache(1, 0, alloy::float16);
  double worst = 0;
  ASSERT_NO_FATAL_FAILURE(decode_against_forward(m.model, recorded, op_by_op, 100, worst)) << GetParam();
  EXPECT_LT(worst, 1e-5) << GetParam();
  EXPECT_EQ(recorded.offset(), op_by_op.offset());
}

INSTANTIATE_TEST_SUITE_P(Models, DecodeStep,
                         ::testing::Values("tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3", "tiny-phi3",
                                           "tiny-gemma2", "tiny-gemma3"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(DecodeStep, NeedsItsShapesAndRoom) {
  const std::string dir = alloy::test::test_data_dir() + "/hf/tiny-llama";
  if (!fs::exists(dir + "/config.json")) GTEST_SKIP() << "test data absent: " << dir;
  llm::LoadedModel m = load_on(dir, alloy::Device::cpu);
  llm::KVCache cache = m.model.make_cache(1, 0, alloy::float32);
  alloy::array token(std::vector<int32_t>{3}, {1, 1}), position(std::vector<int32_t>{0}, {1});
  EXPECT_THROW(m.model.decode_step(token, position, cache), std::invalid_argument);  // nothing reserved
  cache.reserve(1);
  EXPECT_THROW(m.model.decode_step(alloy::array(std::vector<int32_t>{3, 4}, {1, 2}), position, cache),
               std::invalid_argument);
  llm::Decoder decoder(m.model, cache);
  EXPECT_TRUE(decoder.replays());  // a recorded graph on the CPU too
  EXPECT_THROW(decoder.step(-1), std::invalid_argument);
  EXPECT_THROW(decoder.step(int32_t(m.model.config().vocab_size)), std::invalid_argument);
  EXPECT_EQ(decoder.step(3).size(), size_t(m.model.config().vocab_size));
}

// A q8_0 cache stores 34-byte blocks per 32 values and reads back exactly what quantize and
// dequantize give, within Q8_0's rounding of the values written; decode_step through it equals
// forward through it.
TEST(KVCache, Q8_0BlocksReadBackTheirValues) {
  llm::KVCache cache(1, 1, 2, 64, 300, llm::KVCacheType::parse("q8_0"), alloy::Device::cpu);
  alloy::array k = alloy::random::normal({1, 2, 5, 64}, alloy::float32, 0, 1, alloy::random::key(3));
  alloy::array v = alloy::random::normal({1, 2, 5, 64}, alloy::float32, 0, 1, alloy::random::key(4));
  auto [keys, values] = cache.update(0, k, v);
  cache.advance(5);
  ASSERT_EQ(keys.shape(), (alloy::Shape{1, 2, 5, 64}));
  EXPECT_EQ(keys.dtype(), alloy::float32);
  alloy::array roundtrip = alloy::dequantize(alloy::quantize(k, alloy::quant::Type::Q8_0), alloy::quant::Type::Q8_0);
  EXPECT_TRUE(alloy::array_equal(keys, roundtrip));
  EXPECT_TRUE(alloy::allclose(values, v, 0, 0.03));  // |error| <= amax / 254 per block
  EXPECT_FALSE(alloy::allclose(values, v, 0, 1e-6));
  ASSERT_EQ(cache.state().size(), 2u);
  EXPECT_EQ(cache.state()[0].dtype(), alloy::uint8);
  EXPECT_EQ(cache.state()[0].shape(), (alloy::Shape{1, 2, 256, 68}));
  // The device-position write lands at offset 5.
  alloy::array k1 = alloy::random::normal({1, 2, 1, 64}, alloy::float32, 0, 1, alloy::random::key(5));
  auto [all_keys, all_values] = cache.write_at(0, k1, k1, alloy::array(std::vector<int32_t>{5}, {1}));
  EXPECT_EQ(all_keys.shape(), (alloy::Shape{1, 2, 256, 64}));
  alloy::array row5 = alloy::slice(all_keys, {0, 0, 5, 0}, {1, 2, 6, 64});
  EXPECT_TRUE(alloy::array_equal(row5, alloy::dequantize(alloy::quantize(k1, alloy::quant::Type::Q8_0),
                                                         alloy::quant::Type::Q8_0)));
  EXPECT_TRUE(alloy::array_equal(alloy::slice(all_keys, {0, 0, 0, 0}, {1, 2, 5, 64}), roundtrip));

  EXPECT_THROW(llm::KVCacheType::parse("q4_0"), std::invalid_argument);
  EXPECT_EQ(llm::KVCacheType::parse("q8_0").name(), "q8_0");
  EXPECT_EQ(llm::KVCacheType::parse("bf16").name(), "bf16");
  try {
    llm::KVCache bad(1, 1, 2, 16, 300, llm::KVCacheType::parse("q8_0"), alloy::Device::cpu);
    ADD_FAILURE() << "a head size of 16 cannot hold Q8_0 blocks";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 32"), std::string::npos) << e.what();
  }
}

// On the GPU: the replayed graph against op-by-op forward on the same GPU, through a cache that
// grows every 32 positions (a recording each time).
TEST(Decoder, ReplayedGraphMatchesOpByOpOnTheGpu) {
  if (!alloy::gpu_available()) GTEST_SKIP() << "no usable GPU";
  const std::string path = alloy::test::test_data_dir() + "/models/stories260K.gguf";
  if (!fs::exists(path)) GTEST_SKIP() << "test data absent: " << path;
  llm::LoadedModel m = load_on(path, alloy::Device::gpu);
  llm::KVCache replayed = m.model.make_cache(1, 0, alloy::float16, 32);
  llm::KVCache op_by_op = m.model.make_cache();
  alloy::array prompt(kPrompt, {1, int64_t(kPrompt.size())});
  std::vector<float> logits = llm::last_logits(m.model.forward(prompt, replayed, true));
  m.model.forward(prompt, op_by_op, true);
  llm::Decoder decoder(m.model, replayed);
  const int steps = int(m.model.config().context_length) - int(kPrompt.size());
  ASSERT_GT(steps, 64);
  double worst = 0;
  for (int step = 0; step < steps; ++step) {
    int32_t token = argmax(logits);
    std::vector<float> want =
        llm::last_logits(m.model.forward(alloy::array(std::vector<int32_t>{token}, {1, 1}), op_by_op, true));
    logits = decoder.step(token);
    worst = std::max(worst, normalized_error(logits, want));
    ASSERT_EQ(argmax(logits), argmax(want)) << "step " << step;
  }
  EXPECT_TRUE(decoder.replays());
  EXPECT_LT(worst, 1e-3);
  EXPECT_EQ(replayed.offset(), op_by_op.offset());
  EXPECT_EQ(replayed.capacity(), m.model.config().context_length);
}

// tiny-llama with its heads regrouped to a head size of 32 (2 heads, 1 KV head: the same
// weight shapes), which a q8_0 cache can hold: a copy of the folder with that config.
std::string tiny_llama_with_head_size_32() {
  const std::string src = alloy::test::test_data_dir() + "/hf/tiny-llama";
  if (!fs::exists(src + "/config.json")) return "";
  const fs::path dir = fs::temp_directory_path() / ("alloy-tiny-llama-hd32-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(src))
    fs::copy_file(e.path(), dir / e.path().filename(), fs::copy_options::overwrite_existing);
  std::ifstream in(dir / "config.json");
  std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  for (auto [from, to] : {std::pair<std::string, std::string>{"\"head_dim\": 16", "\"head_dim\": 32"},
                          {"\"num_attention_heads\": 4", "\"num_attention_heads\": 2"},
                          {"\"num_key_value_heads\": 2", "\"num_key_value_heads\": 1"}}) {
    const size_t at = config.find(from);
    if (at == std::string::npos) return "";
    config.replace(at, from.size(), to);
  }
  std::ofstream(dir / "config.json") << config;
  return dir.string();
}

// A q8_0 cache through the replayed graph (the Q8_0 quantize kernel writing the cache inside
// the recording) against op-by-op decoding with the same cache type on the GPU, and the GPU's
// q8_0 decode against the CPU's.
TEST(Decoder, Q8_0CacheRecordedOnTheCpu) {
  const std::string dir = tiny_llama_with_head_size_32();
  if (dir.empty()) GTEST_SKIP() << "test data absent: hf/tiny-llama";
  const llm::KVCacheType q8 = llm::KVCacheType::parse("q8_0");
  llm::LoadedModel m = load_on(dir, alloy::Device::cpu);
  llm::KVCache recorded = m.model.make_cache(1, 0, q8, 32);
  llm::KVCache op_by_op = m.model.make_cache(1, 0, q8);
  double worst = 0;
  ASSERT_NO_FATAL_FAILURE(decode_against_forward(m.model, recorded, op_by_op, 100, worst));
  EXPECT_LT(worst, 1e-5);
  fs::remove_all(dir);
}

TEST(Decoder, Q8_0CacheReplaysOnTheGpu) {
  if (!alloy::gpu_available()) GTEST_SKIP() << "no usable GPU";
  const std::string dir = tiny_llama_with_head_size_32();
  if (dir.empty()) GTEST_SKIP() << "test data absent: hf/tiny-llama";
  const llm::KVCacheType q8 = llm::KVCacheType::parse("q8_0");
  llm::LoadedModel gpu = load_on(dir, alloy::Device::gpu);
  llm::LoadedModel cpu = load_on(dir, alloy::Device::cpu);
  llm::KVCache replayed = gpu.model.make_cache(1, 0, q8, 32);
  llm::KVCache op_by_op = gpu.model.make_cache(1, 0, q8);
  llm::KVCache on_cpu = cpu.model.make_cache(1, 0, q8);
  alloy::array prompt(kPrompt, {1, int64_t(kPrompt.size())});
  std::vector<float> logits = llm::last_logits(gpu.model.forward(prompt, replayed, true));
  gpu.model.forward(prompt, op_by_op, true);
  cpu.model.forward(prompt, on_cpu, true);
  llm::Decoder decoder(gpu.model, replayed);
  double worst = 0, worst_cpu = 0;
  for (int step = 0; step < 100; ++step) {
    const int32_t token = argmax(logits);
    const alloy::array next(std::vector<int32_t>{token}, {1, 1});
    std::vector<float> want = llm::last_logits(gpu.model.forward(next, op_by_op, true));
    std::vector<float> want_cpu = llm::last_logits(cpu.model.forward(next, on_cpu, true));
    logits = decoder.step(token);
    worst = std::max(worst, normalized_error(logits, want));
    worst_cpu = std::max(worst_cpu, normalized_error(logits, want_cpu));
    ASSERT_EQ(argmax(logits), argmax(want)) << "step " << step;
  }
  EXPECT_TRUE(decoder.replays());
  EXPECT_LT(worst, 1e-3);
  EXPECT_LT(worst_cpu, 2e-2) << "the GPU's q8_0 decode against the CPU's";
  fs::remove_all(dir);
}

}  // namespace
