// alloy's chat-template engine: a Jinja subset that renders Hugging Face chat templates exactly
// as Python's jinja2 does under apply_chat_template (sandboxed, trim_blocks, lstrip_blocks,
// loopcontrols, tojson, raise_exception, strftime_now). Unsupported constructs throw.
#pragma once

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace alloy::llm {

// Every error of the engine: "[chat_template] line 12: ...". For raise_exception the text after
// "line N: " is the template's own message, also available as reason().
class template_error : public std::runtime_error {
 public:
  template_error(int line, const std::string& reason)
      : std::runtime_error("[chat_template] line " + std::to_string(line) + ": " + reason),
        line_(line), reason_(reason) {}
  int line() const { return line_; }
  const std::string& reason() const { return reason_; }

 private:
  int line_;
  std::string reason_;
};

namespace jinja {
struct Program;
}

class ChatTemplate {
 public:
  // Parses once; throws template_error on a syntax error or an unsupported construct.
  explicit ChatTemplate(std::string source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;
  ChatTemplate& operator=(ChatTemplate&&) noexcept;

  // context: messages, tools, add_generation_prompt, bos_token, eos_token, ... A key that is
  // absent is undefined in the template; a JSON null is None. ordered_json keeps the caller's
  // key order (Python dicts are ordered); plain json objects iterate in sorted key order.
  std::string render(const nlohmann::json& context) const;
  std::string render(const nlohmann::ordered_json& context) const;

  // strftime_now(format) defaults to the local clock; tests pin it with a fixed function.
  void set_strftime_now(std::function<std::string(const std::string&)> fn);

 private:
  std::unique_ptr<jinja::Program> program_;
  std::function<std::string(const std::string&)> strftime_now_;
};

}  // namespace alloy::llm
