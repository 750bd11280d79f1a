// Lexer: splits a template into data and tag tokens the way jinja2's lexer does with
// trim_blocks and lstrip_blocks on (whitespace control by `-` and `+`, one newline eaten after
// a block or comment tag, indentation before a block or comment tag dropped), and tokenizes
// the expressions inside tags.
#pragma once

#include <string>
#include <vector>

namespace alloy::llm::jinja {

enum class TokenType { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, End };

struct Token {
  TokenType type;
  std::string text;  // data, name, decoded string literal, number digits or operator
  int line;
};

std::vector<Token> tokenize(const std::string& source);

}  // namespace alloy::llm::jinja
