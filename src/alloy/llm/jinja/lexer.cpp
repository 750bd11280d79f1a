// Tokenizer mirroring jinja2/lexer.py (root state, block/variable/comment states).
#include "alloy/llm/jinja/lexer.h"

#include <cctype>
#include <cstring>

#include "alloy/llm/jinja/unicode.h"
#include "alloy/llm/jinja/template.h"

namespace alloy::llm::jinja {

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// jinja2 joins source.splitlines() with "\n": every line break becomes "\n" and one trailing
// newline is dropped (keep_trailing_newline=False).
std::string normalize_newlines(const std::string& s) {
  std::vector<std::string> lines = python_splitlines(s);
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  return out;
}

int count_lines(const std::string& s, size_t from, size_t to) {
  int n = 0;
  for (size_t i = from; i < to && i < s.size(); ++i) n += s[i] == '\n';
  return n;
}

// Python unicode-escape decoding of a string literal's body; unknown escapes stay as written.
std::string decode_string(const std::string& body, int line) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out += c;
      continue;
    }
    char n = body[++i];
    switch (n) {
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case 'r': out += '\r'; break;
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'v': out += '\v'; break;
      case '\n': break;
      case 'x':
      case 'u':
      case 'U': {
        size_t len = n == 'x' ? 2 : n == 'u' ? 4 : 8;
        std::string hex = body.substr(i + 1, len);
        if (hex.size() != len || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
          throw template_error(line, "truncated \\" + std::string(1, n) + " escape in a string literal");
        utf8_append(out, static_cast<char32_t>(std::stoul(hex, nullptr, 16)));
        i += len;
        break;
      }
      default:
        if (n >= '0' && n <= '7') {
          unsigned v = n - '0';
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k)
            v = v * 8 + (body[++i] - '0');
          utf8_append(out, v);
        } else {
          out += '\\';
          out += n;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string src) : s_(normalize_newlines(src)) {}

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < s_.size()) {
      size_t start = find_tag_start(pos_);
      if (start == std::string::npos) {
        emit(TokenType::Data, s_.substr(pos_), line_);
        line_ += count_lines(s_, pos_, s_.size());
        pos_ = s_.size();
        break;
      }
      char kind = s_[start + 1];  // '{', '%' or '#'
      char sign = start + 2 < s_.size() && (s_[start + 2] == '-' || s_[start + 2] == '+') ? s_[start + 2] : 0;
      std::string text = s_.substr(pos_, start - pos_);
      int text_line = line_;
      line_ += count_lines(s_, pos_, start);
      if (sign == '-') {
        size_t e = text.size();
        while (e > 0 && is_ws(text[e - 1])) --e;
        text.resize(e);
      } else if (sign != '+' && kind != '{') {
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if (l_pos > 0 || line_starting) {
          bool all_ws = l_pos < text.size();
          for (size_t i = l_pos; i < text.size(); ++i) all_ws = all_ws && is_ws(text[i]);
          if (all_ws) text.resize(l_pos);
        }
      }
      if (!text.empty()) emit(TokenType::Data, text, text_line);
      pos_ = start + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        line_starting = lex_comment();
      } else {
        line_starting = lex_tag(kind == '{');
      }
    }
    emit(TokenType::End, "", line_);
    return std::move(tokens_);
  }

 private:
  size_t find_tag_start(size_t from) const {
    for (size_t i = from; i + 1 < s_.size(); ++i)
      if (s_[i] == '{' && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#')) return i;
    return std::string::npos;
  }

  void emit(TokenType t, std::string text, int line) { tokens_.push_back({t, std::move(text), line}); }

  // Consumes what follows an end marker: `-` eats all whitespace, a plain block/comment end
  // eats one newline (trim_blocks). Returns whether the consumed text ended in a newline.
  bool after_end(char sign, bool trim_newline) {
    bool ends_newline = false;
    if (sign == '-') {
      while (pos_ < s_.size() && is_ws(s_[pos_])) {
        ends_newline = s_[pos_] == '\n';
        line_ += s_[pos_] == '\n';
        ++pos_;
      }
    } else if (sign != '+' && trim_newline && pos_ < s_.size() && s_[pos_] == '\n') {
      ++pos_;
      ++line_;
      ends_newline = true;
    }
    return ends_newline;
  }

  bool lex_comment() {
    size_t end = s_.find("#}", pos_);
    if (end == std::string::npos) throw template_error(line_, "missing end of comment tag");
    char sign = end > pos_ && (s_[end - 1] == '-' || s_[end - 1] == '+') ? s_[end - 1] : 0;
    line_ += count_lines(s_, pos_, end);
    pos_ = end + 2;
    return after_end(sign, true);
  }

  bool lex_tag(bool variable) {
    emit(variable ? TokenType::VarBegin : TokenType::BlockBegin, "", line_);
    const char* close = variable ? "}}" : "%}";
    int depth = 0;
    while (true) {
      while (pos_ < s_.size() && is_ws(s_[pos_])) {
        line_ += s_[pos_] == '\n';
        ++pos_;
      }
      if (pos_ >= s_.size())
        throw template_error(line_, std::string("unexpected end of template, expected '") + close + "'");
      if (depth == 0) {
        char c = s_[pos_];
        char sign = 0;
        size_t at = pos_;
        if ((c == '-' || c == '+') && s_.compare(pos_ + 1, 2, close) == 0) {
          sign = c;
          at = pos_ + 1;
        }
        // `+}}` is not an end marker in jinja2: only `-}}` and `}}`.
        if (s_.compare(at, 2, close) == 0 && !(variable && sign == '+')) {
          emit(variable ? TokenType::VarEnd : TokenType::BlockEnd, "", line_);
          pos_ = at + 2;
          return after_end(sign, !variable);
        }
      }
      lex_expression_token(depth);
    }
  }

  void lex_expression_token(int& depth) {
    char c = s_[pos_];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t e = pos_;
      while (e < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[e])) || s_[e] == '_')) ++e;
      emit(TokenType::Name, s_.substr(pos_, e - pos_), line_);
      pos_ = e;
      return;
    }
    if (c == '\'' || c == '"') {
      size_t e = pos_ + 1;
      while (e < s_.size() && s_[e] != c) e += s_[e] == '\\' ? 2 : 1;
      if (e >= s_.size()) throw template_error(line_, "unterminated string literal");
      emit(TokenType::String, decode_string(s_.substr(pos_ + 1, e - pos_ - 1), line_), line_);
      line_ += count_lines(s_, pos_, e);
      pos_ = e + 1;
      return;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t e = pos_;
      auto digits = [&](size_t& k) {
        size_t b = k;
        while (k < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[k])) ||
                                 (s_[k] == '_' && k > b && k + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[k + 1])))))
          ++k;
        return k > b;
      };
      digits(e);
      bool is_float = false;
      if (e + 1 < s_.size() && s_[e] == '.' && std::isdigit(static_cast<unsigned char>(s_[e + 1]))) {
        ++e;
        digits(e);
        is_float = true;
      }
      if (e < s_.size() && (s_[e] == 'e' || s_[e] == 'E')) {
        size_t k = e + 1;
        if (k < s_.size() && (s_[k] == '+' || s_[k] == '-')) ++k;
        if (digits(k)) {
          e = k;
          is_float = true;
        }
      }
      std::string text;
      for (size_t k = pos_; k < e; ++k)
        if (s_[k] != '_') text += s_[k];
      emit(is_float ? TokenType::Float : TokenType::Int, text, line_);
      pos_ = e;
      return;
    }
    static const char* ops[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~", "[", "]",
                                "(", ")", "{", "}", "<", ">", "=", ".", ":", "|", ",", ";"};
    for (const char* op : ops) {
      size_t n = std::strlen(op);
      if (s_.compare(pos_, n, op) == 0) {
        if (op[0] == '(' || op[0] == '[' || op[0] == '{') ++depth;
        if ((op[0] == ')' || op[0] == ']' || op[0] == '}') && n == 1) {
          if (depth == 0) throw template_error(line_, std::string("unexpected '") + op + "'");
          --depth;
        }
        emit(TokenType::Op, op, line_);
        pos_ += n;
        return;
      }
    }
    throw template_error(line_, std::string("unexpected char '") + c + "'");
  }

  std::string s_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source) { return Lexer(source).run(); }

}  // namespace alloy::llm::jinja
