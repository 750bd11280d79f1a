// json.dumps as Python writes it: ", " and ": " separators (or "," and ": " with an indent),
// floats by repr, non-ASCII kept unless ensure_ascii, insertion order unless sort_keys.
#include <algorithm>

#include "alloy/llm/jinja/render.h"
#include "alloy/llm/jinja/unicode.h"

namespace alloy::llm::jinja {

namespace {

void dump_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (char32_t c : utf8_decode(s)) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        char buf[16];
        if (c < 0x20 || (ensure_ascii && c > 0x7e)) {
          if (c >= 0x10000) {
            char32_t v = c - 0x10000;
            snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
          } else {
            snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          }
          out += buf;
        } else {
          utf8_append(out, c);
        }
      }
    }
  }
  out += '"';
}

struct Dumper {
  bool ensure_ascii;
  bool indented;
  std::string indent;
  std::string item_sep, key_sep;
  bool sort_keys;

  void newline(std::string& out, int level) const {
    out += '\n';
    for (int i = 0; i < level; ++i) out += indent;
  }

  void dump(std::string& out, const Value& v, int level) const {
    switch (v.kind()) {
      case Kind::None: out += "null"; return;
      case Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
      case Kind::Int: out += std::to_string(v.as_int()); return;
      case Kind::Float: {
        double f = v.as_float();
        out += f != f ? "NaN" : f == 1.0 / 0.0 ? "Infinity" : f == -1.0 / 0.0 ? "-Infinity" : python_float_repr(f);
        return;
      }
      case Kind::String: dump_string(out, v.as_string(), ensure_ascii); return;
      case Kind::List: {
        const List& l = v.as_list();
        if (l.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < l.size(); ++i) {
          if (i) out += item_sep;
          if (indented) newline(out, level + 1);
          dump(out, l[i], level + 1);
        }
        if (indented) newline(out, level);
        out += ']';
        return;
      }
      case Kind::Dict: {
        if (v.is_namespace()) break;
        std::vector<const std::pair<std::string, Value>*> items;
        for (const auto& kv : v.as_dict().items) items.push_back(&kv);
        if (sort_keys)
          std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
        if (items.empty()) {
          out += "{}";
          return;
        }
        out += '{';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (indented) newline(out, level + 1);
          dump_string(out, items[i]->first, ensure_ascii);
          out += key_sep;
          dump(out, items[i]->second, level + 1);
        }
        if (indented) newline(out, level);
        out += '}';
        return;
      }
      case Kind::Undefined:
      case Kind::Function: break;
    }
    throw eval_error("Object of type " + v.type_name() + " is not JSON serializable");
  }
};

}  // namespace

std::string python_json_dumps(const Value& v, bool ensure_ascii, const Value& indent,
                              const Value& separators, bool sort_keys) {
  Dumper d{ensure_ascii, false, "", ", ", ": ", sort_keys};
  if (!indent.is_none() && !indent.is_undefined()) {
    d.indented = true;
    d.item_sep = ",";
    if (indent.is_string()) d.indent = indent.as_string();
    else if (indent.kind() == Kind::Int) d.indent = std::string(std::max<int64_t>(indent.as_int(), 0), ' ');
    else throw eval_error("tojson indent must be an int or a str");
  }
  if (!separators.is_none() && !separators.is_undefined()) {
    if (separators.kind() != Kind::List || separators.as_list().size() != 2 ||
        !separators.as_list()[0].is_string() || !separators.as_list()[1].is_string())
      throw eval_error("tojson separators must be a pair of strings");
    d.item_sep = separators.as_list()[0].as_string();
    d.key_sep = separators.as_list()[1].as_string();
  }
  std::string out;
  d.dump(out, v, 0);
  return out;
}

}  // namespace alloy::llm::jinja
