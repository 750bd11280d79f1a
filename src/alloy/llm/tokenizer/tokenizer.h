// Tokenizers built from GGUF metadata, as llama.cpp builds them.
//
// tokenizer.ggml.model "llama": SentencePiece-style BPE over scores with <0xNN> byte fallback
// (Llama 1/2, Phi-3). "gpt2": byte-level BPE over ranked merges, text first split by the
// pre-tokenizer regexes named by tokenizer.ggml.pre ("llama-bpe", "qwen2", "gpt-2", "default").
// Special tokens (control, user-defined, unknown) are split out of the text as whole tokens
// before the model runs; control and unknown ones only when parse_special is on.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "alloy/io/gguf.h"

namespace alloy::llm {

enum class TokenizerModel { spm, bpe };

// tokenizer.ggml.token_type codes (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

class PreTokenizer;

// Lets the vocabulary maps be searched with a string_view, without building a string.
struct TokenTextHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenTextMap = std::unordered_map<std::string, int32_t, TokenTextHash, std::equal_to<>>;

class Tokenizer {
 public:
  static Tokenizer from_gguf_metadata(const std::map<std::string, io::GGUFValue>& md);
  // From a Hugging Face tokenizer.json ("BPE" model): a path to the file, or the JSON text
  // itself (anything starting with '{'). Byte-fallback BPE with the SentencePiece normalizer
  // (Prepend + Replace "▁") maps onto the SPM path, merging by merge rank; a ByteLevel
  // pre-tokenizer maps onto byte-level BPE. Given a path, a sibling tokenizer_config.json
  // supplies bos/eos tokens and add_bos_token/add_eos_token when present.
  static Tokenizer from_tokenizer_json(const std::string& path_or_json_text);

  // The tokenizer.* metadata of a GGUF file that rebuilds this tokenizer (and llama.cpp's): for
  // SPM vocabularies from tokenizer.json, whose merges have ranks, not scores, each merged
  // token scores -(rank + 1), so that merging by score is merging by rank.
  std::map<std::string, io::GGUFValue> to_gguf_metadata() const;

  // add_special: BOS/EOS as the vocabulary's add_bos_token/add_eos_token say.
  std::vector<int32_t> encode(std::string_view text, bool add_special = false,
                              bool parse_special = false) const;
  // Control and unknown tokens render as nothing; the SPM space prefix is removed again.
  std::string decode(const std::vector<int32_t>& ids) const;
  // One token's bytes; `special` renders control/unknown tokens as their text.
  std::string token_piece(int32_t id, bool special = false) const;

  int32_t bos_id() const { return bos_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t unk_id() const { return unk_id_; }
  int32_t vocab_size() const { return static_cast<int32_t>(tokens_.size()); }
  TokenizerModel model() const { return model_; }
  const std::string& pre() const { return pre_; }
  const std::string& token_text(int32_t id) const;
  TokenType token_type(int32_t id) const;
  int32_t token_id(std::string_view text) const;  // -1 when absent
  // The model's chat template (Jinja source; tokenizer.chat_template in GGUF, chat_template in
  // tokenizer_config.json); empty when the model has none. Set by the model loader.
  const std::string& chat_template() const { return chat_template_; }
  void set_chat_template(std::string source) { chat_template_ = std::move(source); }
  // True when decode drops the first piece's leading space (SPM with add_space_prefix).
  bool strips_leading_space() const { return model_ == TokenizerModel::spm && add_space_prefix_; }

 private:
  Tokenizer() = default;
  void check_id(int32_t id) const;
  // Fills special_ids_ from types_: control, user-defined and unknown tokens, longest first (the
  // order they are matched in text).
  void index_special_tokens();
  void encode_raw(std::string_view text, bool first_fragment, std::vector<int32_t>& out) const;
  void encode_spm(const std::string& text, std::vector<int32_t>& out) const;
  void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
  void bpe_word(const std::string& word, std::vector<int32_t>& out) const;
  int32_t spm_byte_token(uint8_t byte) const;
  int32_t merge_rank(std::string_view left, std::string_view right) const;

  TokenizerModel model_ = TokenizerModel::spm;
  std::string pre_;
  std::string chat_template_;
  std::vector<std::string> tokens_;
  std::vector<float> scores_;
  std::vector<TokenType> types_;
  TokenTextMap token_to_id_;
  // Key: left + '\0' + right (tokens never hold NUL); value: the merge's rank.
  TokenTextMap merge_ranks_;
  std::vector<int32_t> special_ids_;  // control/user-defined/unknown, longest text first
  std::shared_ptr<const PreTokenizer> pre_tokenizer_;
  int32_t bos_id_ = -1;
  int32_t eos_id_ = -1;
  int32_t unk_id_ = -1;
  bool add_bos_ = false;
  bool add_eos_ = false;
  bool add_space_prefix_ = false;
  bool ignore_merges_ = false;
  bool spm_merge_by_rank_ = false;  // HF tokenizer.json: SPM merges pairs by merge rank  // Llama 3: a pre-token that is a whole vocab entry stays whole
};

// Decodes token by token, holding back the bytes of a UTF-8 sequence until it is complete.
// Keeps a reference: the tokenizer must outlive the decoder.
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer) : tok_(&tokenizer) {}
  std::string push(int32_t id);
  std::string flush();  // whatever is held back, complete or not; starts a new stream
 private:
  const Tokenizer* tok_;
  std::string pending_;
  bool started_ = false;
};

// Bytes at the end of `s` that start a UTF-8 sequence still missing continuation bytes.
size_t utf8_incomplete_tail(std::string_view s);

}  // namespace alloy::llm
