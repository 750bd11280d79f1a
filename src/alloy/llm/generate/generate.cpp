#include "alloy/llm/generate/generate.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/core/transforms.h"
#include "alloy/llm/generate/decoder.h"

namespace alloy::llm {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Holds back the tail of the text that could be the start of a stop string.
class StopMatcher {
 public:
  explicit StopMatcher(const std::vector<std::string>& stops) : stops_(stops) {}
  // Appends text; returns what can be released; sets `stopped` when a stop string completed.
  std::string push(const std::string& text, bool& stopped) {
    pending_ += text;
    for (const std::string& s : stops_) {
      if (s.empty()) continue;
      size_t at = pending_.find(s);
      if (at != std::string::npos) {
        stopped = true;
        std::string out = pending_.substr(0, at);
        pending_.clear();
        return out;
      }
    }
    size_t hold = 0;  // the longest suffix of pending_ that is a proper prefix of a stop string
    for (const std::string& s : stops_)
      for (size_t n = std::min(s.size() - (s.empty() ? 0 : 1), pending_.size()); n > hold; --n)
        if (pending_.compare(pending_.size() - n, n, s, 0, n) == 0) {
          hold = n;
          break;
        }
    std::string out = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    return out;
  }
  std::string flush() { return std::exchange(pending_, {}); }

 private:
  const std::vector<std::string>& stops_;
  std::string pending_;
};

}  // namespace

GenerateResult generate_tokens(const Model& model, const Tokenizer& tokenizer, const std::vector<int32_t>& prompt,
                               KVCache& cache, const GenerateOptions& o, const TokenCallback& on_token) {
  if (prompt.empty()) throw std::invalid_argument("generate needs at least one prompt token");
  const int64_t V = model.config().vocab_size;
  for (int32_t t : prompt)
    if (t < 0 || t >= V) throw std::invalid_argument("prompt token " + std::to_string(t) + " is outside the vocabulary of " + std::to_string(V));
  int64_t needed = cache.offset() + int64_t(prompt.size());
  if (needed > cache.max_positions()) {
    throw std::invalid_argument("the prompt needs " + std::to_string(needed) + " positions but the context holds " +
                                std::to_string(cache.max_positions()));
  }
  GenerateResult r;
  r.prompt_tokens = int64_t(prompt.size());
  Sampler sampler(o.sampling);
  StreamingDecoder decoder(tokenizer);
  StopMatcher stops(o.stop);
  std::vector<int32_t> history = prompt;
  const auto& eos = model.config().eos_ids;
  auto is_eos = [&](int32_t t) {
    return std::find(eos.begin(), eos.end(), t) != eos.end() || t == tokenizer.eos_id();
  };

  auto t0 = Clock::now();
  std::vector<float> logits;
  int64_t chunk = std::max<int64_t>(1, o.prefill_chunk);
  for (size_t at = 0; at < prompt.size(); at += size_t(chunk)) {
    size_t n = std::min(prompt.size() - at, size_t(chunk));
    std::vector<int32_t> part(prompt.begin() + std::ptrdiff_t(at), prompt.begin() + std::ptrdiff_t(at + n));
    array out = model.forward(array(part, {1, int64_t(n)}), cache, true);
    if (at + n == prompt.size()) logits = last_logits(out);
    else eval(cache.state());
  }
  Clock::time_point t1;
  Decoder steps(model, cache);  // single-token steps (a replayed graph on the GPU)
  r.finish_reason = "length";
  for (int64_t i = 0; i < o.max_tokens; ++i) {
    int32_t tok = sampler.sample(logits.data(), V, history);
    if (i == 0) {
      r.prompt_seconds = seconds_since(t0);
      t1 = Clock::now();
    }
    GeneratedToken g{tok, "", 0.0f};
    if (o.logprobs) g.logprob = Sampler::log_probability(logits.data(), V, tok);
    if (!o.ignore_eos && is_eos(tok)) {
      r.finish_reason = "eos";
      break;
    }
    r.tokens.push_back(tok);
    if (o.logprobs) r.logprobs.push_back(g.logprob);
    history.push_back(tok);
    bool stopped = false;
    g.text = stops.push(decoder.push(tok), stopped);
    r.text += g.text;
    bool go_on = on_token ? on_token(g) : true;
    if (stopped) {
      r.finish_reason = "stop";
      break;
    }
    if (!go_on) {
      r.finish_reason = "cancelled";
      break;
    }
    if (i + 1 == o.max_tokens) break;
    if (cache.offset() >= cache.max_positions()) {
      r.finish_reason = "length";
      break;
    }
    logits = steps.step(tok);
  }
  if (r.finish_reason != "stop") {
    bool stopped = false;
    std::string tail = stops.push(decoder.flush(), stopped) + (stopped ? "" : stops.flush());
    if (!tail.empty()) {
      r.text += tail;
      if (on_token) on_token(GeneratedToken{-1, tail, 0.0f});
    }
  }
  if (!r.tokens.empty()) r.generate_seconds = seconds_since(t1);
  return r;
}

GenerateResult generate(const Model& model, const Tokenizer& tokenizer, const std::string& prompt,
                        const GenerateOptions& o, const TokenCallback& on_token) {
  std::vector<int32_t> tokens = tokenizer.encode(prompt, o.add_special, o.parse_special);
  KVCache cache = model.make_cache(1, 0, o.kv_cache);
  return generate_tokens(model, tokenizer, tokens, cache, o, on_token);
}

}  // namespace alloy::llm
