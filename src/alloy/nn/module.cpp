#include "alloy/nn/module.h"

#include <cxxabi.h>

#include <cctype>
#include <cstdlib>
#include <set>
#include <sstream>
#include <stdexcept>
#include <typeinfo>

#include "alloy/core/ops.h"
#include "alloy/io/io.h"

namespace alloy::nn {
namespace {

// Glob match over a whole string: '*' any run (dots included), '?' one character.
bool glob_match(const std::string& pattern, const std::string& text) {
  size_t p = 0, t = 0, star = std::string::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p, ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++, star_t = t;
    } else if (star != std::string::npos) {
      p = star + 1, t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string with_thousands(size_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace

template <typename F>
void Module::for_each_slot(const std::string& prefix, F&& f) const {
  for (const Slot& slot : slots_) f(prefix + slot.name, slot);
  for (const auto& [name, child] : children_) child->for_each_slot(prefix + name + ".", f);
}

NamedArrays Module::parameters() const {
  NamedArrays out;
  for_each_slot("", [&](const std::string& name, const Slot& s) {
    if (s.is_parameter) out.insert(name, *s.member);
  });
  return out;
}

NamedArrays Module::trainable_parameters() const {
  NamedArrays out;
  for_each_slot("", [&](const std::string& name, const Slot& s) {
    if (s.is_parameter && !s.frozen) out.insert(name, *s.member);
  });
  return out;
}

NamedArrays Module::buffers() const {
  NamedArrays out;
  for_each_slot("", [&](const std::string& name, const Slot& s) {
    if (!s.is_parameter) out.insert(name, *s.member);
  });
  return out;
}

NamedArrays Module::state() const {
  NamedArrays out;
  for_each_slot("", [&](const std::string& name, const Slot& s) { out.insert(name, *s.member); });
  return out;
}

void Module::update(const NamedArrays& values) {
  std::set<std::string> pending;
  for (const auto& item : values) pending.insert(item.first);
  for_each_slot("", [&](const std::string& name, const Slot& s) {
    if (!values.contains(name)) return;
    const array& v = values.at(name);
    if (v.shape() != s.member->shape()) {
      throw std::invalid_argument("[Module::update] '" + name + "' has shape " +
                                  shape_to_string(s.member->shape()) + " but the new value has " +
                                  shape_to_string(v.shape()));
    }
    if (s.is_parameter && !is_floating(v.dtype())) {
      throw std::invalid_argument("[Module::update] parameter '" + name + "' must be floating, got " +
                                  std::string(dtype_name(v.dtype())));
    }
    *s.member = v;
    pending.erase(name);
  });
  if (!pending.empty()) {
    throw std::invalid_argument("[Module::update] no parameter or buffer named '" + *pending.begin() +
                                "'");
  }
}

void Module::set_frozen(const std::vector<std::string>& patterns, bool frozen, const char* op) {
  std::vector<bool> used(patterns.size(), false);
  for_each_slot("", [&](const std::string& name, const Slot& s) {
    if (!s.is_parameter) return;
    bool match = patterns.empty();
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (glob_match(patterns[i], name)) match = used[i] = true;
    }
    if (match) const_cast<Slot&>(s).frozen = frozen;
  });
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (!used[i]) {
      throw std::invalid_argument(std::string("[") + op + "] the pattern '" + patterns[i] +
                                  "' matches no parameter");
    }
  }
}

void Module::freeze(const std::vector<std::string>& patterns) { set_frozen(patterns, true, "freeze"); }
void Module::unfreeze(const std::vector<std::string>& patterns) {
  set_frozen(patterns, false, "unfreeze");
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::set_dtype(Dtype dtype) {
  if (!is_floating(dtype)) {
    throw std::invalid_argument("[Module::set_dtype] " + std::string(dtype_name(dtype)) +
                                " is not a floating dtype");
  }
  for_each_slot("", [&](const std::string&, const Slot& s) {
    if (is_floating(s.member->dtype())) *s.member = astype(*s.member, dtype);
  });
}

void Module::save_weights(const std::string& path) const {
  NamedArrays st = state();
  if (ends_with(path, ".npz")) {
    io::save_npz(path, st.to_map());
  } else {
    io::save_safetensors(path, st.to_map());
  }
}

void Module::load_weights(const std::string& path, bool strict) {
  NamedArrays weights;
  auto add_all = [&](const std::unordered_map<std::string, array>& m) {
    std::set<std::string> sorted_names;
    for (const auto& item : m) sorted_names.insert(item.first);
    for (const auto& name : sorted_names) weights.insert(name, m.at(name));
  };
  if (ends_with(path, ".npz")) {
    add_all(io::load_npz(path));
  } else {
    add_all(io::load_safetensors(path).tensors);
  }
  try {
    load_weights(weights, strict);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(e.what()) + " (in " + path + ")");
  }
}

void Module::load_weights(const NamedArrays& weights, bool strict) {
  NamedArrays current = state();
  NamedArrays cast;
  for (const auto& [name, value] : weights) {
    if (!current.contains(name)) {
      if (strict) {
        throw std::invalid_argument("[load_weights] the weights hold '" + name +
                                    "', which this model does not have");
      }
      continue;
    }
    const array& target = current.at(name);
    if (value.shape() != target.shape()) {
      throw std::invalid_argument("[load_weights] '" + name + "' has shape " +
                                  shape_to_string(value.shape()) + " in the weights but " +
                                  shape_to_string(target.shape()) + " in the model");
    }
    cast.insert(name, value.dtype() == target.dtype() ? value : astype(value, target.dtype()));
  }
  if (strict) {
    for (const auto& item : current) {
      if (!weights.contains(item.first)) {
        throw std::invalid_argument("[load_weights] the weights lack '" + item.first + "'");
      }
    }
  }
  update(cast);
}

std::string Module::describe() const {
  int status = 0;
  const char* mangled = typeid(*this).name();
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string name = status == 0 && demangled ? demangled : mangled;
  std::free(demangled);
  auto colon = name.rfind("::");
  return colon == std::string::npos ? name : name.substr(colon + 2);
}

std::string Module::summary() const {
  std::ostringstream out;
  size_t total = element_count(parameters()), trainable = element_count(trainable_parameters());
  out << describe() << ": " << with_thousands(total) << " parameters";
  if (trainable != total) out << " (" << with_thousands(trainable) << " trainable)";
  out << "\n";
  // Depth-first listing: "  name: describe  count".
  struct Walker {
    std::ostringstream& out;
    void walk(const Module& m, const std::string& indent) {
      for (const auto& [name, child] : m.children()) {
        out << indent << name << ": " << child->describe() << "  "
            << with_thousands(element_count(child->parameters())) << "\n";
        walk(*child, indent + "  ");
      }
    }
  } walker{out};
  walker.walk(*this, "  ");
  return out.str();
}

Module& Module::module_at(const std::string& path) {
  Module* m = this;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    Module* next = nullptr;
    for (auto& [name, child] : m->children_) {
      if (name == part) next = child;
    }
    if (!next) throw std::invalid_argument("[Module::module_at] no submodule at '" + path + "'");
    m = next;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return *m;
}

void Module::check_new_name(const std::string& name) const {
  bool ok = !name.empty();
  for (char c : name) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  if (!ok) {
    throw std::invalid_argument("[Module] '" + name +
                                "' is not a valid name (letters, digits and '_' only)");
  }
  for (const Slot& s : slots_) {
    if (s.name == name) throw std::invalid_argument("[Module] '" + name + "' is registered twice");
  }
  for (const auto& child : children_) {
    if (child.first == name) throw std::invalid_argument("[Module] '" + name + "' is registered twice");
  }
}

void Module::register_parameter(const std::string& name, array& member) {
  check_new_name(name);
  if (!is_floating(member.dtype())) {
    throw std::invalid_argument("[Module] parameter '" + name + "' must be floating, got " +
                                std::string(dtype_name(member.dtype())));
  }
  slots_.push_back({name, &member, true});
}

void Module::register_buffer(const std::string& name, array& member) {
  check_new_name(name);
  slots_.push_back({name, &member, false});
}

void Module::make_buffer(const std::string& name) {
  for (Slot& s : slots_) {
    if (s.name == name) {
      s.is_parameter = false;
      s.frozen = false;
      return;
    }
  }
  throw std::invalid_argument("[Module::make_buffer] no parameter named '" + name + "'");
}

void Module::register_module(const std::string& name, Module& child) {
  check_new_name(name);
  children_.emplace_back(name, &child);
}

}  // namespace alloy::nn
