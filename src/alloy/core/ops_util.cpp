#include "alloy/core/ops_util.h"

#include <algorithm>
#include <numeric>

namespace alloy {

int normalize_axis(int axis, int ndim, const char* op) {
  int a = axis < 0 ? axis + ndim : axis;
  if (a < 0 || a >= ndim) {
    detail::fail(op, "axis ", axis, " is out of range for an array with ", ndim, " dimensions");
  }
  return a;
}

std::string shape_to_string(const Shape& shape) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) os << ",";
  os << ")";
  return os.str();
}

Shape broadcast_shapes(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) {
      detail::fail("broadcast", "shapes ", shape_to_string(a), " and ", shape_to_string(b),
                   " cannot be broadcast together");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace detail {

namespace {
Dtype weak_with_strong(Dtype weak, Dtype strong) {
  if (is_floating(weak)) return is_floating(strong) ? strong : float32;
  if (is_integral(weak)) return strong == bool_ ? weak : strong;
  return strong;  // weak bool
}
}  // namespace

Dtype result_type(const array& a, const array& b) {
  if (a.is_weak() && !b.is_weak()) return weak_with_strong(a.dtype(), b.dtype());
  if (b.is_weak() && !a.is_weak()) return weak_with_strong(b.dtype(), a.dtype());
  return promote_types(a.dtype(), b.dtype());
}

std::pair<array, array> broadcast_pair(const array& a, const array& b, Dtype dtype, Stream s,
                                       const char* op) {
  Shape shape;
  try {
    shape = broadcast_shapes(a.shape(), b.shape());
  } catch (const std::invalid_argument&) {
    fail(op, "shapes ", shape_to_string(a.shape()), " and ", shape_to_string(b.shape()),
         " cannot be broadcast together");
  }
  return {broadcast_to(astype(a, dtype, s), shape, s), broadcast_to(astype(b, dtype, s), shape, s)};
}

std::vector<int> normalize_axes(const Axes& axes, int ndim, const char* op) {
  std::vector<int> out;
  for (int a : axes) out.push_back(normalize_axis(a, ndim, op));
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end()) fail(op, "repeated axis in the axes list");
  return out;
}

std::vector<int> all_axes(int ndim) {
  std::vector<int> out(ndim);
  std::iota(out.begin(), out.end(), 0);
  return out;
}

}  // namespace detail
}  // namespace alloy
