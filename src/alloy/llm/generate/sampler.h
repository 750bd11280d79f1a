// Choosing the next token from a row of logits, on the host: penalties over the recent tokens,
// then temperature, top-k, top-p and min-p, then a draw from a seeded generator. Temperature 0
// is greedy (the first maximum, as argmax). The order and the meaning of each setting are
// llama.cpp's.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace alloy::llm {

struct SamplingOptions {
  float temperature = 0.0f;     // 0: greedy
  int top_k = 0;                // 0: off
  float top_p = 1.0f;           // 1: off
  float min_p = 0.0f;           // 0: off; keeps tokens with p >= min_p * p_max
  float repeat_penalty = 1.0f;  // 1: off; divides positive (multiplies negative) logits of seen tokens
  float frequency_penalty = 0.0f;  // minus count * this
  float presence_penalty = 0.0f;   // minus this once a token has been seen
  int penalty_last_n = 64;      // how many recent tokens the penalties look at
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options);
  // logits: V values (changed in place by the penalties); recent: the tokens so far.
  int32_t sample(float* logits, int64_t V, const std::vector<int32_t>& recent);
  // log-softmax of the (penalized, untempered) logits at `token`, after sample() on them.
  static float log_probability(const float* logits, int64_t V, int32_t token);

 private:
  SamplingOptions o_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> candidates_;
};

}  // namespace alloy::llm
