// GPT-2's reversible byte <-> unicode table: byte-level BPE vocabularies spell every byte as
// a printable codepoint (space is 'Ġ' U+0120, newline 'Ċ' U+010A).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace alloy::llm {

// UTF-8 of the codepoint standing for `byte`.
const std::string& byte_to_unicode(uint8_t byte);
// The byte a codepoint stands for, or -1 when it stands for none.
int unicode_to_byte(uint32_t codepoint);
// Length of the UTF-8 sequence that `lead` starts (1 for stray or invalid bytes).
size_t utf8_sequence_length(uint8_t lead);
// Decodes one codepoint at s[pos]; invalid input yields the byte itself and length 1.
uint32_t utf8_decode_at(std::string_view s, size_t pos, size_t* len);

}  // namespace alloy::llm
