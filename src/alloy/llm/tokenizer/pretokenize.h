// Pre-tokenizers of byte-level BPE: text is cut by a list of regexes applied one after the
// other (each splits the pieces the previous one left), then every byte of a piece is spelled
// with the GPT-2 byte<->unicode table.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace alloy::llm {

class PreTokenizer {
 public:
  // `name` is tokenizer.ggml.pre; throws std::invalid_argument for names it does not know.
  explicit PreTokenizer(const std::string& name);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Pieces of `text`, byte-encoded. Text between matches is kept as pieces of its own, as
  // llama.cpp's unicode_regex_split keeps it.
  std::vector<std::string> split(std::string_view text) const;

 private:
  struct Regex;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace alloy::llm
