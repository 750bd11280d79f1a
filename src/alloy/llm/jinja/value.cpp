// Value construction, conversion (str, repr, JSON) and Python's operators.
#include "alloy/llm/jinja/value.h"

#include <charconv>
#include <cmath>

#include "alloy/llm/jinja/unicode.h"

namespace alloy::llm::jinja {

const Value* Dict::find(const std::string& key) const {
  for (const auto& kv : items)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

void Dict::set(const std::string& key, Value v) {
  for (auto& kv : items)
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  items.emplace_back(key, std::move(v));
}

const Value* CallArgs::get(size_t index, const char* name) const {
  if (index < positional.size()) return &positional[index];
  if (name)
    for (const auto& kv : keyword)
      if (kv.first == name) return &kv.second;
  return nullptr;
}

Value Value::undefined(std::string hint) {
  Value v;
  v.s_ = std::make_shared<std::string>(std::move(hint));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = Kind::None;
  return v;
}

Value Value::list(List items, bool tuple) {
  Value v;
  v.kind_ = Kind::List;
  v.flag_ = tuple;
  v.list_ = std::make_shared<List>(std::move(items));
  return v;
}

Value Value::dict(Dict d, bool namespace_object) {
  Value v;
  v.kind_ = Kind::Dict;
  v.flag_ = namespace_object;
  v.dict_ = std::make_shared<Dict>(std::move(d));
  return v;
}

Value Value::function(std::string name, Function fn) {
  Value v;
  v.kind_ = Kind::Function;
  v.s_ = std::make_shared<std::string>(std::move(name));
  v.fn_ = std::make_shared<Function>(std::move(fn));
  return v;
}

Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.flag_ = true;
  return v;
}

template <class Json>
static Value value_from_json(const Json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return Value(static_cast<int64_t>(j.template get<uint64_t>()));
    case nlohmann::json::value_t::number_float: return Value(j.template get<double>());
    case nlohmann::json::value_t::string: return Value(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      List items;
      for (const auto& e : j) items.push_back(value_from_json(e));
      return Value::list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Dict d;
      for (auto it = j.begin(); it != j.end(); ++it) d.items.emplace_back(it.key(), value_from_json(it.value()));
      return Value::dict(std::move(d));
    }
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded:
      throw eval_error("binary or discarded JSON values are not supported in a template context");
  }
  return Value::none();
}

Value Value::from_json(const nlohmann::json& j) { return value_from_json(j); }
Value Value::from_json(const nlohmann::ordered_json& j) { return value_from_json(j); }

bool Value::truthy() const {
  switch (kind_) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return b_;
    case Kind::Int: return i_ != 0;
    case Kind::Float: return f_ != 0.0;
    case Kind::String: return !s_->empty();
    case Kind::List: return !list_->empty();
    case Kind::Dict: return !dict_->items.empty();
    case Kind::Function: return true;
  }
  return false;
}

std::string python_float_repr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, f, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool neg = sci[0] == '-';
  if (neg) sci.erase(0, 1);
  size_t e = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < e; ++i)
    if (sci[i] != '.') digits += sci[i];
  int exp = std::stoi(sci.substr(e + 1));
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  std::string out = neg ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(-exp - 1, '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exp + 1) {
      out += digits + std::string(exp + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
    }
  } else {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[16];
    snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    out += eb;
  }
  return out;
}

static bool python_printable(char32_t c) {
  if (c < 0x20 || c == 0x7f) return false;
  if (c < 0x7f) return true;
  if (c <= 0xa0 || c == 0xad || c == 0x1680 || (c >= 0x2000 && c <= 0x200f) ||
      (c >= 0x2028 && c <= 0x202f) || (c >= 0x205f && c <= 0x2064) || c == 0x3000 ||
      c == 0xfeff || (c >= 0xd800 && c <= 0xdfff))
    return false;
  return true;
}

std::string python_string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char q = has_single && !has_double ? '"' : '\'';
  std::string out(1, q);
  for (char32_t c : utf8_decode(s)) {
    if (c == static_cast<char32_t>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (python_printable(c)) {
      utf8_append(out, c);
    } else {
      char b[16];
      if (c < 0x100) snprintf(b, sizeof b, "\\x%02x", static_cast<unsigned>(c));
      else if (c < 0x10000) snprintf(b, sizeof b, "\\u%04x", static_cast<unsigned>(c));
      else snprintf(b, sizeof b, "\\U%08x", static_cast<unsigned>(c));
      out += b;
    }
  }
  out += q;
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Value::str() const {
  switch (kind_) {
    case Kind::Undefined: return "";
    case Kind::String: return *s_;
    case Kind::None:
    case Kind::Bool:
    case Kind::Int:
    case Kind::Float:
    case Kind::List:
    case Kind::Dict:
    case Kind::Function: return repr();
  }
  return "";
}

std::string Value::repr() const {
  switch (kind_) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "None";
    case Kind::Bool: return b_ ? "True" : "False";
    case Kind::Int: return std::to_string(i_);
    case Kind::Float: return python_float_repr(f_);
    case Kind::String: return is_markup() ? "Markup(" + python_string_repr(*s_) + ")" : python_string_repr(*s_);
    case Kind::List: {
      std::string out = flag_ ? "(" : "[";
      for (size_t i = 0; i < list_->size(); ++i) out += (i ? ", " : "") + (*list_)[i].repr();
      if (flag_ && list_->size() == 1) out += ",";
      return out + (flag_ ? ")" : "]");
    }
    case Kind::Dict: {
      std::string out = "{";
      bool first = true;
      for (const auto& kv : dict_->items) {
        out += (first ? "" : ", ") + python_string_repr(kv.first) + ": " + kv.second.repr();
        first = false;
      }
      out += "}";
      return flag_ ? "<Namespace " + out + ">" : out;
    }
    case Kind::Function: return "<function " + *s_ + ">";
  }
  return "";
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return is_markup() ? "Markup" : "str";
    case Kind::List: return flag_ ? "tuple" : "list";
    case Kind::Dict: return flag_ ? "Namespace" : "dict";
    case Kind::Function: return "function";
  }
  return "";
}

void Value::fail_undefined() const { throw eval_error(s_ ? *s_ : "value is undefined"); }

size_t Value::length() const {
  switch (kind_) {
    case Kind::Undefined: return 0;
    case Kind::String: return utf8_length(*s_);
    case Kind::List: return list_->size();
    case Kind::Dict: return dict_->items.size();
    case Kind::None:
    case Kind::Bool:
    case Kind::Int:
    case Kind::Float:
    case Kind::Function: break;
  }
  throw eval_error("object of type '" + type_name() + "' has no len()");
}

List Value::iterate() const {
  switch (kind_) {
    case Kind::Undefined: return {};
    case Kind::List: return *list_;
    case Kind::Dict: {
      List keys;
      for (const auto& kv : dict_->items) keys.emplace_back(kv.first);
      return keys;
    }
    case Kind::String: {
      List chars;
      for (char32_t c : utf8_decode(*s_)) {
        std::string ch;
        utf8_append(ch, c);
        chars.emplace_back(ch);
      }
      return chars;
    }
    case Kind::None:
    case Kind::Bool:
    case Kind::Int:
    case Kind::Float:
    case Kind::Function: break;
  }
  throw eval_error("'" + type_name() + "' object is not iterable");
}

nlohmann::ordered_json Value::to_json() const {
  switch (kind_) {
    case Kind::None: return nullptr;
    case Kind::Bool: return b_;
    case Kind::Int: return i_;
    case Kind::Float: return f_;
    case Kind::String: return *s_;
    case Kind::List: {
      nlohmann::ordered_json a = nlohmann::ordered_json::array();
      for (const auto& e : *list_) a.push_back(e.to_json());
      return a;
    }
    case Kind::Dict: {
      nlohmann::ordered_json o = nlohmann::ordered_json::object();
      for (const auto& kv : dict_->items) o[kv.first] = kv.second.to_json();
      return o;
    }
    case Kind::Undefined:
    case Kind::Function: break;
  }
  throw eval_error("Object of type " + type_name() + " is not JSON serializable");
}

bool value_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::Float || b.kind() == Kind::Float) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return a.as_string() == b.as_string();
    case Kind::List: {
      if (a.is_tuple() != b.is_tuple() || a.as_list().size() != b.as_list().size()) return false;
      for (size_t i = 0; i < a.as_list().size(); ++i)
        if (!value_equal(a.as_list()[i], b.as_list()[i])) return false;
      return true;
    }
    case Kind::Dict: {
      if (a.is_namespace() || b.is_namespace()) return &a.as_dict() == &b.as_dict();
      if (a.as_dict().items.size() != b.as_dict().items.size()) return false;
      for (const auto& kv : a.as_dict().items) {
        const Value* o = b.as_dict().find(kv.first);
        if (!o || !value_equal(kv.second, *o)) return false;
      }
      return true;
    }
    case Kind::Function: return &a.as_function() == &b.as_function();
    case Kind::Bool:
    case Kind::Int:
    case Kind::Float: break;
  }
  return false;
}

bool value_less(const Value& a, const Value& b) {
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::Float || b.kind() == Kind::Float) return a.as_float() < b.as_float();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) return a.as_string() < b.as_string();
  if (a.kind() == Kind::List && b.kind() == Kind::List && a.is_tuple() == b.is_tuple()) {
    const List& x = a.as_list();
    const List& y = b.as_list();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      if (!value_equal(x[i], y[i])) return value_less(x[i], y[i]);
    return x.size() < y.size();
  }
  throw eval_error("'<' not supported between instances of '" + a.type_name() + "' and '" +
                   b.type_name() + "'");
}

bool value_contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Kind::Undefined: return false;
    case Kind::String:
      if (!item.is_string())
        throw eval_error("'in <string>' requires string as left operand, not " + item.type_name());
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Kind::List:
      for (const auto& e : container.as_list())
        if (value_equal(e, item)) return true;
      return false;
    case Kind::Dict:
      if (item.kind() == Kind::List && !item.is_tuple()) throw eval_error("unhashable type: 'list'");
      if (item.kind() == Kind::Dict) throw eval_error("unhashable type: 'dict'");
      return item.is_string() && container.as_dict().find(item.as_string()) != nullptr;
    case Kind::None:
    case Kind::Bool:
    case Kind::Int:
    case Kind::Float:
    case Kind::Function: break;
  }
  throw eval_error("argument of type '" + container.type_name() + "' is not iterable");
}

[[noreturn]] static void fail_operands(const char* op, const Value& a, const Value& b) {
  throw eval_error(std::string("unsupported operand type(s) for ") + op + ": '" + a.type_name() +
                   "' and '" + b.type_name() + "'");
}

Value value_add(const Value& a, const Value& b) {
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::Float || b.kind() == Kind::Float) return Value(a.as_float() + b.as_float());
    return Value(a.as_int() + b.as_int());
  }
  if (a.is_string() && b.is_string()) {
    // Markup escapes the plain operand, on either side, as markupsafe does.
    if (a.is_markup() || b.is_markup())
      return Value::markup((a.is_markup() ? a.as_string() : html_escape(a.as_string())) +
                           (b.is_markup() ? b.as_string() : html_escape(b.as_string())));
    return Value(a.as_string() + b.as_string());
  }
  if (a.kind() == Kind::List && b.kind() == Kind::List && a.is_tuple() == b.is_tuple()) {
    List r = a.as_list();
    r.insert(r.end(), b.as_list().begin(), b.as_list().end());
    return Value::list(std::move(r), a.is_tuple());
  }
  if (a.is_string() && !b.is_string())
    throw eval_error("can only concatenate str (not \"" + b.type_name() + "\") to str");
  if (a.kind() == Kind::List && !a.is_tuple())
    throw eval_error("can only concatenate list (not \"" + b.type_name() + "\") to list");
  fail_operands("+", a, b);
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

Value value_arith(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  if (op == "*") {
    const Value* seq = a.is_string() || a.kind() == Kind::List ? &a : b.is_string() || b.kind() == Kind::List ? &b : nullptr;
    const Value* n = seq == &a ? &b : &a;
    if (seq && n->is_number() && n->kind() != Kind::Float) {
      int64_t count = n->as_int();
      if (seq->is_string()) {
        std::string r;
        for (int64_t i = 0; i < count; ++i) r += seq->as_string();
        return Value(r);
      }
      List r;
      for (int64_t i = 0; i < count; ++i) r.insert(r.end(), seq->as_list().begin(), seq->as_list().end());
      return Value::list(std::move(r), seq->is_tuple());
    }
  }
  if (!a.is_number() || !b.is_number()) {
    if (op == "%" && a.is_string()) throw eval_error("string formatting with % is not supported");
    fail_operands(op.c_str(), a, b);
  }
  bool fl = a.kind() == Kind::Float || b.kind() == Kind::Float;
  if (op == "-") return fl ? Value(a.as_float() - b.as_float()) : Value(a.as_int() - b.as_int());
  if (op == "*") return fl ? Value(a.as_float() * b.as_float()) : Value(a.as_int() * b.as_int());
  if (op == "/") {
    if (b.as_float() == 0) throw eval_error("division by zero");
    return Value(a.as_float() / b.as_float());
  }
  if (op == "//" || op == "%") {
    if (b.as_float() == 0)
      throw eval_error(op == "//" ? "integer division or modulo by zero" : "integer modulo by zero");
    if (!fl) {
      int64_t q = floor_div(a.as_int(), b.as_int());
      return op == "//" ? Value(q) : Value(a.as_int() - q * b.as_int());
    }
    // float_floor_div / float_rem of CPython.
    double x = a.as_float(), y = b.as_float();
    double m = std::fmod(x, y);
    double div = (x - m) / y;
    if (m != 0 && ((y < 0) != (m < 0))) {
      m += y;
      div -= 1.0;
    }
    double fd = div != 0 ? std::floor(div) : std::copysign(0.0, x / y);
    if (div != 0 && div - fd > 0.5) fd += 1.0;
    if (m == 0) m = std::copysign(0.0, y);
    return op == "//" ? Value(fd) : Value(m);
  }
  if (op == "**") {
    if (!fl && b.as_int() >= 0) {
      int64_t r = 1, base = a.as_int();
      for (int64_t e = b.as_int(); e > 0; --e) r *= base;
      return Value(r);
    }
    return Value(std::pow(a.as_float(), b.as_float()));
  }
  throw eval_error("unknown operator " + op);
}

Value value_negate(const Value& a) {
  if (a.is_undefined()) a.fail_undefined();
  if (a.kind() == Kind::Float) return Value(-a.as_float());
  if (a.is_number()) return Value(-a.as_int());
  throw eval_error("bad operand type for unary -: '" + a.type_name() + "'");
}

// PySlice_AdjustIndices.
static void adjust_slice(int64_t len, const Value& start, const Value& stop, const Value& step,
                         int64_t& s, int64_t& e, int64_t& st) {
  auto as_index = [](const Value& v) -> int64_t {
    if (v.kind() != Kind::Int && v.kind() != Kind::Bool)
      throw eval_error("slice indices must be integers or None");
    return v.as_int();
  };
  st = step.is_none() || step.is_undefined() ? 1 : as_index(step);
  if (st == 0) throw eval_error("slice step cannot be zero");
  bool no_start = start.is_none() || start.is_undefined();
  bool no_stop = stop.is_none() || stop.is_undefined();
  if (no_start) {
    s = st < 0 ? len - 1 : 0;
  } else {
    s = as_index(start);
    if (s < 0) s = std::max<int64_t>(s + len, st < 0 ? -1 : 0);
    else if (s >= len) s = st < 0 ? len - 1 : len;
  }
  if (no_stop) {
    e = st < 0 ? -1 : len;
  } else {
    e = as_index(stop);
    if (e < 0) e = std::max<int64_t>(e + len, st < 0 ? -1 : 0);
    else if (e >= len) e = st < 0 ? len - 1 : len;
  }
}

Value value_slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  if (obj.is_undefined()) obj.fail_undefined();
  int64_t s, e, st;
  if (obj.is_string()) {
    std::vector<char32_t> cps = utf8_decode(obj.as_string());
    adjust_slice(static_cast<int64_t>(cps.size()), start, stop, step, s, e, st);
    std::string out;
    for (int64_t i = s; st > 0 ? i < e : i > e; i += st) utf8_append(out, cps[i]);
    return Value(out);
  }
  if (obj.kind() == Kind::List) {
    const List& l = obj.as_list();
    adjust_slice(static_cast<int64_t>(l.size()), start, stop, step, s, e, st);
    List out;
    for (int64_t i = s; st > 0 ? i < e : i > e; i += st) out.push_back(l[i]);
    return Value::list(std::move(out), obj.is_tuple());
  }
  throw eval_error("'" + obj.type_name() + "' object is not subscriptable");
}

}  // namespace alloy::llm::jinja
