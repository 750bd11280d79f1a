// UTF-8 helpers for Python str semantics: lengths, indices and slices count code points, and
// whitespace / case follow Python for the scripts chat templates meet (ASCII, Latin, Greek,
// Cyrillic). Case mapping outside those blocks leaves characters unchanged.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace alloy::llm::jinja {

std::vector<char32_t> utf8_decode(const std::string& s);
std::string utf8_encode(const std::vector<char32_t>& cps);
void utf8_append(std::string& out, char32_t cp);
size_t utf8_length(const std::string& s);

bool unicode_is_space(char32_t cp);  // Python str.isspace
bool unicode_is_alpha(char32_t cp);
char32_t unicode_upper(char32_t cp);
char32_t unicode_lower(char32_t cp);

// Python str.splitlines(): splits on \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, U+2028, U+2029.
std::vector<std::string> python_splitlines(const std::string& s);

}  // namespace alloy::llm::jinja
