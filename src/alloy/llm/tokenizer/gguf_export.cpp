// Tokenizer -> GGUF tokenizer.* metadata (the inverse of from_gguf_metadata).
#include "alloy/llm/tokenizer/tokenizer.h"

namespace alloy::llm {

std::map<std::string, io::GGUFValue> Tokenizer::to_gguf_metadata() const {
  std::map<std::string, io::GGUFValue> md;
  md["tokenizer.ggml.model"] = std::string(model_ == TokenizerModel::spm ? "llama" : "gpt2");
  md["tokenizer.ggml.tokens"] = tokens_;
  std::vector<int32_t> types;
  types.reserve(types_.size());
  for (TokenType t : types_) types.push_back(static_cast<int32_t>(t));
  md["tokenizer.ggml.token_type"] = types;
  // Merges in rank order, "left right".
  std::vector<std::string> merges(merge_ranks_.size());
  for (const auto& [key, rank] : merge_ranks_) {
    size_t nul = key.find('\0');
    merges[size_t(rank)] = key.substr(0, nul) + " " + key.substr(nul + 1);
  }
  if (model_ == TokenizerModel::spm) {
    std::vector<float> scores = scores_;
    if (scores.empty()) {
      scores.assign(tokens_.size(), 0.0f);
      for (const auto& [key, rank] : merge_ranks_) {
        size_t nul = key.find('\0');
        int32_t id = token_id(key.substr(0, nul) + key.substr(nul + 1));
        if (id >= 0) scores[size_t(id)] = -float(rank + 1);
      }
    }
    md["tokenizer.ggml.scores"] = scores;
    md["tokenizer.ggml.add_space_prefix"] = add_space_prefix_;
  } else {
    md["tokenizer.ggml.merges"] = merges;
    md["tokenizer.ggml.pre"] = pre_;
  }
  if (bos_id_ >= 0) md["tokenizer.ggml.bos_token_id"] = uint32_t(bos_id_);
  if (eos_id_ >= 0) md["tokenizer.ggml.eos_token_id"] = uint32_t(eos_id_);
  if (unk_id_ >= 0) md["tokenizer.ggml.unknown_token_id"] = uint32_t(unk_id_);
  md["tokenizer.ggml.add_bos_token"] = add_bos_;
  md["tokenizer.ggml.add_eos_token"] = add_eos_;
  if (!chat_template_.empty()) md["tokenizer.chat_template"] = chat_template_;
  return md;
}

}  // namespace alloy::llm
