// Creation ops: full/zeros/ones, arange, linspace, eye, tri and triangle masks.
#include <cmath>

#include "alloy/core/ops_util.h"

namespace alloy {
using detail::fail;

namespace {
void check_shape(const Shape& shape, const char* op) {
  for (auto d : shape) {
    if (d < 0) fail(op, "negative dimension in shape ", shape_to_string(shape));
  }
}
}  // namespace

array full(const Shape& shape, array value, Dtype dtype, SD s) {
  check_shape(shape, "full");
  if (value.size() != 1) {
    // An array value is broadcast, then copied so the result owns dense memory.
    return copy(broadcast_to(astype(value, dtype, s), shape, s), s);
  }
  return array(shape, dtype, std::make_shared<Full>(to_stream(s), shape),
               {astype(reshape(value, {}, s), dtype, s)});
}
array full(const Shape& shape, array value, SD s) {
  Dtype t = value.dtype();
  return full(shape, std::move(value), t, s);
}
array zeros(const Shape& shape, Dtype dtype, SD s) { return full(shape, array(0, dtype), dtype, s); }
array ones(const Shape& shape, Dtype dtype, SD s) { return full(shape, array(1, dtype), dtype, s); }
array zeros_like(const array& a, SD s) { return zeros(a.shape(), a.dtype(), s); }
array ones_like(const array& a, SD s) { return ones(a.shape(), a.dtype(), s); }
array full_like(const array& a, array value, SD s) { return full(a.shape(), std::move(value), a.dtype(), s); }

array arange(double start, double stop, double step, Dtype dtype, SD s) {
  if (step == 0) fail("arange", "step must not be zero");
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    fail("arange", "start, stop and step must be finite");
  }
  if (dtype == bool_) fail("arange", "bool is not a valid dtype");
  double n = std::ceil((stop - start) / step);
  int64_t size = n > 0 ? int64_t(n) : 0;
  return array(Shape{size}, dtype, std::make_shared<Arange>(to_stream(s), start, step), {});
}
array arange(double start, double stop, Dtype dtype, SD s) { return arange(start, stop, 1.0, dtype, s); }
array arange(double stop, Dtype dtype, SD s) { return arange(0.0, stop, 1.0, dtype, s); }

array linspace(double start, double stop, int64_t num, Dtype dtype, SD s) {
  if (num < 0) fail("linspace", "num must be non-negative, got ", num);
  if (num == 1) return astype(array({start}), dtype, s);
  // start + i * step computed in float64, then cast, so the last value is exactly stop.
  double step = num > 1 ? (stop - start) / double(num - 1) : 0.0;
  array t = arange(0.0, double(num), 1.0, float64, s);
  array out = add(array(start, float64), multiply(t, array(step, float64), s), s);
  if (num > 1) out = slice_update(out, array({stop}), {num - 1}, {num}, s);
  return astype(out, dtype, s);
}

array tri(int64_t n, int64_t m, int64_t k, Dtype dtype, SD s) {
  if (n < 0 || m < 0) fail("tri", "n and m must be non-negative, got ", n, " and ", m);
  array rows = reshape(arange(0.0, double(n), 1.0, int64, s), {n, 1}, s);
  array cols = reshape(arange(0.0, double(m), 1.0, int64, s), {1, m}, s);
  return astype(less_equal(cols, add(rows, array(k, int64), s), s), dtype, s);
}

array eye(int64_t n, int64_t m, int64_t k, Dtype dtype, SD s) {
  if (n < 0 || m < 0) fail("eye", "n and m must be non-negative, got ", n, " and ", m);
  array rows = reshape(arange(0.0, double(n), 1.0, int64, s), {n, 1}, s);
  array cols = reshape(arange(0.0, double(m), 1.0, int64, s), {1, m}, s);
  return astype(equal(cols, add(rows, array(k, int64), s), s), dtype, s);
}
array eye(int64_t n, Dtype dtype, SD s) { return eye(n, n, 0, dtype, s); }
array identity(int64_t n, Dtype dtype, SD s) { return eye(n, n, 0, dtype, s); }

array tril(const array& a, int64_t k, SD s) {
  if (a.ndim() < 2) fail("tril", "needs an array with at least 2 dimensions, got shape ", shape_to_string(a.shape()));
  array mask = tri(a.shape(-2), a.shape(-1), k, bool_, s);
  return where(mask, a, zeros({}, a.dtype(), s), s);
}

array triu(const array& a, int64_t k, SD s) {
  if (a.ndim() < 2) fail("triu", "needs an array with at least 2 dimensions, got shape ", shape_to_string(a.shape()));
  array mask = tri(a.shape(-2), a.shape(-1), k - 1, bool_, s);
  return where(mask, zeros({}, a.dtype(), s), a, s);
}

}  // namespace alloy
