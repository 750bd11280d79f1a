// Patterns are llama.cpp's (llm_tokenizer_bpe), written for PCRE2 with UTF and UCP so that
// \s, \p{L} and \p{N} are Unicode classes. Llama 3 and Qwen2 spell tokenizer.json's
// (?i:'s|...) as explicit case pairs; the matches are the same.
#include "alloy/llm/tokenizer/pretokenize.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdexcept>
#include <utility>

#include "alloy/llm/tokenizer/byte_unicode.h"

namespace alloy::llm {

namespace {

const char* const kLlama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kQwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kGpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";

std::vector<std::string> patterns_for(const std::string& name) {
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3") return {kLlama3};
  if (name == "qwen2") return {kQwen2};
  if (name == "gpt-2" || name == "phi-2") return {kGpt2};
  // llama.cpp's fallback for BPE vocabularies that name no pre-tokenizer.
  if (name == "default")
    return {"[\\p{P}\\$\\+<=>\\^~\\|]+", kGpt2, "\\p{N}+", "[0-9][0-9][0-9]"};
  throw std::invalid_argument("[tokenizer] unknown pre-tokenizer '" + name +
                              "' (supported: llama-bpe, qwen2, gpt-2, default)");
}

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(const std::string& name) {
  for (const std::string& pattern : patterns_for(name)) {
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    // MATCH_INVALID_UTF: stray bytes never match, so they become pieces of their own.
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()),
                                     PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err,
                                     &err_offset, nullptr);
    if (!code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      throw std::runtime_error("[tokenizer] pre-tokenizer '" + name + "': regex error at " +
                               std::to_string(err_offset) + ": " +
                               reinterpret_cast<const char*>(msg));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional: the interpreter is the fallback
    auto r = std::make_unique<Regex>();
    r->code = code;
    regexes_.push_back(std::move(r));
  }
}

PreTokenizer::~PreTokenizer() = default;

std::vector<std::string> PreTokenizer::split(std::string_view text) const {
  // Offsets into `text`: each regex refines the ranges the previous one produced; a match
  // never crosses a range's end (lookaheads see the range's end as the end of text).
  std::vector<std::pair<size_t, size_t>> ranges = {{0, text.size()}};
  if (text.empty()) ranges.clear();
  for (const auto& regex : regexes_) {
    std::vector<std::pair<size_t, size_t>> next;
    pcre2_match_data* md = pcre2_match_data_create_from_pattern(regex->code, nullptr);
    for (auto [begin, end] : ranges) {
      auto subject = reinterpret_cast<PCRE2_SPTR>(text.data() + begin);
      size_t len = end - begin, pos = 0, last = 0;
      while (pos < len) {
        int rc = pcre2_match(regex->code, subject, len, pos, 0, md, nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) throw std::runtime_error("[tokenizer] regex match failed (" + std::to_string(rc) + ")");
        PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) {  // no pattern here matches empty text, but never loop forever
          size_t n = 0;
          utf8_decode_at(std::string_view(text.data() + begin, len), ms, &n);
          pos = ms + n;
          continue;
        }
        if (ms > last) next.emplace_back(begin + last, begin + ms);
        next.emplace_back(begin + ms, begin + me);
        last = pos = me;
      }
      if (last < len) next.emplace_back(begin + last, end);
    }
    pcre2_match_data_free(md);
    ranges = std::move(next);
  }
  std::vector<std::string> pieces;
  pieces.reserve(ranges.size());
  for (auto [begin, end] : ranges) {
    std::string piece;
    for (size_t i = begin; i < end; ++i) piece += byte_to_unicode(static_cast<uint8_t>(text[i]));
    pieces.push_back(std::move(piece));
  }
  return pieces;
}

}  // namespace alloy::llm
