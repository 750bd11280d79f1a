// Loading from GGUF metadata and the model-independent part of encoding: special tokens are
// cut out of the text first (llama.cpp's tokenizer_st_partition), then each run of plain text
// goes to the SPM or BPE model.
#include "alloy/llm/tokenizer/tokenizer.h"

#include <algorithm>
#include <stdexcept>

#include "alloy/llm/tokenizer/pretokenize.h"

namespace alloy::llm {

namespace {

using Metadata = std::map<std::string, io::GGUFValue>;

const io::GGUFValue& require(const Metadata& md, const std::string& key, const std::string& why) {
  auto it = md.find(key);
  if (it == md.end())
    throw std::invalid_argument("[tokenizer] missing metadata key '" + key + "' (" + why + ")");
  return it->second;
}

template <typename T>
const T& require_as(const Metadata& md, const std::string& key, const std::string& why) {
  const auto* v = std::get_if<T>(&require(md, key, why).variant());
  if (!v) throw std::invalid_argument("[tokenizer] metadata key '" + key + "' has the wrong type");
  return *v;
}

int64_t int_or(const Metadata& md, const std::string& key, int64_t fallback) {
  auto it = md.find(key);
  if (it == md.end()) return fallback;
  auto v = io::gguf_to_int(it->second);
  if (!v) throw std::invalid_argument("[tokenizer] metadata key '" + key + "' is not an integer");
  return *v;
}

bool bool_or(const Metadata& md, const std::string& key, bool fallback) {
  return int_or(md, key, fallback ? 1 : 0) != 0;
}

std::vector<int64_t> ints_of(const io::GGUFValue& v, const std::string& key) {
  std::vector<int64_t> out;
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::vector<int32_t>> || std::is_same_v<T, std::vector<uint32_t>> ||
                      std::is_same_v<T, std::vector<int8_t>> || std::is_same_v<T, std::vector<uint8_t>> ||
                      std::is_same_v<T, std::vector<int16_t>> || std::is_same_v<T, std::vector<uint16_t>> ||
                      std::is_same_v<T, std::vector<int64_t>>) {
          out.assign(x.begin(), x.end());
        } else {
          throw std::invalid_argument("[tokenizer] metadata key '" + key + "' is not an integer array");
        }
      },
      v.variant());
  return out;
}

}  // namespace

Tokenizer Tokenizer::from_gguf_metadata(const Metadata& md) {
  Tokenizer t;
  const auto& model = require_as<std::string>(md, "tokenizer.ggml.model", "the tokenizer model");
  if (model == "llama") {
    t.model_ = TokenizerModel::spm;
  } else if (model == "gpt2") {
    t.model_ = TokenizerModel::bpe;
  } else {
    throw std::invalid_argument("[tokenizer] unknown tokenizer model '" + model +
                                "' (supported: llama, gpt2)");
  }
  t.tokens_ = require_as<std::vector<std::string>>(md, "tokenizer.ggml.tokens", "the vocabulary");
  size_t n = t.tokens_.size();
  if (n == 0) throw std::invalid_argument("[tokenizer] 'tokenizer.ggml.tokens' is empty");

  t.types_.assign(n, TokenType::normal);
  if (auto it = md.find("tokenizer.ggml.token_type"); it != md.end()) {
    auto types = ints_of(it->second, "tokenizer.ggml.token_type");
    if (types.size() != n)
      throw std::invalid_argument("[tokenizer] 'tokenizer.ggml.token_type' has " +
                                  std::to_string(types.size()) + " entries for " +
                                  std::to_string(n) + " tokens");
    for (size_t i = 0; i < n; ++i) {
      if (types[i] < 0 || types[i] > 6)
        throw std::invalid_argument("[tokenizer] token " + std::to_string(i) + " has unknown type " +
                                    std::to_string(types[i]));
      t.types_[i] = static_cast<TokenType>(types[i]);
    }
  }
  // A duplicated text maps to its last id, as in llama.cpp.
  t.token_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) t.token_to_id_[t.tokens_[i]] = static_cast<int32_t>(i);

  if (t.model_ == TokenizerModel::spm) {
    t.scores_ = require_as<std::vector<float>>(md, "tokenizer.ggml.scores", "SPM token scores");
    if (t.scores_.size() != n)
      throw std::invalid_argument("[tokenizer] 'tokenizer.ggml.scores' has " +
                                  std::to_string(t.scores_.size()) + " entries for " +
                                  std::to_string(n) + " tokens");
    t.pre_ = "default";
    t.bos_id_ = static_cast<int32_t>(int_or(md, "tokenizer.ggml.bos_token_id", 1));
    t.eos_id_ = static_cast<int32_t>(int_or(md, "tokenizer.ggml.eos_token_id", 2));
    t.unk_id_ = static_cast<int32_t>(int_or(md, "tokenizer.ggml.unknown_token_id", 0));
    t.add_bos_ = bool_or(md, "tokenizer.ggml.add_bos_token", true);
    t.add_space_prefix_ = bool_or(md, "tokenizer.ggml.add_space_prefix", true);
  } else {
    const auto& merges =
        require_as<std::vector<std::string>>(md, "tokenizer.ggml.merges", "BPE merges");
    t.merge_ranks_.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
      const std::string& m = merges[i];
      size_t sp = m.find(' ', 1);  // from 1: a merge's left part may itself be a space
      if (sp == std::string::npos)
        throw std::invalid_argument("[tokenizer] merge " + std::to_string(i) + " '" + m +
                                    "' has no space");
      std::string key = m.substr(0, sp);
      key += '\0';
      key += m.substr(sp + 1);
      t.merge_ranks_.emplace(std::move(key), static_cast<int32_t>(i));
    }
    auto pre_it = md.find("tokenizer.ggml.pre");
    t.pre_ = "default";
    if (pre_it != md.end()) {
      const auto* s = std::get_if<std::string>(&pre_it->second.variant());
      if (!s) throw std::invalid_argument("[tokenizer] 'tokenizer.ggml.pre' is not a string");
      t.pre_ = *s;
    }
    t.pre_tokenizer_ = std::make_shared<const PreTokenizer>(t.pre_);
    t.ignore_merges_ = t.pre_ == "llama-bpe" || t.pre_ == "llama3" || t.pre_ == "llama-v3";
    t.bos_id_ = static_cast<int32_t>(int_or(md, "tokenizer.ggml.bos_token_id", -1));
    t.eos_id_ = static_cast<int32_t>(int_or(md, "tokenizer.ggml.eos_token_id", -1));
    t.unk_id_ = static_cast<int32_t>(int_or(md, "tokenizer.ggml.unknown_token_id", -1));
    // llama.cpp's defaults: Llama 3 adds BOS, other byte-level vocabularies do not.
    t.add_bos_ = bool_or(md, "tokenizer.ggml.add_bos_token", t.ignore_merges_);
  }
  t.add_eos_ = bool_or(md, "tokenizer.ggml.add_eos_token", false);
  for (int32_t id : {t.bos_id_, t.eos_id_, t.unk_id_})
    if (id >= static_cast<int32_t>(n))
      throw std::invalid_argument("[tokenizer] special token id " + std::to_string(id) +
                                  " is outside the vocabulary of " + std::to_string(n));

  t.index_special_tokens();
  return t;
}

void Tokenizer::index_special_tokens() {
  special_ids_.clear();
  for (size_t i = 0; i < tokens_.size(); ++i) {
    TokenType ty = types_[i];
    bool special = ty == TokenType::control || ty == TokenType::user_defined || ty == TokenType::unknown;
    if (special && !tokens_[i].empty()) special_ids_.push_back(static_cast<int32_t>(i));
  }
  std::stable_sort(special_ids_.begin(), special_ids_.end(),
                   [&](int32_t a, int32_t b) { return tokens_[a].size() > tokens_[b].size(); });
}

void Tokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size())
    throw std::out_of_range("[tokenizer] token id " + std::to_string(id) +
                            " is outside the vocabulary of " + std::to_string(vocab_size()));
}

const std::string& Tokenizer::token_text(int32_t id) const {
  check_id(id);
  return tokens_[id];
}

TokenType Tokenizer::token_type(int32_t id) const {
  check_id(id);
  return types_[id];
}

int32_t Tokenizer::token_id(std::string_view text) const {
  auto it = token_to_id_.find(text);
  return it == token_to_id_.end() ? -1 : it->second;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  // Fragments: a special token (id >= 0) or a run of plain text (id -1, [begin, end)).
  struct Fragment {
    int32_t id;
    size_t begin, end;
  };
  std::vector<Fragment> frags;
  if (!text.empty()) frags.push_back({-1, 0, text.size()});
  for (int32_t sid : special_ids_) {
    // User-defined tokens are always whole tokens; control and unknown only when asked.
    TokenType ty = types_[sid];
    if (!parse_special && (ty == TokenType::control || ty == TokenType::unknown)) continue;
    const std::string& st = tokens_[sid];
    std::vector<Fragment> next;
    for (const Fragment& f : frags) {
      if (f.id >= 0) {
        next.push_back(f);
        continue;
      }
      size_t pos = f.begin;
      while (true) {
        size_t hit = text.substr(0, f.end).find(st, pos);
        if (hit == std::string_view::npos) break;
        if (hit > pos) next.push_back({-1, pos, hit});
        next.push_back({sid, hit, hit + st.size()});
        pos = hit + st.size();
      }
      if (pos < f.end) next.push_back({-1, pos, f.end});
    }
    frags = std::move(next);
  }

  std::vector<int32_t> out;
  if (add_special && add_bos_ && bos_id_ >= 0) out.push_back(bos_id_);
  bool prev_special = true;  // SPM prefixes a space to text at the start or after a special
  for (const Fragment& f : frags) {
    if (f.id >= 0) {
      out.push_back(f.id);
      prev_special = true;
    } else {
      encode_raw(text.substr(f.begin, f.end - f.begin), prev_special, out);
      prev_special = false;
    }
  }
  if (add_special && add_eos_ && eos_id_ >= 0) out.push_back(eos_id_);
  return out;
}

void Tokenizer::encode_raw(std::string_view text, bool after_special,
                           std::vector<int32_t>& out) const {
  switch (model_) {
    case TokenizerModel::spm: {
      std::string s;
      if (add_space_prefix_ && after_special) s = " ";
      s += text;
      std::string escaped;  // SentencePiece spells spaces as U+2581 '▁'
      escaped.reserve(s.size() + 8);
      for (char c : s) {
        if (c == ' ')
          escaped += "\xE2\x96\x81";
        else
          escaped += c;
      }
      encode_spm(escaped, out);
      return;
    }
    case TokenizerModel::bpe:
      encode_bpe(text, out);
      return;
  }
}

}  // namespace alloy::llm
