#include "args.h"

#include <cstdlib>

namespace alloy::cli {

Args::Args(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) raw_.emplace_back(argv[i]);
  used_.assign(raw_.size(), false);
}

std::optional<std::string> Args::value(std::initializer_list<const char*> names) {
  for (size_t i = 0; i < raw_.size(); ++i) {
    for (const char* n : names) {
      std::string name(n);
      if (raw_[i] == name) {
        if (i + 1 >= raw_.size()) throw usage_error(name + " needs a value");
        used_[i] = used_[i + 1] = true;
        return raw_[i + 1];
      }
      if (raw_[i].rfind(name + "=", 0) == 0) {
        used_[i] = true;
        return raw_[i].substr(name.size() + 1);
      }
    }
  }
  return std::nullopt;
}

std::string Args::required(std::initializer_list<const char*> names, const char* what) {
  auto v = value(names);
  if (!v) throw usage_error(std::string("missing ") + *names.begin() + " " + what);
  return *v;
}

int64_t Args::integer(std::initializer_list<const char*> names, int64_t fallback) {
  auto v = value(names);
  if (!v) return fallback;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0') throw usage_error(std::string(*names.begin()) + " needs an integer, got '" + *v + "'");
  return x;
}

double Args::real(std::initializer_list<const char*> names, double fallback) {
  auto v = value(names);
  if (!v) return fallback;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0') throw usage_error(std::string(*names.begin()) + " needs a number, got '" + *v + "'");
  return x;
}

bool Args::flag(std::initializer_list<const char*> names) {
  for (size_t i = 0; i < raw_.size(); ++i)
    for (const char* n : names)
      if (raw_[i] == n) {
        used_[i] = true;
        return true;
      }
  return false;
}

std::vector<std::string> Args::finish() const {
  std::vector<std::string> positional;
  for (size_t i = 0; i < raw_.size(); ++i) {
    if (used_[i]) continue;
    if (raw_[i].size() > 1 && raw_[i][0] == '-') throw usage_error("unknown option " + raw_[i]);
    positional.push_back(raw_[i]);
  }
  return positional;
}

}  // namespace alloy::cli
