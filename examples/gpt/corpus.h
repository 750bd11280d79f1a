// The gpt example's training text: Debian's `fortunes` package (plain-text files of fortune
// cookies separated by "%" lines, in /usr/share/games/fortunes), or any UTF-8 text file. Text is
// byte-tokenized: token b is byte b, and token 256 (<|endoftext|>) separates documents.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gpt {

inline constexpr int32_t end_of_text = 256;

struct Corpus {
  std::vector<int32_t> train, validation;  // token streams
  int64_t documents = 0;
  int64_t bytes = 0;
  std::string source;
};

// path: a text file (documents separated by blank-line-free "%" lines or taken whole), a folder
// of such files (fortunes), or "" for /usr/share/games/fortunes. Every 20th document goes to
// validation. Throws naming the path, with the package to install, when nothing is found.
Corpus load_corpus(const std::string& path);

std::vector<int32_t> encode_bytes(const std::string& text);
std::string decode_bytes(const std::vector<int32_t>& tokens);

}  // namespace gpt
