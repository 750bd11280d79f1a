#include "gpt/corpus.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace gpt {
namespace {

namespace fs = std::filesystem;

// A fortune file: documents separated by lines holding only "%".
std::vector<std::string> split_documents(const std::string& text) {
  std::vector<std::string> docs;
  std::istringstream in(text);
  std::string line, doc;
  while (std::getline(in, line)) {
    if (line == "%") {
      if (!doc.empty()) docs.push_back(doc);
      doc.clear();
    } else {
      doc += line + "\n";
    }
  }
  if (!doc.empty()) docs.push_back(doc);
  return docs;
}

bool is_text_file(const fs::path& p) {
  // fortunes ships "<name>" text files beside "<name>.dat" indexes and "<name>.u8" links.
  return fs::is_regular_file(p) && p.extension() != ".dat" && p.extension() != ".u8" && p.extension() != ".gz";
}

}  // namespace

std::vector<int32_t> encode_bytes(const std::string& text) {
  std::vector<int32_t> out(text.size());
  for (size_t i = 0; i < text.size(); ++i) out[i] = int32_t(static_cast<unsigned char>(text[i]));
  return out;
}

std::string decode_bytes(const std::vector<int32_t>& tokens) {
  std::string out;
  for (int32_t t : tokens) {
    if (t >= 0 && t < 256) out += char(t);
  }
  return out;
}

Corpus load_corpus(const std::string& path_in) {
  const std::string path = path_in.empty() ? "/usr/share/games/fortunes" : path_in;
  std::vector<fs::path> files;
  if (fs::is_directory(path)) {
    for (const auto& e : fs::directory_iterator(path)) {
      if (is_text_file(e.path())) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(path)) {
    files.push_back(path);
  }
  if (files.empty()) {
    throw std::runtime_error("[gpt] no text found at " + path +
                             (path_in.empty() ? " (install it with `apt-get install fortunes`, or pass --corpus FILE)" : ""));
  }
  Corpus c;
  c.source = path;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    for (const std::string& doc : split_documents(ss.str())) {
      auto& dst = (c.documents % 20 == 19) ? c.validation : c.train;
      std::vector<int32_t> t = encode_bytes(doc);
      dst.insert(dst.end(), t.begin(), t.end());
      dst.push_back(end_of_text);
      c.bytes += int64_t(doc.size());
      ++c.documents;
    }
  }
  if (c.validation.empty()) c.validation = c.train;
  return c;
}

}  // namespace gpt
