// jinja2's built-in filters and tests (jinja2/filters.py, jinja2/tests.py) that chat templates
// use, with Hugging Face's tojson in place of jinja2's.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <unordered_map>

#include "alloy/llm/jinja/render.h"
#include "alloy/llm/jinja/unicode.h"

namespace alloy::llm::jinja {

namespace {

using FilterFn = std::function<Value(const Value&, const CallArgs&)>;
using TestFn = std::function<bool(const Value&, const CallArgs&)>;

Value arg_or(const CallArgs& a, size_t i, const char* name, Value dflt) {
  const Value* v = a.get(i, name);
  return v ? *v : dflt;
}

bool arg_bool(const CallArgs& a, size_t i, const char* name, bool dflt) {
  const Value* v = a.get(i, name);
  return v ? v->truthy() : dflt;
}

// environment.getitem along a dotted path; "0" style parts index sequences.
Value attr_path(const Value& item, const std::string& path) {
  Value cur = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    cur = get_item(cur, digits ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part));
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

Value attribute_arg(const CallArgs& a, size_t i) {
  const Value* v = a.get(i, "attribute");
  return v ? *v : Value::none();
}

std::string jinja_title(const std::string& s) {
  // re.split(r"([-\s({\[<]+)", s): delimiters are kept; each piece gets item[0].upper() + rest.lower().
  std::vector<char32_t> cps = utf8_decode(s);
  auto is_delim = [](char32_t c) { return c == '-' || unicode_is_space(c) || c == '(' || c == '{' || c == '[' || c == '<'; };
  std::string out;
  size_t i = 0;
  while (i < cps.size()) {
    size_t j = i;
    bool delim = is_delim(cps[i]);
    while (j < cps.size() && is_delim(cps[j]) == delim) ++j;
    for (size_t k = i; k < j; ++k) utf8_append(out, delim ? cps[k] : k == i ? unicode_upper(cps[k]) : unicode_lower(cps[k]));
    i = j;
  }
  return out;
}

bool parse_python_int(const std::string& text, int64_t base, int64_t& out) {
  std::string s = py_strip(text, Value::none(), true, true);
  std::string clean;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_' && i > 0 && i + 1 < s.size() && std::isalnum(static_cast<unsigned char>(s[i - 1])) &&
        std::isalnum(static_cast<unsigned char>(s[i + 1])))
      continue;
    clean += s[i];
  }
  if (clean.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(clean.c_str(), &end, static_cast<int>(base));
  if (errno || *end || clean[0] == ' ' || (!std::isdigit(static_cast<unsigned char>(clean.back())) && base <= 10)) return false;
  out = v;
  return true;
}

bool parse_python_float(const std::string& text, double& out) {
  std::string s = py_strip(text, Value::none(), true, true);
  if (s.empty() || s.find_first_of("xXpP") != std::string::npos) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return *end == 0;
}

Value filter_int(const Value& v, const CallArgs& a) {
  Value dflt = arg_or(a, 0, "default", Value(0));
  int64_t base = arg_or(a, 1, "base", Value(10)).as_int();
  if (v.is_string()) {
    int64_t i;
    if (parse_python_int(v.as_string(), base, i)) return Value(i);
    double f;
    if (parse_python_float(v.as_string(), f) && std::isfinite(f)) return Value(static_cast<int64_t>(f));
    return dflt;
  }
  if (v.kind() == Kind::Float) return std::isfinite(v.as_float()) ? Value(static_cast<int64_t>(v.as_float())) : dflt;
  if (v.is_number()) return Value(v.as_int());
  return dflt;
}

Value filter_float(const Value& v, const CallArgs& a) {
  Value dflt = arg_or(a, 0, "default", Value(0.0));
  if (v.is_string()) {
    double f;
    return parse_python_float(v.as_string(), f) ? Value(f) : dflt;
  }
  if (v.is_number()) return Value(v.as_float());
  return dflt;
}

Value filter_round(const Value& v, const CallArgs& a) {
  int64_t precision = arg_or(a, 0, "precision", Value(0)).as_int();
  std::string method = arg_or(a, 1, "method", Value("common")).str();
  if (!v.is_number()) throw eval_error("type " + v.type_name() + " doesn't define __round__ method");
  if (method == "common") {
    if (v.kind() != Kind::Float) return Value(v.as_int());
    // printf rounds the exact binary value half-to-even, as Python's round() does.
    char buf[512];
    snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::max<int64_t>(precision, 0)), v.as_float());
    return Value(std::strtod(buf, nullptr));
  }
  if (method != "floor" && method != "ceil") throw eval_error("method must be 'common', 'ceil' or 'floor'");
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_float() * scale;
  return Value((method == "floor" ? std::floor(x) : std::ceil(x)) / scale);
}

Value filter_indent(const Value& v, const CallArgs& a) {
  Value width = arg_or(a, 0, "width", Value(4));
  bool first = arg_bool(a, 1, "first", false);
  bool blank = arg_bool(a, 2, "blank", false);
  std::string ind = width.is_string() ? width.as_string() : std::string(std::max<int64_t>(width.as_int(), 0), ' ');
  std::string s = v.str() + "\n";
  std::vector<std::string> lines = python_splitlines(s);
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind + lines[i]);
  }
  return Value(first ? ind + rv : rv);
}

Value select_or_reject(const Value& v, const CallArgs& a, bool attr, bool select) {
  size_t off = attr ? 1 : 0;
  std::string attribute;
  if (attr) {
    if (a.positional.empty() || !a.positional[0].is_string()) throw eval_error("selectattr/rejectattr need an attribute name");
    attribute = a.positional[0].as_string();
  }
  std::string test;
  CallArgs test_args;
  if (a.positional.size() > off) {
    test = a.positional[off].str();
    test_args.positional.assign(a.positional.begin() + off + 1, a.positional.end());
    test_args.keyword = a.keyword;
  }
  List out;
  for (const auto& item : v.iterate()) {
    Value x = attr ? attr_path(item, attribute) : item;
    bool ok = test.empty() ? x.truthy() : apply_test(test, x, test_args);
    if (ok == select) out.push_back(item);
  }
  return Value::list(std::move(out));
}

Value filter_map(const Value& v, const CallArgs& a) {
  List out;
  const Value* attribute = a.get(99, "attribute");
  if (attribute) {
    const Value* dflt = a.get(99, "default");
    for (const auto& item : v.iterate()) {
      Value x = attr_path(item, attribute->str());
      out.push_back(x.is_undefined() && dflt ? *dflt : x);
    }
    return Value::list(std::move(out));
  }
  if (a.positional.empty()) throw eval_error("map requires a filter argument");
  std::string name = a.positional[0].str();
  if (!has_filter(name)) throw eval_error("No filter named '" + name + "'.");
  CallArgs rest;
  rest.positional.assign(a.positional.begin() + 1, a.positional.end());
  rest.keyword = a.keyword;
  for (const auto& item : v.iterate()) out.push_back(apply_filter(name, item, rest));
  return Value::list(std::move(out));
}

// Sort key for sort/dictsort/unique/min/max: strings lower-cased unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  return !case_sensitive && v.is_string() ? Value(py_lower(v.as_string())) : v;
}

Value filter_sort(const Value& v, const CallArgs& a) {
  bool reverse = arg_bool(a, 0, "reverse", false);
  bool cs = arg_bool(a, 1, "case_sensitive", false);
  Value attribute = attribute_arg(a, 2);
  List items = v.iterate();
  auto key = [&](const Value& x) { return sort_key(attribute.is_none() ? x : attr_path(x, attribute.str()), cs); };
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    return reverse ? value_less(key(y), key(x)) : value_less(key(x), key(y));
  });
  return Value::list(std::move(items));
}

Value filter_dictsort(const Value& v, const CallArgs& a) {
  bool cs = arg_bool(a, 0, "case_sensitive", false);
  std::string by = arg_or(a, 1, "by", Value("key")).str();
  bool reverse = arg_bool(a, 2, "reverse", false);
  if (v.kind() != Kind::Dict) throw eval_error("dictsort expects a mapping");
  if (by != "key" && by != "value") throw eval_error("You can only sort by either 'key' or 'value'");
  List items;
  for (const auto& kv : v.as_dict().items) items.push_back(Value::list({Value(kv.first), kv.second}, true));
  size_t pos = by == "key" ? 0 : 1;
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    Value kx = sort_key(x.as_list()[pos], cs), ky = sort_key(y.as_list()[pos], cs);
    return reverse ? value_less(ky, kx) : value_less(kx, ky);
  });
  return Value::list(std::move(items));
}

Value filter_unique(const Value& v, const CallArgs& a) {
  bool cs = arg_bool(a, 0, "case_sensitive", false);
  Value attribute = attribute_arg(a, 1);
  List out, seen;
  for (const auto& item : v.iterate()) {
    Value k = sort_key(attribute.is_none() ? item : attr_path(item, attribute.str()), cs);
    if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return value_equal(s, k); })) {
      seen.push_back(k);
      out.push_back(item);
    }
  }
  return Value::list(std::move(out));
}

Value filter_min_max(const Value& v, const CallArgs& a, bool want_max) {
  bool cs = arg_bool(a, 0, "case_sensitive", false);
  Value attribute = attribute_arg(a, 1);
  List items = v.iterate();
  if (items.empty()) return Value::undefined(std::string("No aggregated item, sequence was empty."));
  size_t best = 0;
  auto key = [&](const Value& x) { return sort_key(attribute.is_none() ? x : attr_path(x, attribute.str()), cs); };
  for (size_t i = 1; i < items.size(); ++i)
    if (want_max ? value_less(key(items[best]), key(items[i])) : value_less(key(items[i]), key(items[best]))) best = i;
  return items[best];
}

const std::unordered_map<std::string, FilterFn>& filters() {
  static const std::unordered_map<std::string, FilterFn> table = [] {
    std::unordered_map<std::string, FilterFn> t;
    t["length"] = [](const Value& v, const CallArgs&) { return Value(static_cast<int64_t>(v.length())); };
    t["count"] = t["length"];
    t["upper"] = [](const Value& v, const CallArgs&) { return Value(py_upper(v.str())); };
    t["lower"] = [](const Value& v, const CallArgs&) { return Value(py_lower(v.str())); };
    t["trim"] = [](const Value& v, const CallArgs& a) {
      return Value(py_strip(v.str(), arg_or(a, 0, "chars", Value::none()), true, true));
    };
    t["title"] = [](const Value& v, const CallArgs&) { return Value(jinja_title(v.str())); };
    t["capitalize"] = [](const Value& v, const CallArgs&) {
      std::vector<char32_t> cps = utf8_decode(v.str());
      for (size_t i = 0; i < cps.size(); ++i) cps[i] = i ? unicode_lower(cps[i]) : unicode_upper(cps[i]);
      return Value(utf8_encode(cps));
    };
    t["replace"] = [](const Value& v, const CallArgs& a) {
      const Value* old = a.get(0, "old");
      const Value* rep = a.get(1, "new");
      if (!old || !rep) throw eval_error("replace needs old and new");
      Value count = arg_or(a, 2, "count", Value::none());
      return Value(py_replace(v.str(), old->str(), rep->str(), count.is_none() ? -1 : count.as_int()));
    };
    t["join"] = [](const Value& v, const CallArgs& a) {
      std::string sep = arg_or(a, 0, "d", Value("")).str();
      Value attribute = attribute_arg(a, 1);
      std::string out;
      List items = v.iterate();
      for (size_t i = 0; i < items.size(); ++i)
        out += (i ? sep : "") + (attribute.is_none() ? items[i] : attr_path(items[i], attribute.str())).str();
      return Value(out);
    };
    t["first"] = [](const Value& v, const CallArgs&) {
      List items = v.iterate();
      return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
    };
    t["last"] = [](const Value& v, const CallArgs&) {
      List items = v.iterate();
      return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
    };
    t["default"] = [](const Value& v, const CallArgs& a) {
      Value dflt = arg_or(a, 0, "default_value", Value(""));
      bool boolean = arg_bool(a, 1, "boolean", false);
      return v.is_undefined() || (boolean && !v.truthy()) ? dflt : v;
    };
    t["d"] = t["default"];
    t["list"] = [](const Value& v, const CallArgs&) { return Value::list(v.iterate()); };
    t["items"] = [](const Value& v, const CallArgs&) {
      if (v.is_undefined()) return Value::list({});
      if (v.kind() != Kind::Dict || v.is_namespace()) throw eval_error("Can only get item pairs from a mapping.");
      List out;
      for (const auto& kv : v.as_dict().items) out.push_back(Value::list({Value(kv.first), kv.second}, true));
      return Value::list(std::move(out));
    };
    t["selectattr"] = [](const Value& v, const CallArgs& a) { return select_or_reject(v, a, true, true); };
    t["rejectattr"] = [](const Value& v, const CallArgs& a) { return select_or_reject(v, a, true, false); };
    t["select"] = [](const Value& v, const CallArgs& a) { return select_or_reject(v, a, false, true); };
    t["reject"] = [](const Value& v, const CallArgs& a) { return select_or_reject(v, a, false, false); };
    t["map"] = filter_map;
    t["tojson"] = [](const Value& v, const CallArgs& a) {
      return Value(python_json_dumps(v, arg_bool(a, 0, "ensure_ascii", false), arg_or(a, 1, "indent", Value::none()),
                                     arg_or(a, 2, "separators", Value::none()), arg_bool(a, 3, "sort_keys", false)));
    };
    t["string"] = [](const Value& v, const CallArgs&) { return v.is_markup() ? v : Value(v.str()); };
    t["int"] = filter_int;
    t["float"] = filter_float;
    t["safe"] = [](const Value& v, const CallArgs&) { return v.is_markup() ? v : Value::markup(v.str()); };
    t["escape"] = [](const Value& v, const CallArgs&) { return v.is_markup() ? v : Value::markup(html_escape(v.str())); };
    t["e"] = t["escape"];
    t["forceescape"] = [](const Value& v, const CallArgs&) { return Value::markup(html_escape(v.str())); };
    t["indent"] = filter_indent;
    t["unique"] = filter_unique;
    t["dictsort"] = filter_dictsort;
    t["sort"] = filter_sort;
    t["reverse"] = [](const Value& v, const CallArgs&) {
      if (v.is_string()) return value_slice(v, Value::none(), Value::none(), Value(-1));
      List items = v.iterate();
      std::reverse(items.begin(), items.end());
      return Value::list(std::move(items));
    };
    t["round"] = filter_round;
    t["abs"] = [](const Value& v, const CallArgs&) {
      if (v.kind() == Kind::Float) return Value(std::fabs(v.as_float()));
      if (v.is_number()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
      throw eval_error("bad operand type for abs(): '" + v.type_name() + "'");
    };
    t["batch"] = [](const Value& v, const CallArgs& a) {
      const Value* n = a.get(0, "linecount");
      if (!n || n->as_int() <= 0) throw eval_error("batch needs a positive linecount");
      const Value* fill = a.get(1, "fill_with");
      List out, cur;
      for (const auto& item : v.iterate()) {
        cur.push_back(item);
        if (static_cast<int64_t>(cur.size()) == n->as_int()) {
          out.push_back(Value::list(std::move(cur)));
          cur.clear();
        }
      }
      if (!cur.empty()) {
        if (fill && !fill->is_none())
          while (static_cast<int64_t>(cur.size()) < n->as_int()) cur.push_back(*fill);
        out.push_back(Value::list(std::move(cur)));
      }
      return Value::list(std::move(out));
    };
    t["sum"] = [](const Value& v, const CallArgs& a) {
      Value attribute = attribute_arg(a, 0);
      Value total = arg_or(a, 1, "start", Value(0));
      for (const auto& item : v.iterate())
        total = value_add(total, attribute.is_none() ? item : attr_path(item, attribute.str()));
      return total;
    };
    t["min"] = [](const Value& v, const CallArgs& a) { return filter_min_max(v, a, false); };
    t["max"] = [](const Value& v, const CallArgs& a) { return filter_min_max(v, a, true); };
    t["attr"] = [](const Value& v, const CallArgs& a) {
      const Value* n = a.get(0, "name");
      if (!n) throw eval_error("attr needs a name");
      return get_attribute(v, n->str());
    };
    t["wordcount"] = [](const Value& v, const CallArgs&) {
      int64_t n = 0;
      bool in_word = false;
      for (char32_t c : utf8_decode(v.str())) {
        bool w = unicode_is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
        if (w && !in_word) ++n;
        in_word = w;
      }
      return Value(n);
    };
    return t;
  }();
  return table;
}

bool is_integer(const Value& v) { return v.kind() == Kind::Int; }

const std::unordered_map<std::string, TestFn>& tests() {
  static const std::unordered_map<std::string, TestFn> table = [] {
    std::unordered_map<std::string, TestFn> t;
    auto need = [](const CallArgs& a, const char* test) -> const Value& {
      if (a.positional.empty()) throw eval_error(std::string("the '") + test + "' test needs an argument");
      return a.positional[0];
    };
    t["defined"] = [](const Value& v, const CallArgs&) { return !v.is_undefined(); };
    t["undefined"] = [](const Value& v, const CallArgs&) { return v.is_undefined(); };
    t["none"] = [](const Value& v, const CallArgs&) { return v.is_none(); };
    t["boolean"] = [](const Value& v, const CallArgs&) { return v.kind() == Kind::Bool; };
    t["true"] = [](const Value& v, const CallArgs&) { return v.kind() == Kind::Bool && v.as_bool(); };
    t["false"] = [](const Value& v, const CallArgs&) { return v.kind() == Kind::Bool && !v.as_bool(); };
    t["integer"] = [](const Value& v, const CallArgs&) { return is_integer(v); };
    t["float"] = [](const Value& v, const CallArgs&) { return v.kind() == Kind::Float; };
    t["number"] = [](const Value& v, const CallArgs&) { return v.is_number(); };
    t["string"] = [](const Value& v, const CallArgs&) { return v.is_string(); };
    t["mapping"] = [](const Value& v, const CallArgs&) { return v.kind() == Kind::Dict && !v.is_namespace(); };
    t["iterable"] = [](const Value& v, const CallArgs&) {
      return v.is_undefined() || v.is_string() || v.kind() == Kind::List || (v.kind() == Kind::Dict && !v.is_namespace());
    };
    t["sequence"] = [](const Value& v, const CallArgs&) {
      return v.is_string() || v.kind() == Kind::List || (v.kind() == Kind::Dict && !v.is_namespace());
    };
    t["callable"] = [](const Value& v, const CallArgs&) { return v.kind() == Kind::Function; };
    t["odd"] = [](const Value& v, const CallArgs&) {
      if (!v.is_number() || v.kind() == Kind::Float) throw eval_error("the 'odd' test needs an integer");
      return (v.as_int() % 2) != 0;
    };
    t["even"] = [](const Value& v, const CallArgs&) {
      if (!v.is_number() || v.kind() == Kind::Float) throw eval_error("the 'even' test needs an integer");
      return (v.as_int() % 2) == 0;
    };
    t["divisibleby"] = [need](const Value& v, const CallArgs& a) {
      const Value& n = need(a, "divisibleby");
      Value r = value_arith("%", v, n);
      return !r.truthy();
    };
    t["eq"] = [need](const Value& v, const CallArgs& a) { return value_equal(v, need(a, "eq")); };
    t["equalto"] = t["eq"];
    t["=="] = t["eq"];
    t["ne"] = [need](const Value& v, const CallArgs& a) { return !value_equal(v, need(a, "ne")); };
    t["!="] = t["ne"];
    t["lt"] = [need](const Value& v, const CallArgs& a) { return value_less(v, need(a, "lt")); };
    t["lessthan"] = t["lt"];
    t["<"] = t["lt"];
    t["le"] = [need](const Value& v, const CallArgs& a) { return value_less(v, need(a, "le")) || value_equal(v, need(a, "le")); };
    t["<="] = t["le"];
    t["gt"] = [need](const Value& v, const CallArgs& a) { return value_less(need(a, "gt"), v); };
    t["greaterthan"] = t["gt"];
    t[">"] = t["gt"];
    t["ge"] = [need](const Value& v, const CallArgs& a) { return value_less(need(a, "ge"), v) || value_equal(v, need(a, "ge")); };
    t[">="] = t["ge"];
    t["in"] = [need](const Value& v, const CallArgs& a) { return value_contains(need(a, "in"), v); };
    t["lower"] = [](const Value& v, const CallArgs&) {
      std::string s = v.str();
      return py_lower(s) == s && py_upper(s) != s;
    };
    t["upper"] = [](const Value& v, const CallArgs&) {
      std::string s = v.str();
      return py_upper(s) == s && py_lower(s) != s;
    };
    t["sameas"] = [need](const Value& v, const CallArgs& a) {
      const Value& o = need(a, "sameas");
      if (v.kind() != o.kind()) return false;
      switch (v.kind()) {
        case Kind::Undefined: return false;
        case Kind::None: return true;
        case Kind::Bool: return v.as_bool() == o.as_bool();
        case Kind::List: return &v.as_list() == &o.as_list();
        case Kind::Dict: return &v.as_dict() == &o.as_dict();
        case Kind::Function: return &v.as_function() == &o.as_function();
        case Kind::Int:
        case Kind::Float:
        case Kind::String: return value_equal(v, o);
      }
      return false;
    };
    t["escaped"] = [](const Value& v, const CallArgs&) { return v.is_markup(); };
    t["filter"] = [](const Value& v, const CallArgs&) { return v.is_string() && has_filter(v.as_string()); };
    t["test"] = [](const Value& v, const CallArgs&) { return v.is_string() && has_test(v.as_string()); };
    return t;
  }();
  return table;
}

}  // namespace

bool has_filter(const std::string& name) { return filters().count(name) != 0; }
bool has_test(const std::string& name) { return tests().count(name) != 0; }

Value apply_filter(const std::string& name, const Value& v, const CallArgs& args) {
  auto it = filters().find(name);
  if (it == filters().end()) throw eval_error("No filter named '" + name + "'.");
  return it->second(v, args);
}

bool apply_test(const std::string& name, const Value& v, const CallArgs& args) {
  auto it = tests().find(name);
  if (it == tests().end()) throw eval_error("No test named '" + name + "'.");
  return it->second(v, args);
}

}  // namespace alloy::llm::jinja
