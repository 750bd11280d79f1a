// Attribute and item access, and the methods of str, dict and list that templates call.
// The sandbox is immutable (as Hugging Face's): methods that modify a list or dict are unsafe.
#include <algorithm>

#include "alloy/llm/jinja/render.h"
#include "alloy/llm/jinja/unicode.h"

namespace alloy::llm::jinja {

namespace {

std::string object_type_repr(const Value& obj) {
  if (obj.is_none()) return "'None'";
  if (obj.is_namespace()) return "'jinja2.utils.Namespace object'";
  return "'" + obj.type_name() + " object'";
}

Value missing_attribute(const Value& obj, const std::string& name) {
  return Value::undefined(object_type_repr(obj) + " has no attribute '" + name + "'");
}

Value unsafe(const Value& obj, const std::string& name) {
  return Value::undefined("access to attribute '" + name + "' of '" + obj.type_name() + "' object is unsafe.");
}

const std::string& arg_string(const CallArgs& a, size_t i, const char* name, const char* method) {
  const Value* v = a.get(i, name);
  if (!v || !v->is_string())
    throw eval_error(std::string(method) + "() argument must be str, not " + (v ? v->type_name() : "nothing"));
  return v->as_string();
}

int64_t cp_index(const std::string& s, size_t byte_pos) {
  return static_cast<int64_t>(utf8_length(s.substr(0, byte_pos)));
}

List py_split(const std::string& s, const Value* sep, int64_t maxsplit) {
  List out;
  if (!sep || sep->is_none()) {
    std::vector<char32_t> cps = utf8_decode(s);
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && unicode_is_space(cps[i])) ++i;
      if (i >= cps.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
        size_t e = cps.size();
        while (e > i && unicode_is_space(cps[e - 1])) --e;
        out.emplace_back(utf8_encode(std::vector<char32_t>(cps.begin() + i, cps.begin() + e)));
        break;
      }
      size_t j = i;
      while (j < cps.size() && !unicode_is_space(cps[j])) ++j;
      out.emplace_back(utf8_encode(std::vector<char32_t>(cps.begin() + i, cps.begin() + j)));
      i = j;
    }
    return out;
  }
  if (!sep->is_string()) throw eval_error("must be str or None, not " + sep->type_name());
  const std::string& d = sep->as_string();
  if (d.empty()) throw eval_error("empty separator");
  size_t start = 0;
  while (true) {
    size_t p = s.find(d, start);
    if (p == std::string::npos || (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit)) break;
    out.emplace_back(s.substr(start, p - start));
    start = p + d.size();
  }
  out.emplace_back(s.substr(start));
  return out;
}

bool affix_match(const std::string& s, const Value& affix, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string())
      throw eval_error(std::string(prefix ? "startswith" : "endswith") +
                       " first arg must be str or a tuple of str, not " + a.type_name());
    const std::string& x = a.as_string();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (affix.is_tuple()) {
    for (const auto& a : affix.as_list())
      if (one(a)) return true;
    return false;
  }
  return one(affix);
}

std::string py_title(const std::string& s) {
  std::string out;
  bool prev_cased = false;
  for (char32_t c : utf8_decode(s)) {
    bool cased = unicode_upper(c) != c || unicode_lower(c) != c;
    utf8_append(out, cased ? (prev_cased ? unicode_lower(c) : unicode_upper(c)) : c);
    prev_cased = cased;
  }
  return out;
}

std::string py_capitalize(const std::string& s) {
  std::vector<char32_t> cps = utf8_decode(s);
  for (size_t i = 0; i < cps.size(); ++i) cps[i] = i == 0 ? unicode_upper(cps[i]) : unicode_lower(cps[i]);
  return utf8_encode(cps);
}

Value string_method(const Value& obj, const std::string& name) {
  const std::string s = obj.as_string();
  auto bind = [&](auto fn) { return Value::function("str." + name, fn); };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    bool l = name != "rstrip", r = name != "lstrip";
    return bind([s, l, r](const CallArgs& a) {
      const Value* c = a.get(0, "chars");
      return Value(py_strip(s, c ? *c : Value::none(), l, r));
    });
  }
  if (name == "split")
    return bind([s](const CallArgs& a) {
      const Value* m = a.get(1, "maxsplit");
      return Value::list(py_split(s, a.get(0, "sep"), m ? m->as_int() : -1));
    });
  if (name == "startswith" || name == "endswith") {
    bool prefix = name == "startswith";
    return bind([s, prefix](const CallArgs& a) {
      if (a.positional.size() != 1) throw eval_error("startswith/endswith with start or end is not supported");
      return Value(affix_match(s, a.positional[0], prefix));
    });
  }
  if (name == "replace")
    return bind([s](const CallArgs& a) {
      const Value* c = a.get(2, "count");
      return Value(py_replace(s, arg_string(a, 0, "old", "replace"), arg_string(a, 1, "new", "replace"),
                              c ? c->as_int() : -1));
    });
  if (name == "upper") return bind([s](const CallArgs&) { return Value(py_upper(s)); });
  if (name == "lower") return bind([s](const CallArgs&) { return Value(py_lower(s)); });
  if (name == "title") return bind([s](const CallArgs&) { return Value(py_title(s)); });
  if (name == "capitalize") return bind([s](const CallArgs&) { return Value(py_capitalize(s)); });
  if (name == "find" || name == "rfind" || name == "count") {
    std::string n = name;
    return bind([s, n](const CallArgs& a) {
      if (a.positional.size() != 1) throw eval_error("str." + n + "() with start or end is not supported");
      const std::string& sub = arg_string(a, 0, "sub", n.c_str());
      if (n == "count") {
        if (sub.empty()) return Value(static_cast<int64_t>(utf8_length(s) + 1));
        int64_t c = 0;
        for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++c;
        return Value(c);
      }
      size_t p = n == "find" ? s.find(sub) : s.rfind(sub);
      return Value(p == std::string::npos ? int64_t{-1} : cp_index(s, p));
    });
  }
  if (name == "join")
    return bind([s](const CallArgs& a) {
      if (a.positional.size() != 1) throw eval_error("str.join() takes exactly one argument");
      std::string out;
      List items = a.positional[0].iterate();
      for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].is_string())
          throw eval_error("sequence item " + std::to_string(i) + ": expected str instance, " +
                           items[i].type_name() + " found");
        out += (i ? s : "") + items[i].as_string();
      }
      return Value(out);
    });
  if (name == "splitlines")
    return bind([s](const CallArgs&) {
      List out;
      for (auto& l : python_splitlines(s)) out.emplace_back(l);
      return Value::list(std::move(out));
    });
  if (name == "format" || name == "format_map")
    return bind([](const CallArgs&) -> Value { throw eval_error("str.format is not supported"); });
  return missing_attribute(obj, name);
}

Value dict_method(const Value& obj, const std::string& name) {
  auto bind = [&](auto fn) { return Value::function("dict." + name, fn); };
  if (name == "items")
    return bind([obj](const CallArgs&) {
      List out;
      for (const auto& kv : obj.as_dict().items) out.push_back(Value::list({Value(kv.first), kv.second}, true));
      return Value::list(std::move(out));
    });
  if (name == "keys")
    return bind([obj](const CallArgs&) {
      List out;
      for (const auto& kv : obj.as_dict().items) out.emplace_back(kv.first);
      return Value::list(std::move(out));
    });
  if (name == "values")
    return bind([obj](const CallArgs&) {
      List out;
      for (const auto& kv : obj.as_dict().items) out.push_back(kv.second);
      return Value::list(std::move(out));
    });
  if (name == "get")
    return bind([obj](const CallArgs& a) {
      const Value* k = a.get(0, "key");
      if (!k) throw eval_error("get expected at least 1 argument, got 0");
      const Value* d = a.get(1, "default");
      const Value* v = k->is_string() ? obj.as_dict().find(k->as_string()) : nullptr;
      return v ? *v : d ? *d : Value::none();
    });
  if (name == "copy") return bind([obj](const CallArgs&) { return Value::dict(obj.as_dict()); });
  static const char* mutating[] = {"pop", "popitem", "setdefault", "update", "clear"};
  for (const char* m : mutating)
    if (name == m) return unsafe(obj, name);
  return Value();
}

Value list_method(const Value& obj, const std::string& name) {
  if (name == "index" || name == "count") {
    std::string n = name;
    return Value::function("list." + name, [obj, n](const CallArgs& a) {
      if (a.positional.size() != 1) throw eval_error("list." + n + "() takes exactly one argument");
      int64_t c = 0;
      for (size_t i = 0; i < obj.as_list().size(); ++i)
        if (value_equal(obj.as_list()[i], a.positional[0])) {
          if (n == "index") return Value(static_cast<int64_t>(i));
          ++c;
        }
      if (n == "index") throw eval_error(a.positional[0].repr() + " is not in list");
      return Value(c);
    });
  }
  static const char* mutating[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
  for (const char* m : mutating)
    if (name == m) return unsafe(obj, name);
  return Value();
}

Value index_sequence(const Value& obj, int64_t i) {
  bool is_str = obj.is_string();
  int64_t n = static_cast<int64_t>(obj.length());
  int64_t j = i < 0 ? i + n : i;
  if (j < 0 || j >= n)
    return Value::undefined(object_type_repr(obj) + " has no element " + std::to_string(i));
  if (!is_str) return obj.as_list()[j];
  std::vector<char32_t> cps = utf8_decode(obj.as_string());
  std::string ch;
  utf8_append(ch, cps[j]);
  return Value(ch);
}

}  // namespace

Value get_attribute(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Kind::Undefined: obj.fail_undefined();
    case Kind::String: return string_method(obj, name);
    case Kind::Dict: {
      if (obj.is_namespace()) {
        const Value* v = obj.as_dict().find(name);
        return v ? *v : missing_attribute(obj, name);
      }
      Value m = dict_method(obj, name);
      if (m.kind() == Kind::Function || !m.name().empty()) return m;
      const Value* v = obj.as_dict().find(name);
      return v ? *v : missing_attribute(obj, name);
    }
    case Kind::List: {
      Value m = list_method(obj, name);
      if (m.kind() == Kind::Function || (m.is_undefined() && !m.name().empty())) return m;
      return missing_attribute(obj, name);
    }
    case Kind::None:
    case Kind::Bool:
    case Kind::Int:
    case Kind::Float:
    case Kind::Function: break;
  }
  return missing_attribute(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) obj.fail_undefined();
  bool int_key = key.kind() == Kind::Int || key.kind() == Kind::Bool;
  switch (obj.kind()) {
    case Kind::Dict:
      if (key.is_string() && !obj.is_namespace()) {
        if (const Value* v = obj.as_dict().find(key.as_string())) return *v;
      }
      break;
    case Kind::List:
    case Kind::String:
      if (int_key) return index_sequence(obj, key.as_int());
      break;
    case Kind::Undefined:
    case Kind::None:
    case Kind::Bool:
    case Kind::Int:
    case Kind::Float:
    case Kind::Function: break;
  }
  if (key.is_string()) return get_attribute(obj, key.as_string());
  return Value::undefined(object_type_repr(obj) + " has no element " + key.repr());
}

std::string py_strip(const std::string& s, const Value& chars, bool left, bool right) {
  std::vector<char32_t> cps = utf8_decode(s);
  std::vector<char32_t> set;
  bool ws = chars.is_none() || chars.is_undefined();
  if (!ws) {
    if (!chars.is_string()) throw eval_error("strip arg must be None or str");
    set = utf8_decode(chars.as_string());
  }
  auto strip_it = [&](char32_t c) {
    return ws ? unicode_is_space(c) : std::find(set.begin(), set.end(), c) != set.end();
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && strip_it(cps[b])) ++b;
  if (right)
    while (e > b && strip_it(cps[e - 1])) --e;
  return utf8_encode(std::vector<char32_t>(cps.begin() + b, cps.begin() + e));
}

std::string py_upper(const std::string& s) {
  std::vector<char32_t> cps = utf8_decode(s);
  for (auto& c : cps) c = unicode_upper(c);
  return utf8_encode(cps);
}

std::string py_lower(const std::string& s) {
  std::vector<char32_t> cps = utf8_decode(s);
  for (auto& c : cps) c = unicode_lower(c);
  return utf8_encode(cps);
}

std::string py_replace(const std::string& s, const std::string& old, const std::string& rep, int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts `rep` before every code point and at the end.
    std::vector<char32_t> cps = utf8_decode(s);
    int64_t done = 0;
    for (char32_t c : cps) {
      if (count < 0 || done < count) {
        out += rep;
        ++done;
      }
      utf8_append(out, c);
    }
    if (count < 0 || done < count) out += rep;
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t p = s.find(old, start);
    if (p == std::string::npos) break;
    out += s.substr(start, p - start) + rep;
    start = p + old.size();
    ++done;
  }
  return out + s.substr(start);
}

}  // namespace alloy::llm::jinja
