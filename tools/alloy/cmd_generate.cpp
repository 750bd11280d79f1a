// alloy generate and alloy chat: stream text to stdout, timings to stderr.
#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <sys/resource.h>

#include "alloy/core/memory.h"
#include "alloy/llm/generate/chat.h"
#include "common.h"

namespace alloy::cli {

namespace {

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

void print_timing(const llm::GenerateResult& r, const llm::Model& model) {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::fprintf(stderr, "\n\nprompt: %lld tokens, %.1f tokens/s | generation: %zu tokens, %.1f tokens/s | "
               "peak memory: %s (process), %s (%s allocations)\n",
               (long long)r.prompt_tokens, r.prompt_tokens_per_second(), r.tokens.size(), r.generate_tokens_per_second(),
               format_bytes(double(ru.ru_maxrss) * 1024).c_str(), format_bytes(double(get_peak_memory(model.device()))).c_str(),
               model.device().type == Device::gpu ? "GPU" : "CPU");
}

llm::TokenCallback print_tokens() {
  return [](const llm::GeneratedToken& t) {
    std::fwrite(t.text.data(), 1, t.text.size(), stdout);
    std::fflush(stdout);
    return !g_interrupted.load();
  };
}

}  // namespace

int cmd_generate(Args& args) {
  std::string prompt = args.required({"-p", "--prompt"}, "PROMPT");
  llm::GenerateOptions o;
  o.max_tokens = args.integer({"-n", "--n-predict"}, 256);
  o.sampling = sampling_options(args);
  bool chat = args.flag({"--chat"});
  std::string system = args.value({"--system"}).value_or("");
  if (auto stop = args.value({"--stop"})) o.stop.push_back(*stop);
  bool ignore_eos = args.flag({"--ignore-eos"});
  o.kv_cache = kv_cache_type(args);
  o.ignore_eos = ignore_eos;
  llm::LoadedModel m = load_model(args);
  args.finish();
  m.model.make_cache(1, 1, o.kv_cache);  // a cache type the model cannot hold fails before any output
  std::signal(SIGINT, on_sigint);
  llm::GenerateResult r;
  if (chat) {
    std::vector<llm::ChatMessage> msgs;
    if (!system.empty()) msgs.push_back({"system", system});
    msgs.push_back({"user", prompt});
    std::vector<int32_t> tokens = llm::tokenize_chat(m.tokenizer, llm::render_chat(m.tokenizer, msgs));
    llm::KVCache cache = m.model.make_cache(1, 0, o.kv_cache);
    r = llm::generate_tokens(m.model, m.tokenizer, tokens, cache, o, print_tokens());
  } else {
    std::fwrite(prompt.data(), 1, prompt.size(), stdout);
    r = llm::generate(m.model, m.tokenizer, prompt, o, print_tokens());
  }
  print_timing(r, m.model);
  return 0;
}

int cmd_chat(Args& args) {
  llm::GenerateOptions o;
  o.max_tokens = args.integer({"-n", "--n-predict"}, 1024);
  o.sampling = sampling_options(args);
  o.kv_cache = kv_cache_type(args);
  std::string system = args.value({"--system"}).value_or("");
  llm::LoadedModel m = load_model(args);
  args.finish();
  if (m.tokenizer.chat_template().empty()) throw std::invalid_argument("the model has no chat template");
  std::signal(SIGINT, on_sigint);
  std::vector<llm::ChatMessage> msgs;
  if (!system.empty()) msgs.push_back({"system", system});
  llm::KVCache cache = m.model.make_cache(1, 0, o.kv_cache);
  std::vector<int32_t> cached;  // the tokens whose keys and values the cache holds
  std::fprintf(stderr, "chatting with %s (%s); /reset starts over, /exit quits, Ctrl-C stops an answer\n",
               m.model.info().source.c_str(), m.model.config().arch.c_str());
  std::string line;
  while (true) {
    std::fputs("\n> ", stdout);
    std::fflush(stdout);
    g_interrupted = false;
    if (!std::getline(std::cin, line)) break;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      msgs.resize(system.empty() ? 0 : 1);
      cache.truncate(0);
      cached.clear();
      std::fputs("(conversation reset)\n", stdout);
      continue;
    }
    if (line.empty()) continue;
    msgs.push_back({"user", line});
    std::vector<int32_t> all = llm::tokenize_chat(m.tokenizer, llm::render_chat(m.tokenizer, msgs));
    // Reuse the cached prefix; process only what follows it.
    size_t common = 0;
    while (common < cached.size() && common < all.size() && cached[common] == all[common]) ++common;
    if (common == all.size()) --common;  // at least one token to run
    cache.truncate(int64_t(common));
    cached.resize(common);
    std::vector<int32_t> fresh(all.begin() + std::ptrdiff_t(common), all.end());
    llm::GenerateResult r = llm::generate_tokens(m.model, m.tokenizer, fresh, cache, o, print_tokens());
    cached.insert(cached.end(), fresh.begin(), fresh.end());
    cached.insert(cached.end(), r.tokens.begin(), r.tokens.end());
    // The last sampled token was not run through the model: the cache ends before it.
    if (!r.tokens.empty() && int64_t(cached.size()) > cache.offset()) cached.resize(size_t(cache.offset()));
    msgs.push_back({"assistant", r.text});
    if (r.finish_reason == "cancelled") std::fputs(" [stopped]", stdout);
    std::fprintf(stderr, "\n[%zu tokens, %.1f tokens/s]", r.tokens.size(), r.generate_tokens_per_second());
  }
  return 0;
}

}  // namespace alloy::cli
