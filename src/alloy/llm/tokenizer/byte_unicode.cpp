// The table is built once: printable Latin-1 bytes map to themselves, the other 68 bytes to
// U+0100.. in byte order (the construction of OpenAI's bytes_to_unicode).
#include "alloy/llm/tokenizer/byte_unicode.h"

#include <array>
#include <unordered_map>

namespace alloy::llm {
namespace {

std::string utf8_encode(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

struct ByteTable {
  std::array<std::string, 256> to_unicode;
  std::unordered_map<uint32_t, int> to_byte;
  ByteTable() {
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      uint32_t cp = printable ? static_cast<uint32_t>(b) : next++;
      to_unicode[b] = utf8_encode(cp);
      to_byte[cp] = b;
    }
  }
};

const ByteTable& table() {
  static const ByteTable t;
  return t;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) { return table().to_unicode[byte]; }

int unicode_to_byte(uint32_t codepoint) {
  auto it = table().to_byte.find(codepoint);
  return it == table().to_byte.end() ? -1 : it->second;
}

size_t utf8_sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

uint32_t utf8_decode_at(std::string_view s, size_t pos, size_t* len) {
  auto lead = static_cast<uint8_t>(s[pos]);
  size_t n = utf8_sequence_length(lead);
  if (n == 1 || pos + n > s.size()) {
    *len = 1;
    return lead;
  }
  uint32_t cp = n == 2 ? (lead & 0x1F) : n == 3 ? (lead & 0x0F) : (lead & 0x07);
  for (size_t i = 1; i < n; ++i) {
    auto c = static_cast<uint8_t>(s[pos + i]);
    if ((c & 0xC0) != 0x80) {
      *len = 1;
      return lead;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  *len = n;
  return cp;
}

}  // namespace alloy::llm
