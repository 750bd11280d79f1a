// Text generation, as mlx_lm.generate and llama.cpp's main loop do it: the prompt is processed
// in chunks (one forward pass each), then one token per forward pass is sampled until EOS, a
// stop string, max_tokens, or the callback asks to stop. Text reaches the callback as complete
// UTF-8, with any text that might begin a stop string held back until it cannot.
//
//   auto [model, tokenizer] = alloy::llm::load(path);
//   alloy::llm::GenerateOptions opt;  opt.max_tokens = 64;
//   auto result = alloy::llm::generate(model, tokenizer, "Once upon a time", opt,
//                                      [](const alloy::llm::GeneratedToken& t) {
//                                        std::cout << t.text << std::flush; return true; });
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "alloy/llm/generate/sampler.h"
#include "alloy/llm/model/model.h"
#include "alloy/llm/tokenizer/tokenizer.h"

namespace alloy::llm {

struct GenerateOptions {
  int64_t max_tokens = 256;
  SamplingOptions sampling;
  std::vector<std::string> stop;  // stop strings (not included in the text)
  bool ignore_eos = false;        // benchmarks: run max_tokens whatever is sampled
  bool logprobs = false;          // fill GeneratedToken::logprob
  int64_t prefill_chunk = 512;    // prompt tokens per forward pass
  bool add_special = true;        // BOS/EOS on the prompt as the tokenizer's metadata says
  bool parse_special = true;      // special-token text in the prompt becomes those tokens
  KVCacheType kv_cache;           // the cache generate() makes: float16, or q8_0 blocks
};

struct GeneratedToken {
  int32_t id;
  std::string text;  // the text released with this token (may be empty while held back)
  float logprob = 0.0f;
};

struct GenerateResult {
  std::string text;
  std::vector<int32_t> tokens;  // the generated tokens
  std::vector<float> logprobs;  // with GenerateOptions::logprobs
  int64_t prompt_tokens = 0;
  double prompt_seconds = 0;    // prompt processing, including the first token's sampling
  double generate_seconds = 0;  // the tokens after the first
  std::string finish_reason;    // "eos", "stop", "length" or "cancelled"
  double prompt_tokens_per_second() const { return prompt_seconds > 0 ? double(prompt_tokens) / prompt_seconds : 0; }
  double generate_tokens_per_second() const {
    return generate_seconds > 0 && tokens.size() > 1 ? double(tokens.size() - 1) / generate_seconds : 0;
  }
};

// Returns false to stop generating.
using TokenCallback = std::function<bool(const GeneratedToken&)>;

GenerateResult generate(const Model& model, const Tokenizer& tokenizer, const std::string& prompt,
                        const GenerateOptions& options = {}, const TokenCallback& on_token = {});

// The same from tokens, continuing `cache` (which keeps the conversation between calls: the
// prompt tokens are what follows the cached positions).
GenerateResult generate_tokens(const Model& model, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                               KVCache& cache, const GenerateOptions& options = {},
                               const TokenCallback& on_token = {});

}  // namespace alloy::llm
