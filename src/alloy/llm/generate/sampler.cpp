#include "alloy/llm/generate/sampler.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_map>

namespace alloy::llm {

Sampler::Sampler(const SamplingOptions& o) : o_(o), rng_(o.seed) {
  if (o.temperature < 0) throw std::invalid_argument("temperature must be >= 0, got " + std::to_string(o.temperature));
  if (o.top_k < 0) throw std::invalid_argument("top-k must be >= 0, got " + std::to_string(o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1)) throw std::invalid_argument("top-p must be in (0, 1], got " + std::to_string(o.top_p));
  if (!(o.min_p >= 0 && o.min_p < 1)) throw std::invalid_argument("min-p must be in [0, 1), got " + std::to_string(o.min_p));
  if (!(o.repeat_penalty > 0)) throw std::invalid_argument("repeat penalty must be > 0, got " + std::to_string(o.repeat_penalty));
}

float Sampler::log_probability(const float* logits, int64_t V, int32_t token) {
  float m = *std::max_element(logits, logits + V);
  double sum = 0;
  for (int64_t i = 0; i < V; ++i) sum += std::exp(double(logits[i] - m));
  return float(double(logits[token] - m) - std::log(sum));
}

int32_t Sampler::sample(float* logits, int64_t V, const std::vector<int32_t>& recent) {
  // Penalties over the last penalty_last_n tokens.
  bool penalize = o_.repeat_penalty != 1.0f || o_.frequency_penalty != 0 || o_.presence_penalty != 0;
  if (penalize && o_.penalty_last_n != 0 && !recent.empty()) {
    size_t n = o_.penalty_last_n < 0 ? recent.size() : std::min(recent.size(), size_t(o_.penalty_last_n));
    std::unordered_map<int32_t, int> counts;
    for (size_t i = recent.size() - n; i < recent.size(); ++i) counts[recent[i]]++;
    for (const auto& [tok, count] : counts) {
      if (tok < 0 || tok >= V) continue;
      float& l = logits[tok];
      l = l > 0 ? l / o_.repeat_penalty : l * o_.repeat_penalty;
      l -= float(count) * o_.frequency_penalty + o_.presence_penalty;
    }
  }
  if (o_.temperature == 0.0f) return int32_t(std::max_element(logits, logits + V) - logits);

  // Candidates, best first: top-k (or all). top-p and min-p filter by the probabilities at
  // temperature 1; the temperature shapes the draw among what is left (llama.cpp's order).
  candidates_.resize(size_t(V));
  for (int64_t i = 0; i < V; ++i) candidates_[size_t(i)] = {logits[i], int32_t(i)};
  size_t k = o_.top_k > 0 ? std::min<size_t>(size_t(o_.top_k), size_t(V)) : size_t(V);
  auto better = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  std::partial_sort(candidates_.begin(), candidates_.begin() + std::ptrdiff_t(k), candidates_.end(), better);
  candidates_.resize(k);
  const float m = candidates_[0].first;
  if (o_.top_p < 1.0f || o_.min_p > 0) {
    std::vector<double> p(candidates_.size());
    double sum = 0;
    for (size_t i = 0; i < p.size(); ++i) sum += p[i] = std::exp(double(candidates_[i].first - m));
    size_t keep = p.size();
    if (o_.top_p < 1.0f) {  // the smallest prefix whose mass reaches top_p
      double mass = 0;
      for (size_t i = 0; i < keep; ++i) {
        mass += p[i] / sum;
        if (mass >= o_.top_p) {
          keep = i + 1;
          break;
        }
      }
    }
    if (o_.min_p > 0) {  // p >= min_p * p_max (p[0] is the largest)
      size_t n = 1;
      while (n < keep && p[n] >= o_.min_p * p[0]) ++n;
      keep = n;
    }
    candidates_.resize(keep);
  }
  for (auto& c : candidates_) c.first = std::exp((c.first - m) / o_.temperature);
  double total = 0;
  for (const auto& c : candidates_) total += c.first;
  double r = std::uniform_real_distribution<double>(0.0, total)(rng_);
  for (const auto& c : candidates_) {
    r -= c.first;
    if (r <= 0) return c.second;
  }
  return candidates_.back().second;
}

}  // namespace alloy::llm
