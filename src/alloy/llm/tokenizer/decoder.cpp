// Ids -> bytes. A piece is raw bytes, not necessarily valid UTF-8: a character may be spread
// over several byte tokens, which is why the streaming decoder holds back incomplete tails.
#include <stdexcept>

#include "alloy/llm/tokenizer/byte_unicode.h"
#include "alloy/llm/tokenizer/tokenizer.h"

namespace alloy::llm {

namespace {

// "<0x41>" -> 0x41, or -1.
int parse_byte_token(const std::string& s) {
  if (s.size() != 6 || s.compare(0, 3, "<0x") != 0 || s[5] != '>') return -1;
  int v = 0;
  for (size_t i = 3; i < 5; ++i) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
          : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

std::string spm_unescape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s.compare(i, 3, "\xE2\x96\x81") == 0) {
      out += ' ';
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string byte_level_decode(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = 0;
    uint32_t cp = utf8_decode_at(s, i, &n);
    int b = unicode_to_byte(cp);
    if (b >= 0)
      out += static_cast<char>(b);
    else
      out.append(s, i, n);  // not from the byte table: keep the text as it is
    i += n;
  }
  return out;
}

}  // namespace

std::string Tokenizer::token_piece(int32_t id, bool special) const {
  check_id(id);
  const std::string& text = tokens_[id];
  switch (types_[id]) {
    case TokenType::control:
    case TokenType::unknown:
      return special ? text : std::string();
    case TokenType::unused:
      return std::string();
    case TokenType::user_defined:
      return text;
    case TokenType::byte: {
      int b = parse_byte_token(text);
      if (b >= 0) return std::string(1, static_cast<char>(b));
      break;  // a byte-typed token not spelled <0xNN>: decode it as a normal one
    }
    case TokenType::undefined:
    case TokenType::normal:
      break;
  }
  switch (model_) {
    case TokenizerModel::spm:
      return spm_unescape(text);
    case TokenizerModel::bpe:
      return byte_level_decode(text);
  }
  return text;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  StreamingDecoder d(*this);
  std::string out;
  for (int32_t id : ids) out += d.push(id);
  out += d.flush();
  return out;
}

size_t utf8_incomplete_tail(std::string_view s) {
  // Look back over at most 3 continuation bytes for the lead byte of the last sequence.
  size_t back = 0;
  while (back < s.size() && back < 4) {
    auto c = static_cast<uint8_t>(s[s.size() - 1 - back]);
    if ((c & 0xC0) != 0x80) {
      size_t need = utf8_sequence_length(c);
      return need > back + 1 ? back + 1 : 0;
    }
    ++back;
  }
  return 0;  // only continuation bytes: nothing will complete them
}

std::string StreamingDecoder::push(int32_t id) {
  std::string piece = tok_->token_piece(id);
  // SPM prefixed a space to the text; drop it from the first piece that carries text.
  TokenType ty = tok_->token_type(id);
  bool carries_text = ty != TokenType::control && ty != TokenType::unknown && ty != TokenType::unused;
  if (!started_ && carries_text) {
    started_ = true;
    if (tok_->strips_leading_space() && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
  }
  pending_ += piece;
  size_t hold = utf8_incomplete_tail(pending_);
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StreamingDecoder::flush() {
  std::string out = std::move(pending_);
  pending_.clear();
  started_ = false;
  return out;
}

}  // namespace alloy::llm
