#include "alloy/core/dtype.h"

#include <algorithm>

namespace alloy {

size_t size_of(Dtype t) {
  return dispatch_dtype(t, [](auto v) { return sizeof(v); });
}

const char* dtype_name(Dtype t) {
  switch (t) {
    case Dtype::bool_: return "bool";
    case Dtype::uint8: return "uint8";
    case Dtype::uint16: return "uint16";
    case Dtype::uint32: return "uint32";
    case Dtype::uint64: return "uint64";
    case Dtype::int8: return "int8";
    case Dtype::int16: return "int16";
    case Dtype::int32: return "int32";
    case Dtype::int64: return "int64";
    case Dtype::float16: return "float16";
    case Dtype::bfloat16: return "bfloat16";
    case Dtype::float32: return "float32";
    case Dtype::float64: return "float64";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, Dtype t) { return os << dtype_name(t); }

namespace {
// Rank within a kind; widening picks the larger rank.
int int_bits(Dtype t) { return int(size_of(t)) * 8; }
Dtype signed_with_bits(int bits) {
  switch (bits) {
    case 8: return int8;
    case 16: return int16;
    case 32: return int32;
    default: return int64;
  }
}
}  // namespace

Dtype promote_types(Dtype a, Dtype b) {
  if (a == b) return a;
  if (a == bool_) return b;
  if (b == bool_) return a;
  bool fa = is_floating(a), fb = is_floating(b);
  if (fa && fb) {
    if ((a == float16 && b == bfloat16) || (a == bfloat16 && b == float16)) return float32;
    return size_of(a) >= size_of(b) ? a : b;
  }
  if (fa) return a;
  if (fb) return b;
  // Both integers.
  if (is_unsigned(a) == is_unsigned(b)) return size_of(a) >= size_of(b) ? a : b;
  Dtype u = is_unsigned(a) ? a : b;
  Dtype s = is_unsigned(a) ? b : a;
  if (int_bits(s) > int_bits(u)) return s;
  if (u == uint64) return float32;
  return signed_with_bits(int_bits(u) * 2);
}

}  // namespace alloy
