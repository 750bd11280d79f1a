// Value: the dynamic type of the template engine, with Python semantics (truthiness, ==, <,
// `in`, +, slicing, str() and repr()). Lists, dicts and namespaces are shared by reference,
// as Python objects are; a namespace() is a dict whose attributes `set` may assign.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace alloy::llm::jinja {

// Thrown while evaluating; the renderer adds the line and rethrows as template_error.
struct eval_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Value;
using List = std::vector<Value>;

struct Dict {
  std::vector<std::pair<std::string, Value>> items;  // insertion order, as Python dicts
  const Value* find(const std::string& key) const;
  void set(const std::string& key, Value v);
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  // Argument `index`/`name` (positional first, then keyword), or nullptr when absent.
  const Value* get(size_t index, const char* name) const;
};
using Function = std::function<Value(const CallArgs&)>;

enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Function };

class Value {
 public:
  Value() = default;  // undefined
  Value(bool b) : kind_(Kind::Bool), b_(b) {}
  Value(int64_t i) : kind_(Kind::Int), i_(i) {}
  Value(int i) : kind_(Kind::Int), i_(i) {}
  Value(double f) : kind_(Kind::Float), f_(f) {}
  Value(std::string s) : kind_(Kind::String), s_(std::make_shared<std::string>(std::move(s))) {}
  Value(const char* s) : Value(std::string(s)) {}

  // hint: the jinja2 message used when the undefined value is misused.
  static Value undefined(std::string hint);
  static Value none();
  static Value list(List items, bool tuple = false);
  static Value dict(Dict d, bool namespace_object = false);
  static Value function(std::string name, Function fn);
  static Value markup(std::string s);  // a Markup string from safe / escape
  static Value from_json(const nlohmann::json& j);
  static Value from_json(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_number() const { return kind_ == Kind::Int || kind_ == Kind::Float || kind_ == Kind::Bool; }
  bool is_tuple() const { return kind_ == Kind::List && flag_; }
  bool is_namespace() const { return kind_ == Kind::Dict && flag_; }
  bool is_markup() const { return kind_ == Kind::String && flag_; }

  bool as_bool() const { return b_; }
  int64_t as_int() const { return kind_ == Kind::Bool ? (b_ ? 1 : 0) : i_; }
  double as_float() const { return kind_ == Kind::Float ? f_ : static_cast<double>(as_int()); }
  const std::string& as_string() const { return *s_; }
  const List& as_list() const { return *list_; }
  const Dict& as_dict() const { return *dict_; }
  Dict& mutable_dict() const { return *dict_; }
  const Function& as_function() const { return *fn_; }
  // The undefined value's hint or the function's name ("" when none).
  const std::string& name() const {
    static const std::string empty;
    return s_ && (kind_ == Kind::Undefined || kind_ == Kind::Function) ? *s_ : empty;
  }

  bool truthy() const;
  std::string str() const;   // Python str(); undefined prints ""
  std::string repr() const;  // Python repr()
  std::string type_name() const;  // Python type name for error messages
  size_t length() const;          // Python len(); throws for numbers
  // Iteration as a Python for loop sees it: list items, dict keys, string characters.
  List iterate() const;
  nlohmann::ordered_json to_json() const;
  [[noreturn]] void fail_undefined() const;

 private:
  Kind kind_ = Kind::Undefined;
  bool flag_ = false;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::shared_ptr<std::string> s_;
  std::shared_ptr<List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<Function> fn_;
};

std::string python_float_repr(double f);
std::string python_string_repr(const std::string& s);
std::string html_escape(const std::string& s);

// Python operators; each throws eval_error with Python's TypeError text on a type mismatch.
bool value_equal(const Value& a, const Value& b);
bool value_less(const Value& a, const Value& b);
bool value_contains(const Value& container, const Value& item);
Value value_add(const Value& a, const Value& b);
Value value_arith(const std::string& op, const Value& a, const Value& b);  // - * / // % **
Value value_negate(const Value& a);
// Python slice semantics (negative indices and steps) on strings (code points), lists, tuples.
Value value_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

}  // namespace alloy::llm::jinja
