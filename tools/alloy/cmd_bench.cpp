// alloy bench: llama-bench's two tests. pp<N>: one N-token prompt processed as one batch;
// tg<N>: N single-token decode steps from an empty cache. A warm-up run of each first, then
// -r repetitions; tokens/s as mean ± sd. On a GPU also the mean board power during tg and
// joules per token.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <sys/resource.h>

#include "alloy/core/memory.h"
#include "alloy/core/transforms.h"
#include "alloy/llm/generate/decoder.h"
#include "common.h"
#include "power.h"

namespace alloy::cli {

namespace {

using Clock = std::chrono::steady_clock;

double run_pp(const llm::Model& model, const std::vector<int32_t>& tokens, const llm::KVCacheType& kv) {
  llm::KVCache cache = model.make_cache(1, int64_t(tokens.size()), kv);
  auto t0 = Clock::now();
  array logits = model.forward(array(tokens, {1, int64_t(tokens.size())}), cache, true);
  logits.eval();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Each step's logits come back to the host, as generation needs them for sampling.
double run_tg(const llm::Model& model, int64_t n, int32_t token, const llm::KVCacheType& kv) {
  llm::KVCache cache = model.make_cache(1, n, kv);
  llm::Decoder decoder(model, cache);
  auto t0 = Clock::now();
  for (int64_t i = 0; i < n; ++i) decoder.step(token);
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Stats {
  double mean = 0, sd = 0;
};
Stats stats(const std::vector<double>& tps) {
  Stats s;
  for (double v : tps) s.mean += v;
  s.mean /= double(tps.size());
  for (double v : tps) s.sd += (v - s.mean) * (v - s.mean);
  s.sd = tps.size() > 1 ? std::sqrt(s.sd / double(tps.size() - 1)) : 0;
  return s;
}

std::string main_type(const llm::ModelInfo& info) {
  // The type of the most tensors, as llama-bench names a model by its file type.
  std::string best;
  int64_t n = -1;
  for (const auto& [t, c] : info.tensor_types)
    if (c > n) {
      best = t;
      n = c;
    }
  return best;
}

}  // namespace

int cmd_bench(Args& args) {
  int64_t pp = args.integer({"-p", "--n-prompt"}, 512);
  int64_t tg = args.integer({"-n", "--n-gen"}, 128);
  int64_t reps = args.integer({"-r", "--repetitions"}, 5);
  const llm::KVCacheType kv = kv_cache_type(args);
  if (pp < 0 || tg < 0 || reps < 1) throw usage_error("-p and -n must be >= 0 and -r >= 1");
  llm::LoadedModel m = load_model(args);
  args.finish();
  const llm::Model& model = m.model;
  const llm::ModelConfig& c = model.config();
  if (pp > c.context_length || tg > c.context_length) {
    throw std::invalid_argument("the tests need " + std::to_string(std::max(pp, tg)) +
                                " positions, past the model's context length of " + std::to_string(c.context_length));
  }
  std::mt19937 rng(1234);
  std::vector<int32_t> prompt(static_cast<size_t>(pp));
  for (auto& t : prompt) t = int32_t(rng() % uint32_t(c.vocab_size));
  bool gpu = model.device().type == Device::gpu;
  PowerSampler power;

  std::printf("| model | size | params | device | test | t/s | peak memory |%s\n", gpu ? " W | J/token |" : "");
  std::printf("| --- | ---: | ---: | --- | --- | ---: | ---: |%s\n", gpu ? " ---: | ---: |" : "");
  std::string name = c.arch + " " + main_type(model.info());
  std::string size = format_bytes(double(model.info().weight_bytes));
  std::string params = format_count(double(model.info().parameters));
  std::string device = gpu ? "GPU" : "CPU";
  auto row = [&](const std::string& test, const std::vector<double>& tps, std::optional<double> watts) {
    Stats s = stats(tps);
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    double peak = gpu ? double(get_peak_memory(model.device())) : double(ru.ru_maxrss) * 1024;
    const std::string label = kv.name() == "f16" ? test : test + " (KV " + kv.name() + ")";
    std::printf("| %s | %s | %s | %s | %s | %.2f ± %.2f | %s |", name.c_str(), size.c_str(), params.c_str(),
                device.c_str(), label.c_str(), s.mean, s.sd, format_bytes(peak).c_str());
    if (gpu) {
      if (watts) std::printf(" %.0f | %.3f |", *watts, *watts / s.mean);
      else std::printf(" n/a | n/a |");
    }
    std::printf("\n");
    std::fflush(stdout);
  };
  if (pp > 0) {
    run_pp(model, prompt, kv);  // warm-up
    std::vector<double> tps;
    for (int64_t r = 0; r < reps; ++r) tps.push_back(double(pp) / run_pp(model, prompt, kv));
    row("pp" + std::to_string(pp), tps, std::nullopt);
  }
  if (tg > 0) {
    int32_t token = c.bos_id >= 0 ? c.bos_id : 1;
    run_tg(model, std::min<int64_t>(tg, 16), token, kv);  // warm-up
    std::vector<double> tps;
    power.start();
    for (int64_t r = 0; r < reps; ++r) tps.push_back(double(tg) / run_tg(model, tg, token, kv));
    power.stop();
    row("tg" + std::to_string(tg), tps, power.mean_watts());
  }
  return 0;
}

}  // namespace alloy::cli
