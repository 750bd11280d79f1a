// alloy info: what a model is, before running it.
#include <cstdio>

#include "common.h"

namespace alloy::cli {

int cmd_info(Args& args) {
  llm::LoadedModel m = load_model(args);
  args.finish();
  const llm::ModelConfig& c = m.model.config();
  const llm::ModelInfo& i = m.model.info();
  std::printf("model:          %s (%s)\n", i.source.c_str(), i.format.c_str());
  std::printf("architecture:   %s\n", c.arch.c_str());
  std::printf("parameters:     %s\n", format_count(double(i.parameters)).c_str());
  std::printf("layers:         %lld, hidden %lld, feed-forward %lld\n", (long long)c.n_layers, (long long)c.hidden,
              (long long)c.ffn);
  std::printf("attention:      %lld heads, %lld key/value heads, head size %lld%s\n", (long long)c.n_heads,
              (long long)c.n_kv_heads, (long long)c.head_dim,
              c.sliding_window > 0 ? (", sliding window " + std::to_string(c.sliding_window)).c_str() : "");
  std::printf("rope:           base %g, %d dims, %s%s\n", double(c.rope.theta), c.rope.dims,
              c.rope.traditional ? "adjacent pairs" : "halves",
              c.rope.scaling == "default" && c.rope.freq_factors.empty() ? "" : (", scaling " + c.rope.scaling).c_str());
  std::printf("context length: %lld\n", (long long)c.context_length);
  std::printf("vocabulary:     %lld\n", (long long)c.vocab_size);
  std::printf("tensor types:  ");
  for (const auto& [t, n] : i.tensor_types) std::printf(" %s x%lld", t.c_str(), (long long)n);
  std::printf("\n");
  double kv_per_token = 2.0 * double(c.n_layers * c.n_kv_heads * c.head_dim) * 2.0;  // f16 keys and values
  std::printf("memory:         weights %s; KV cache (f16) %s per token, %s at the full context\n",
              format_bytes(double(i.weight_bytes)).c_str(), format_bytes(kv_per_token).c_str(),
              format_bytes(kv_per_token * double(c.context_length)).c_str());
  std::printf("tokenizer:      %s%s, %d tokens, BOS %d, EOS %d\n",
              m.tokenizer.model() == llm::TokenizerModel::spm ? "SentencePiece-style BPE" : "byte-level BPE",
              m.tokenizer.pre().empty() ? "" : (" (" + m.tokenizer.pre() + ")").c_str(), m.tokenizer.vocab_size(),
              m.tokenizer.bos_id(), m.tokenizer.eos_id());
  const std::string& t = m.tokenizer.chat_template();
  std::printf("chat template:  %s\n", t.empty() ? "none" : (std::to_string(t.size()) + " characters").c_str());
  return 0;
}

}  // namespace alloy::cli
