#include "common.h"

#include <cstdio>
#include <random>
#include <unistd.h>

namespace alloy::cli {

llm::LoadedModel load_model(Args& args) {
  std::string path = args.required({"-m", "--model"}, "MODEL (a GGUF file or a Hugging Face folder)");
  llm::LoadOptions o;
  if (auto d = args.value({"--device"})) {
    if (*d == "cpu") o.device = Device::cpu;
    else if (*d == "gpu") o.device = Device::gpu;
    else throw usage_error("--device must be cpu or gpu, got '" + *d + "'");
  }
  o.context_length = args.integer({"-c", "--ctx"}, 0);
  if (isatty(STDERR_FILENO)) {
    o.progress = [](int64_t done, int64_t total) {
      int width = 30, filled = int(width * done / std::max<int64_t>(total, 1));
      std::fprintf(stderr, "\rloading [%s%s] %lld/%lld layers", std::string(size_t(filled), '#').c_str(),
                   std::string(size_t(width - filled), ' ').c_str(), (long long)done, (long long)total);
      if (done == total) std::fprintf(stderr, "\r%*s\r", width + 40, "");
    };
  }
  return llm::load(path, o);
}

llm::SamplingOptions sampling_options(Args& args) {
  llm::SamplingOptions s;
  s.temperature = float(args.real({"--temp"}, 0.8));
  s.top_k = int(args.integer({"--top-k"}, 40));
  s.top_p = float(args.real({"--top-p"}, 0.95));
  s.min_p = float(args.real({"--min-p"}, 0.05));
  s.repeat_penalty = float(args.real({"--repeat-penalty"}, 1.0));
  s.penalty_last_n = int(args.integer({"--repeat-last-n"}, 64));
  s.frequency_penalty = float(args.real({"--frequency-penalty"}, 0.0));
  s.presence_penalty = float(args.real({"--presence-penalty"}, 0.0));
  s.seed = uint64_t(args.integer({"-s", "--seed"}, int64_t(std::random_device{}())));
  return s;
}

llm::KVCacheType kv_cache_type(Args& args) {
  try {
    return llm::KVCacheType::parse(args.value({"-ctk", "--cache-type"}).value_or("f16"));
  } catch (const std::invalid_argument& e) {
    throw usage_error(std::string("--cache-type: ") + e.what());
  }
}

std::string format_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

std::string format_count(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2f B", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
  else if (n >= 1e3) std::snprintf(buf, sizeof buf, "%.2f K", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

}  // namespace alloy::cli
