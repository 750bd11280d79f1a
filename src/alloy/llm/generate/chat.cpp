#include "alloy/llm/generate/chat.h"

#include <stdexcept>

#include "alloy/llm/jinja/template.h"

namespace alloy::llm {

std::string render_chat(const Tokenizer& tokenizer, const std::vector<ChatMessage>& messages,
                        bool add_generation_prompt) {
  if (tokenizer.chat_template().empty()) throw std::invalid_argument("the model has no chat template");
  ChatTemplate tmpl(tokenizer.chat_template());
  nlohmann::ordered_json ctx;
  ctx["messages"] = nlohmann::ordered_json::array();
  for (const ChatMessage& m : messages) ctx["messages"].push_back({{"role", m.role}, {"content", m.content}});
  ctx["add_generation_prompt"] = add_generation_prompt;
  ctx["bos_token"] = tokenizer.bos_id() >= 0 ? tokenizer.token_text(tokenizer.bos_id()) : "";
  ctx["eos_token"] = tokenizer.eos_id() >= 0 ? tokenizer.token_text(tokenizer.eos_id()) : "";
  return tmpl.render(ctx);
}

std::vector<int32_t> tokenize_chat(const Tokenizer& tokenizer, const std::string& rendered) {
  bool has_bos = false;
  if (tokenizer.bos_id() >= 0) {
    const std::string& bos = tokenizer.token_text(tokenizer.bos_id());
    has_bos = !bos.empty() && rendered.rfind(bos, 0) == 0;
  }
  return tokenizer.encode(rendered, /*add_special=*/!has_bos, /*parse_special=*/true);
}

}  // namespace alloy::llm
