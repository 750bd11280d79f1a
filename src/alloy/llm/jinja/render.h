// Renderer: executes the syntax tree over scoped frames with jinja2's scoping (each for-loop
// iteration and each macro call gets a fresh frame over its parent; `set` writes the innermost
// frame; namespace() objects are shared by reference), plus the attribute, filter and test
// tables the renderer dispatches to.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "alloy/llm/jinja/ast.h"
#include "alloy/llm/jinja/value.h"

namespace alloy::llm::jinja {

struct Frame {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Frame> parent;
  const Value* lookup(const std::string& name) const;
};

class Renderer {
 public:
  Renderer(const Program& program, std::shared_ptr<Frame> globals)
      : program_(program), globals_(std::move(globals)) {}
  std::string render();

  Value eval(const Expr& e, const std::shared_ptr<Frame>& frame);

 private:
  enum class Flow { Normal, Break, Continue };
  Flow exec(const Body& body, const std::shared_ptr<Frame>& frame, std::string& out);
  Flow exec_stmt(const Stmt& s, const std::shared_ptr<Frame>& frame, std::string& out);
  Flow exec_for(const Stmt& s, const std::shared_ptr<Frame>& frame, std::string& out);
  Value make_macro(const Stmt& s, const std::shared_ptr<Frame>& frame);
  CallArgs eval_args(const Expr& e, const std::shared_ptr<Frame>& frame, size_t first);

  const Program& program_;
  std::shared_ptr<Frame> globals_;
  int depth_ = 0;
};

// Python-level attribute and item access as jinja2's sandboxed getattr / getitem do them:
// `.name` tries the attribute (a method) and then the item; `[key]` the item and then the
// attribute. A miss is an undefined value carrying jinja2's message.
Value get_attribute(const Value& obj, const std::string& name);
Value get_item(const Value& obj, const Value& key);

// Filters and tests by name; the renderer checks names when the template is parsed, as jinja2
// does when it compiles.
bool has_filter(const std::string& name);
bool has_test(const std::string& name);
Value apply_filter(const std::string& name, const Value& v, const CallArgs& args);
bool apply_test(const std::string& name, const Value& v, const CallArgs& args);

// Python's json.dumps(x, ensure_ascii, indent, separators, sort_keys) as Hugging Face's tojson.
std::string python_json_dumps(const Value& v, bool ensure_ascii, const Value& indent,
                              const Value& separators, bool sort_keys);

// Python str methods shared by filters and string methods.
std::string py_strip(const std::string& s, const Value& chars, bool left, bool right);
std::string py_upper(const std::string& s);
std::string py_lower(const std::string& s);
std::string py_replace(const std::string& s, const std::string& old, const std::string& rep, int64_t count);

}  // namespace alloy::llm::jinja
