// Reductions, scans and softmax.
#include <cmath>
#include <limits>

#include "alloy/core/ops_util.h"

namespace alloy {
using detail::fail;

namespace {

// The Reduce primitive keeps reduced axes as size 1; drop them unless keepdims.
array reduce(ReduceOp op, const array& a, const Axes& axes_in, bool keepdims, SD sd, const char* name) {
  Stream s = to_stream(sd);
  auto axes = axes_in.empty() ? detail::all_axes(a.ndim()) : detail::normalize_axes(axes_in, a.ndim(), name);
  Dtype out_t = a.dtype();
  array in = a;
  if (op == ReduceOp::any || op == ReduceOp::all) {
    out_t = bool_;
    in = astype(a, bool_, s);
  } else if (op == ReduceOp::sum || op == ReduceOp::prod) {
    // NumPy: small ints and bool accumulate in the platform int.
    if (a.dtype() == bool_ || a.dtype() == int8 || a.dtype() == int16 || a.dtype() == int32) out_t = int64;
    if (a.dtype() == uint8 || a.dtype() == uint16 || a.dtype() == uint32) out_t = uint64;
    in = astype(a, out_t, s);
  } else if (a.size() == 0) {
    fail(name, "cannot reduce an empty array of shape ", shape_to_string(a.shape()), " (no identity)");
  }
  Shape kept = a.shape();
  for (int ax : axes) kept[ax] = 1;
  array out = axes.empty() ? in : array(kept, out_t, std::make_shared<Reduce>(s, op, axes), {in});
  return keepdims ? out : squeeze(out, Axes(axes.begin(), axes.end()), s);
}

}  // namespace

#define ALLOY_REDUCE_OP(NAME, OP)                                                   \
  array NAME(const array& a, const Axes& axes, bool keepdims, SD s) {               \
    return reduce(OP, a, axes, keepdims, s, #NAME);                                 \
  }                                                                                 \
  array NAME(const array& a, bool keepdims, SD s) { return NAME(a, Axes{}, keepdims, s); } \
  array NAME(const array& a, int axis, bool keepdims, SD s) { return NAME(a, Axes{axis}, keepdims, s); }
ALLOY_REDUCE_OP(sum, ReduceOp::sum)
ALLOY_REDUCE_OP(prod, ReduceOp::prod)
ALLOY_REDUCE_OP(max, ReduceOp::max)
ALLOY_REDUCE_OP(min, ReduceOp::min)
ALLOY_REDUCE_OP(all, ReduceOp::all)
ALLOY_REDUCE_OP(any, ReduceOp::any)
#undef ALLOY_REDUCE_OP

namespace {
int64_t reduced_count(const array& a, const Axes& axes) {
  if (axes.empty()) return int64_t(a.size());
  int64_t n = 1;
  for (int ax : detail::normalize_axes(axes, a.ndim(), "mean")) n *= a.shape(ax);
  return n;
}
}  // namespace

array mean(const array& a, const Axes& axes, bool keepdims, SD s) {
  Dtype t = float_result_type(a.dtype());
  int64_t n = reduced_count(a, axes);
  array total = sum(astype(a, t, s), axes, keepdims, s);
  return multiply(total, array(n > 0 ? 1.0 / double(n) : std::nan(""), t), s);
}
array mean(const array& a, bool keepdims, SD s) { return mean(a, Axes{}, keepdims, s); }
array mean(const array& a, int axis, bool keepdims, SD s) { return mean(a, Axes{axis}, keepdims, s); }

array var(const array& a, const Axes& axes, bool keepdims, int ddof, SD s) {
  Dtype t = float_result_type(a.dtype());
  array x = astype(a, t, s);
  int64_t n = reduced_count(a, axes);
  array centered = subtract(x, mean(x, axes, true, s), s);
  array ss = sum(square(centered, s), axes, keepdims, s);
  double denom = double(n - ddof);
  return multiply(ss, array(denom > 0 ? 1.0 / denom : std::numeric_limits<double>::infinity(), t), s);
}
array var(const array& a, bool keepdims, int ddof, SD s) { return var(a, Axes{}, keepdims, ddof, s); }
array var(const array& a, int axis, bool keepdims, int ddof, SD s) { return var(a, Axes{axis}, keepdims, ddof, s); }
array std(const array& a, const Axes& axes, bool keepdims, int ddof, SD s) {
  return sqrt(var(a, axes, keepdims, ddof, s), s);
}
array std(const array& a, bool keepdims, int ddof, SD s) { return std(a, Axes{}, keepdims, ddof, s); }
array std(const array& a, int axis, bool keepdims, int ddof, SD s) { return std(a, Axes{axis}, keepdims, ddof, s); }

array logsumexp(const array& a, const Axes& axes, bool keepdims, SD s) {
  Dtype t = float_result_type(a.dtype());
  array x = astype(a, t, s);
  // Shift by the (gradient-stopped) max for stability; infinite maxima shift by 0.
  array m = stop_gradient(max(x, axes, true, s), s);
  m = where(isinf(m, s), zeros({}, t, s), m, s);
  array out = add(log(sum(exp(subtract(x, m, s), s), axes, true, s), s), m, s);
  if (keepdims) return out;
  return squeeze(out, axes.empty() ? detail::all_axes(a.ndim()) : Axes(axes), s);
}
array logsumexp(const array& a, bool keepdims, SD s) { return logsumexp(a, Axes{}, keepdims, s); }
array logsumexp(const array& a, int axis, bool keepdims, SD s) { return logsumexp(a, Axes{axis}, keepdims, s); }

namespace {
array arg_reduce(ArgReduceOp op, const array& a, int axis, bool keepdims, SD sd, const char* name) {
  Stream s = to_stream(sd);
  int ax = normalize_axis(axis, a.ndim(), name);
  if (a.shape(ax) == 0) fail(name, "cannot take ", name, " of an empty axis ", axis);
  Shape kept = a.shape();
  kept[ax] = 1;
  array out(kept, uint32, std::make_shared<ArgReduce>(s, op, ax), {a});
  return keepdims ? out : squeeze(out, Axes{ax}, s);
}
}  // namespace

array argmax(const array& a, int axis, bool keepdims, SD s) {
  return arg_reduce(ArgReduceOp::argmax, a, axis, keepdims, s, "argmax");
}
array argmin(const array& a, int axis, bool keepdims, SD s) {
  return arg_reduce(ArgReduceOp::argmin, a, axis, keepdims, s, "argmin");
}
array argmax(const array& a, bool keepdims, SD s) {
  array r = argmax(flatten(a, 0, -1, s), 0, false, s);
  return keepdims ? reshape(r, Shape(a.ndim(), 1), s) : r;
}
array argmin(const array& a, bool keepdims, SD s) {
  array r = argmin(flatten(a, 0, -1, s), 0, false, s);
  return keepdims ? reshape(r, Shape(a.ndim(), 1), s) : r;
}

namespace {
array scan(ScanOp op, const array& a, int axis, bool reverse, bool inclusive, SD sd, const char* name) {
  Stream s = to_stream(sd);
  int ax = normalize_axis(axis, a.ndim(), name);
  Dtype t = a.dtype();
  if (op == ScanOp::sum || op == ScanOp::prod) {
    if (t == bool_ || t == int8 || t == int16 || t == int32) t = int64;
    if (t == uint8 || t == uint16 || t == uint32) t = uint64;
  }
  return array(a.shape(), t, std::make_shared<Scan>(s, op, ax, reverse, inclusive), {astype(a, t, s)});
}
}  // namespace

array cumsum(const array& a, int axis, bool reverse, bool inclusive, SD s) {
  return scan(ScanOp::sum, a, axis, reverse, inclusive, s, "cumsum");
}
array cumprod(const array& a, int axis, bool reverse, bool inclusive, SD s) {
  return scan(ScanOp::prod, a, axis, reverse, inclusive, s, "cumprod");
}
array cummax(const array& a, int axis, bool reverse, bool inclusive, SD s) {
  return scan(ScanOp::max, a, axis, reverse, inclusive, s, "cummax");
}
array cummin(const array& a, int axis, bool reverse, bool inclusive, SD s) {
  return scan(ScanOp::min, a, axis, reverse, inclusive, s, "cummin");
}

array softmax(const array& a, int axis, SD sd) {
  Stream s = to_stream(sd);
  int ax = normalize_axis(axis, a.ndim(), "softmax");
  Dtype t = float_result_type(a.dtype());
  array x = astype(a, t, s);
  // The primitive works on the last axis; other axes are moved there and back (views).
  bool last = ax == a.ndim() - 1;
  if (!last) x = swapaxes(x, ax, -1, s);
  array out(x.shape(), t, std::make_shared<Softmax>(s), {x});
  return last ? out : swapaxes(out, ax, -1, s);
}

array softmax(const array& a, const Axes& axes, SD s) {
  if (axes.size() == 1) return softmax(a, axes[0], s);
  Dtype t = float_result_type(a.dtype());
  array x = astype(a, t, s);
  return exp(subtract(x, logsumexp(x, axes, true, s), s), s);
}

array log_softmax(const array& a, int axis, SD s) {
  Dtype t = float_result_type(a.dtype());
  array x = astype(a, t, s);
  return subtract(x, logsumexp(x, Axes{axis}, true, s), s);
}

}  // namespace alloy
