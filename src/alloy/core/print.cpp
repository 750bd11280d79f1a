// NumPy-like printing: array([[1, 2],\n       [3, 4]], dtype=int64). Arrays of more than 1000
// elements are summarized: three items at each edge of every long axis, "..." between.
#include <cmath>
#include <iomanip>
#include <sstream>

#include "alloy/core/array.h"
#include "alloy/core/ops.h"

namespace alloy {
namespace {

std::string format_value(double v, Dtype t) {
  if (t == bool_) return v != 0 ? "True" : "False";
  if (!is_floating(t)) return is_unsigned(t) ? std::to_string(uint64_t(v)) : std::to_string(int64_t(v));
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os << std::setprecision(t == float64 ? 8 : 6) << v;
  std::string s = os.str();
  if (s.find_first_of(".en") == std::string::npos) s += ".";
  return s;
}

// Prints the block of `shown` at `dim`; axes that were cut (elided[dim]) get "..." in the middle.
void print_dims(std::ostream& os, const std::vector<std::string>& items, const Shape& shape,
                const std::vector<bool>& elided, size_t& pos, int dim, int indent) {
  if (dim == int(shape.size())) {
    os << items[pos++];
    return;
  }
  bool last_dim = dim + 1 == int(shape.size());
  std::string sep = last_dim ? ", " : "," + std::string(shape.size() - dim - 1, '\n') + std::string(indent + 1, ' ');
  os << "[";
  for (int64_t i = 0; i < shape[dim]; ++i) {
    if (elided[dim] && i == 3) os << "..." << sep;
    print_dims(os, items, shape, elided, pos, dim + 1, indent + 1);
    if (i + 1 < shape[dim]) os << sep;
  }
  os << "]";
}

}  // namespace

std::ostream& operator<<(std::ostream& os, array a) {
  a.eval();
  array shown = a;
  std::vector<bool> elided(a.ndim(), false);
  if (a.size() > 1000) {
    for (int d = 0; d < a.ndim(); ++d) {
      if (a.shape(d) <= 6) continue;
      Shape s1(a.ndim(), 0), e1 = shown.shape(), s2(a.ndim(), 0), e2 = shown.shape();
      e1[d] = 3;
      s2[d] = shown.shape(d) - 3;
      shown = concatenate({slice(shown, s1, e1), slice(shown, s2, e2)}, d);
      elided[d] = true;
    }
  }
  std::vector<std::string> items;
  size_t width = 0;
  for (double v : shown.to_vector<double>()) {
    items.push_back(format_value(v, a.dtype()));
    width = std::max(width, items.back().size());
  }
  for (auto& s : items) s = std::string(width - s.size(), ' ') + s;
  os << "array(";
  size_t pos = 0;
  if (a.ndim() == 0) os << items[0];
  else print_dims(os, items, shown.shape(), elided, pos, 0, 6);
  if (a.dtype() != float32 && a.dtype() != bool_) os << ", dtype=" << a.dtype();
  os << ")";
  return os;
}

}  // namespace alloy
