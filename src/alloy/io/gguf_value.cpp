// GGUF metadata value helpers: the GGUF type code of a value, numeric conversion, printing.
#include <cstdio>
#include <limits>
#include <type_traits>

#include "alloy/io/gguf.h"

namespace alloy::io {

namespace {

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

template <typename T>
std::string scalar_to_string(const T& x) {
  if constexpr (std::is_same_v<T, std::string>) {
    std::string out = "\"";
    for (char c : x) {
      if (c == '"' || c == '\\') {
        out += '\\';
        out += c;
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
        out += buf;
      } else {
        out += c;
      }
    }
    return out + "\"";
  } else if constexpr (std::is_same_v<T, bool>) {
    return x ? "true" : "false";
  } else if constexpr (std::is_floating_point_v<T>) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", double(x));
    return buf;
  } else if constexpr (std::is_same_v<T, GGUFValue>) {
    return gguf_value_to_string(x);
  } else {
    return std::to_string(x);
  }
}

}  // namespace

GGUFValueType gguf_value_type(const GGUFValue& v) {
  return std::visit([](const auto& x) { return gguf_value_type_of<std::decay_t<decltype(x)>>(); },
                    v.variant());
}

std::optional<int64_t> gguf_to_int(const GGUFValue& v) {
  return std::visit(
      [](const auto& x) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool>) {
          return int64_t(x);
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          if (x > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
          return int64_t(x);
        } else if constexpr (std::is_integral_v<T>) {
          return int64_t(x);
        } else {
          return std::nullopt;
        }
      },
      v.variant());
}

std::optional<double> gguf_to_double(const GGUFValue& v) {
  return std::visit(
      [](const auto& x) -> std::optional<double> {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_arithmetic_v<T>)
          return double(x);
        else
          return std::nullopt;
      },
      v.variant());
}

std::string gguf_value_to_string(const GGUFValue& v, size_t max_elements) {
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (IsVector<T>::value) {
          std::string out = "[";
          for (size_t i = 0; i < x.size() && i < max_elements; ++i) {
            if (i) out += ", ";
            out += scalar_to_string(typename T::value_type(x[i]));
          }
          if (x.size() > max_elements) {
            out += ", ... (" + std::to_string(x.size()) + " elements)";
          }
          return out + "]";
        } else {
          return scalar_to_string(x);
        }
      },
      v.variant());
}

}  // namespace alloy::io
