// Rendering a conversation with the model's chat template, as Hugging Face's
// apply_chat_template does, and tokenizing it as llama.cpp does (special-token text parsed;
// BOS added only when the template did not write it).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "alloy/llm/tokenizer/tokenizer.h"

namespace alloy::llm {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

// Throws std::invalid_argument when the tokenizer has no chat template; errors raised by the
// template itself (raise_exception) propagate with its message.
std::string render_chat(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt = true);
std::vector<int32_t> tokenize_chat(const Tokenizer& tokenizer, const std::string& rendered);

}  // namespace alloy::llm
