// Shape ops. Views (reshape where strides allow, transpose, slice, broadcast, squeeze,
// expand_dims, as_strided, flip) share the source buffer; the rest are composed from views,
// concatenate and slice_update.
#include <algorithm>
#include <numeric>

#include "alloy/core/ops_util.h"

namespace alloy {
using detail::fail;

array reshape(const array& a, Shape shape, SD s) {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) fail("reshape", "only one dimension can be -1, got ", shape_to_string(shape));
      infer = int(i);
    } else if (shape[i] < 0) {
      fail("reshape", "negative dimension in ", shape_to_string(shape));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || int64_t(a.size()) % known != 0) {
      fail("reshape", "cannot reshape an array of shape ", shape_to_string(a.shape()), " into ",
           shape_to_string(shape));
    }
    shape[infer] = int64_t(a.size()) / known;
  }
  if (shape_size(shape) != a.size()) {
    fail("reshape", "cannot reshape an array of shape ", shape_to_string(a.shape()), " (",
         a.size(), " elements) into ", shape_to_string(shape));
  }
  if (shape == a.shape()) return a;
  return array(shape, a.dtype(), std::make_shared<Reshape>(to_stream(s), shape), {a});
}

array flatten(const array& a, int start_axis, int end_axis, SD s) {
  if (a.ndim() == 0) return reshape(a, {1}, s);
  int st = normalize_axis(start_axis, a.ndim(), "flatten");
  int en = normalize_axis(end_axis, a.ndim(), "flatten");
  if (st > en) fail("flatten", "start_axis ", start_axis, " is after end_axis ", end_axis);
  Shape shape(a.shape().begin(), a.shape().begin() + st);
  int64_t n = 1;
  for (int i = st; i <= en; ++i) n *= a.shape(i);
  shape.push_back(n);
  shape.insert(shape.end(), a.shape().begin() + en + 1, a.shape().end());
  return reshape(a, shape, s);
}

array unflatten(const array& a, int axis, Shape shape, SD s) {
  int ax = normalize_axis(axis, a.ndim(), "unflatten");
  Shape out(a.shape().begin(), a.shape().begin() + ax);
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) infer = int(i);
    else known *= shape[i];
  }
  if (infer >= 0 && known != 0) shape[infer] = a.shape(ax) / known;
  if (shape_size(shape) != size_t(a.shape(ax))) {
    fail("unflatten", "shape ", shape_to_string(shape), " does not have ", a.shape(ax),
         " elements to fill axis ", axis);
  }
  out.insert(out.end(), shape.begin(), shape.end());
  out.insert(out.end(), a.shape().begin() + ax + 1, a.shape().end());
  return reshape(a, out, s);
}

array transpose(const array& a, Axes axes, SD s) {
  if (int(axes.size()) != a.ndim()) {
    fail("transpose", "got ", axes.size(), " axes for an array with ", a.ndim(), " dimensions");
  }
  std::vector<int> perm;
  for (int ax : axes) perm.push_back(normalize_axis(ax, a.ndim(), "transpose"));
  std::vector<int> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < a.ndim(); ++i) {
    if (sorted[i] != i) fail("transpose", "the axes are not a permutation of 0..", a.ndim() - 1);
  }
  bool identity = true;
  Shape shape;
  for (int i = 0; i < a.ndim(); ++i) {
    identity = identity && perm[i] == i;
    shape.push_back(a.shape(perm[i]));
  }
  if (identity) return a;
  return array(shape, a.dtype(), std::make_shared<Transpose>(to_stream(s), perm), {a});
}

array transpose(const array& a, SD s) {
  Axes axes(a.ndim());
  std::iota(axes.rbegin(), axes.rend(), 0);
  return transpose(a, axes, s);
}

array swapaxes(const array& a, int axis1, int axis2, SD s) {
  int a1 = normalize_axis(axis1, a.ndim(), "swapaxes");
  int a2 = normalize_axis(axis2, a.ndim(), "swapaxes");
  Axes axes = detail::all_axes(a.ndim());
  std::swap(axes[a1], axes[a2]);
  return transpose(a, axes, s);
}

array moveaxis(const array& a, int source, int destination, SD s) {
  int src = normalize_axis(source, a.ndim(), "moveaxis");
  int dst = normalize_axis(destination, a.ndim(), "moveaxis");
  Axes axes = detail::all_axes(a.ndim());
  axes.erase(axes.begin() + src);
  axes.insert(axes.begin() + dst, src);
  return transpose(a, axes, s);
}

array expand_dims(const array& a, Axes axes, SD s) {
  int out_ndim = a.ndim() + int(axes.size());
  auto norm = detail::normalize_axes(axes, out_ndim, "expand_dims");
  Shape shape = a.shape();
  for (int ax : norm) shape.insert(shape.begin() + ax, 1);
  return reshape(a, shape, s);
}
array expand_dims(const array& a, int axis, SD s) { return expand_dims(a, Axes{axis}, s); }

array squeeze(const array& a, Axes axes, SD s) {
  auto norm = detail::normalize_axes(axes, a.ndim(), "squeeze");
  Shape shape;
  for (int i = 0; i < a.ndim(); ++i) {
    if (std::binary_search(norm.begin(), norm.end(), i)) {
      if (a.shape(i) != 1) fail("squeeze", "axis ", i, " has size ", a.shape(i), ", not 1");
    } else {
      shape.push_back(a.shape(i));
    }
  }
  return reshape(a, shape, s);
}

array squeeze(const array& a, SD s) {
  Axes axes;
  for (int i = 0; i < a.ndim(); ++i) {
    if (a.shape(i) == 1) axes.push_back(i);
  }
  return squeeze(a, axes, s);
}

array broadcast_to(const array& a, const Shape& shape, SD s) {
  if (a.shape() == shape) return a;
  bool ok = shape.size() >= a.shape().size();
  for (size_t i = 0; ok && i < a.shape().size(); ++i) {
    int64_t d = a.shape()[a.ndim() - 1 - i];
    ok = d == 1 || d == shape[shape.size() - 1 - i];
  }
  if (!ok) {
    fail("broadcast_to", "cannot broadcast shape ", shape_to_string(a.shape()), " to ",
         shape_to_string(shape));
  }
  return array(shape, a.dtype(), std::make_shared<Broadcast>(to_stream(s), shape), {a});
}

std::vector<array> broadcast_arrays(const std::vector<array>& arrays, SD s) {
  Shape shape;
  for (auto& a : arrays) shape = broadcast_shapes(shape, a.shape());
  std::vector<array> out;
  for (auto& a : arrays) out.push_back(broadcast_to(a, shape, s));
  return out;
}

namespace {
// Python slice semantics on one axis: returns (start, length) for the normalized step.
std::pair<int64_t, int64_t> normalize_slice(int64_t start, int64_t stop, int64_t step, int64_t n) {
  if (step > 0) {
    start = start < 0 ? std::max<int64_t>(start + n, 0) : std::min(start, n);
    stop = stop < 0 ? std::max<int64_t>(stop + n, 0) : std::min(stop, n);
    return {start, stop > start ? (stop - start + step - 1) / step : 0};
  }
  start = start < 0 ? std::max<int64_t>(start + n, -1) : std::min(start, n - 1);
  stop = stop < 0 ? std::max<int64_t>(stop + n, -1) : std::min(stop, n - 1);
  return {start, start > stop ? (start - stop - step - 1) / (-step) : 0};
}

struct SliceSpec {
  Shape start, step, shape;
};

SliceSpec slice_spec(const array& a, const Shape& start, const Shape& stop, const Shape& strides,
                     const char* op) {
  if (int(start.size()) != a.ndim() || int(stop.size()) != a.ndim() ||
      int(strides.size()) != a.ndim()) {
    fail(op, "start, stop and strides need one entry per dimension (", a.ndim(), "), got ",
         start.size(), ", ", stop.size(), " and ", strides.size());
  }
  SliceSpec spec;
  for (int i = 0; i < a.ndim(); ++i) {
    if (strides[i] == 0) fail(op, "slice step must not be zero (axis ", i, ")");
    auto [st, len] = normalize_slice(start[i], stop[i], strides[i], a.shape(i));
    spec.start.push_back(len > 0 ? st : 0);
    spec.step.push_back(strides[i]);
    spec.shape.push_back(len);
  }
  return spec;
}
}  // namespace

array slice(const array& a, Shape start, Shape stop, Shape strides, SD s) {
  auto spec = slice_spec(a, start, stop, strides, "slice");
  if (spec.shape == a.shape() && std::all_of(spec.step.begin(), spec.step.end(), [](auto x) { return x == 1; })) {
    return a;
  }
  return array(spec.shape, a.dtype(), std::make_shared<Slice>(to_stream(s), spec.start, spec.step, spec.shape), {a});
}

array slice(const array& a, Shape start, Shape stop, SD s) {
  return slice(a, std::move(start), std::move(stop), Shape(a.ndim(), 1), s);
}

array slice_update(const array& a, const array& update, Shape start, Shape stop, Shape strides,
                   SD s) {
  auto spec = slice_spec(a, start, stop, strides, "slice_update");
  bool fits = true;
  try {
    fits = broadcast_shapes(update.shape(), spec.shape) == spec.shape;
  } catch (const std::invalid_argument&) {
    fits = false;
  }
  if (!fits) {
    fail("slice_update", "the update of shape ", shape_to_string(update.shape()),
         " does not broadcast to the slice shape ", shape_to_string(spec.shape));
  }
  array upd = broadcast_to(astype(update, a.dtype(), s), spec.shape, s);
  return array(a.shape(), a.dtype(), std::make_shared<SliceUpdate>(to_stream(s), spec.start, spec.step),
               {a, upd});
}

array slice_update(const array& a, const array& update, Shape start, Shape stop, SD s) {
  return slice_update(a, update, std::move(start), std::move(stop), Shape(a.ndim(), 1), s);
}

array slice_update_at(const array& a, const array& update, const array& start, std::vector<int> axes, SD s) {
  if (update.ndim() != a.ndim()) {
    fail("slice_update_at", "the update of shape ", shape_to_string(update.shape()), " must have the rank of ",
         shape_to_string(a.shape()));
  }
  for (int d = 0; d < a.ndim(); ++d) {
    if (update.shape(d) > a.shape(d)) {
      fail("slice_update_at", "the update of shape ", shape_to_string(update.shape()), " does not fit in ",
           shape_to_string(a.shape()));
    }
  }
  if (start.ndim() != 1 || start.shape(0) != int64_t(axes.size()) || !is_integral(start.dtype())) {
    fail("slice_update_at", "start must be ", axes.size(), " integers (one per axis), got ", start.dtype(), " ",
         shape_to_string(start.shape()));
  }
  std::vector<bool> seen(size_t(a.ndim()), false);
  for (int& ax : axes) {
    int n = ax < 0 ? ax + a.ndim() : ax;
    if (n < 0 || n >= a.ndim() || seen[size_t(n)]) {
      fail("slice_update_at", "axis ", ax, " is out of range or repeated for an array of rank ", a.ndim());
    }
    seen[size_t(n)] = true;
    ax = n;
  }
  return array(a.shape(), a.dtype(), std::make_shared<DynamicSliceUpdate>(to_stream(s), std::move(axes)),
               {a, astype(update, a.dtype(), s), astype(start, int32, s)});
}

array as_strided(const array& a, Shape shape, Strides strides, int64_t offset, SD s) {
  if (shape.size() != strides.size()) {
    fail("as_strided", "shape ", shape_to_string(shape), " and strides ", shape_to_string(strides),
         " differ in length");
  }
  // The view must stay inside the (contiguous copy of the) source.
  int64_t lo = offset, hi = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) fail("as_strided", "negative dimension in ", shape_to_string(shape));
    if (shape[i] == 0) { lo = 0; hi = -1; break; }
    int64_t ext = strides[i] * (shape[i] - 1);
    (ext < 0 ? lo : hi) += ext;
  }
  if (hi >= lo && (lo < 0 || hi >= int64_t(a.size()))) {
    fail("as_strided", "the view reaches elements [", lo, ", ", hi, "] outside the source's ",
         a.size(), " elements");
  }
  return array(shape, a.dtype(), std::make_shared<AsStrided>(to_stream(s), shape, strides, offset),
               {contiguous(a, s)});
}

array concatenate(const std::vector<array>& arrays, int axis, SD s) {
  if (arrays.empty()) fail("concatenate", "needs at least one array");
  int nd = arrays[0].ndim();
  if (nd == 0) fail("concatenate", "cannot concatenate 0-d arrays");
  int ax = normalize_axis(axis, nd, "concatenate");
  Shape shape = arrays[0].shape();
  Dtype t = arrays[0].dtype();
  for (size_t i = 1; i < arrays.size(); ++i) {
    const auto& b = arrays[i];
    bool ok = b.ndim() == nd;
    for (int d = 0; ok && d < nd; ++d) ok = d == ax || b.shape(d) == shape[d];
    if (!ok) {
      fail("concatenate", "array ", i, " has shape ", shape_to_string(b.shape()),
           " which does not match ", shape_to_string(arrays[0].shape()), " except on axis ", ax);
    }
    shape[ax] += b.shape(ax);
    t = promote_types(t, b.dtype());
  }
  if (arrays.size() == 1) return arrays[0];
  std::vector<array> inputs;
  for (auto& a : arrays) inputs.push_back(astype(a, t, s));
  return array(shape, t, std::make_shared<Concatenate>(to_stream(s), ax), inputs);
}

array stack(const std::vector<array>& arrays, int axis, SD s) {
  if (arrays.empty()) fail("stack", "needs at least one array");
  int ax = normalize_axis(axis, arrays[0].ndim() + 1, "stack");
  std::vector<array> expanded;
  for (auto& a : arrays) {
    if (a.shape() != arrays[0].shape()) {
      fail("stack", "all arrays need the same shape; got ", shape_to_string(arrays[0].shape()),
           " and ", shape_to_string(a.shape()));
    }
    expanded.push_back(expand_dims(a, ax, s));
  }
  if (expanded.size() == 1) return expanded[0];
  return concatenate(expanded, ax, s);
}

std::vector<array> split(const array& a, const Shape& indices, int axis, SD s) {
  int ax = normalize_axis(axis, a.ndim(), "split");
  std::vector<array> out;
  int64_t prev = 0, n = a.shape(ax);
  Shape bounds = indices;
  bounds.push_back(n);
  for (int64_t idx : bounds) {
    int64_t stop = std::clamp<int64_t>(idx < 0 ? idx + n : idx, 0, n);
    int64_t start = std::min(prev, stop);
    Shape st(a.ndim(), 0), en = a.shape();
    st[ax] = start;
    en[ax] = stop;
    out.push_back(slice(a, st, en, s));
    prev = std::max(prev, stop);
  }
  return out;
}

std::vector<array> split(const array& a, int num_splits, int axis, SD s) {
  int ax = normalize_axis(axis, a.ndim(), "split");
  if (num_splits <= 0 || a.shape(ax) % num_splits != 0) {
    fail("split", "axis ", axis, " of size ", a.shape(ax), " cannot be split into ", num_splits,
         " equal parts");
  }
  Shape indices;
  int64_t part = a.shape(ax) / num_splits;
  for (int i = 1; i < num_splits; ++i) indices.push_back(part * i);
  return split(a, indices, ax, s);
}

array tile(const array& a, Shape reps, SD s) {
  for (auto r : reps) {
    if (r < 0) fail("tile", "repetitions must be non-negative, got ", shape_to_string(reps));
  }
  int nd = std::max<int>(a.ndim(), int(reps.size()));
  Shape shape = a.shape();
  shape.insert(shape.begin(), nd - a.ndim(), 1);
  reps.insert(reps.begin(), nd - int(reps.size()), 1);
  // View (r0, d0, r1, d1, ...) by broadcasting, then merge pairs.
  Shape expanded, bshape, out;
  for (int i = 0; i < nd; ++i) {
    expanded.insert(expanded.end(), {1, shape[i]});
    bshape.insert(bshape.end(), {reps[i], shape[i]});
    out.push_back(reps[i] * shape[i]);
  }
  return reshape(broadcast_to(reshape(a, expanded, s), bshape, s), out, s);
}

array repeat(const array& a, int64_t repeats, int axis, SD s) {
  if (repeats < 0) fail("repeat", "repeats must be non-negative, got ", repeats);
  int ax = normalize_axis(axis, a.ndim(), "repeat");
  Shape expanded = a.shape();
  expanded.insert(expanded.begin() + ax + 1, 1);
  Shape bshape = expanded;
  bshape[ax + 1] = repeats;
  Shape out = a.shape();
  out[ax] *= repeats;
  return reshape(broadcast_to(reshape(a, expanded, s), bshape, s), out, s);
}

array repeat(const array& a, int64_t repeats, SD s) { return repeat(flatten(a, 0, -1, s), repeats, 0, s); }

array pad(const array& a, const std::vector<std::pair<int64_t, int64_t>>& pad_width, const array& value,
          PadMode mode, SD s) {
  std::vector<std::pair<int64_t, int64_t>> widths = pad_width;
  if (widths.size() == 1) widths.assign(a.ndim(), pad_width[0]);
  if (int(widths.size()) != a.ndim()) {
    fail("pad", "got ", pad_width.size(), " (before, after) pairs for an array with ", a.ndim(),
         " dimensions");
  }
  for (auto [lo, hi] : widths) {
    if (lo < 0 || hi < 0) fail("pad", "pad widths must be non-negative, got (", lo, ", ", hi, ")");
  }
  if (mode == PadMode::constant) {
    Shape shape = a.shape(), start, stop;
    for (int i = 0; i < a.ndim(); ++i) {
      shape[i] += widths[i].first + widths[i].second;
      start.push_back(widths[i].first);
      stop.push_back(widths[i].first + a.shape(i));
    }
    if (value.size() != 1) fail("pad", "the pad value must be a scalar");
    return slice_update(full(shape, value, a.dtype(), s), a, start, stop, s);
  }
  // Edge: concatenate broadcast copies of the first and last slice on each axis.
  array out = a;
  for (int i = 0; i < a.ndim(); ++i) {
    auto [lo, hi] = widths[i];
    if (lo == 0 && hi == 0) continue;
    if (out.shape(i) == 0) fail("pad", "edge padding needs a non-empty axis ", i);
    std::vector<array> parts;
    Shape st(a.ndim(), 0), en = out.shape();
    if (lo > 0) {
      en[i] = 1;
      Shape b = out.shape();
      b[i] = lo;
      parts.push_back(broadcast_to(slice(out, st, en, s), b, s));
    }
    parts.push_back(out);
    if (hi > 0) {
      st[i] = out.shape(i) - 1;
      en = out.shape();
      Shape b = out.shape();
      b[i] = hi;
      parts.push_back(broadcast_to(slice(out, st, en, s), b, s));
    }
    out = concatenate(parts, i, s);
  }
  return out;
}

array flip(const array& a, const Axes& axes, SD s) {
  auto norm = detail::normalize_axes(axes, a.ndim(), "flip");
  Shape start(a.ndim(), 0), stop = a.shape(), step(a.ndim(), 1);
  for (int ax : norm) {
    start[ax] = -1;
    stop[ax] = -a.shape(ax) - 1;
    step[ax] = -1;
  }
  return slice(a, start, stop, step, s);
}
array flip(const array& a, SD s) { return flip(a, detail::all_axes(a.ndim()), s); }

array roll(const array& a, int64_t shift, int axis, SD s) {
  int ax = normalize_axis(axis, a.ndim(), "roll");
  int64_t n = a.shape(ax);
  if (n == 0) return a;
  int64_t k = ((shift % n) + n) % n;
  if (k == 0) return a;
  auto parts = split(a, Shape{n - k}, ax, s);
  return concatenate({parts[1], parts[0]}, ax, s);
}
array roll(const array& a, int64_t shift, SD s) {
  return reshape(roll(flatten(a, 0, -1, s), shift, 0, s), a.shape(), s);
}

array diagonal(const array& a, int64_t offset, int axis1, int axis2, SD s) {
  if (a.ndim() < 2) fail("diagonal", "needs at least 2 dimensions, got shape ", shape_to_string(a.shape()));
  int a1 = normalize_axis(axis1, a.ndim(), "diagonal");
  int a2 = normalize_axis(axis2, a.ndim(), "diagonal");
  if (a1 == a2) fail("diagonal", "axis1 and axis2 must differ, both are ", a1);
  // Works on a row-contiguous source: the diagonal is a strided view of it.
  array c = contiguous(a, s);
  Strides rs = row_major_strides(a.shape());
  int64_t n1 = a.shape(a1), n2 = a.shape(a2);
  int64_t len = std::max<int64_t>(0, offset >= 0 ? std::min(n1, n2 - offset) : std::min(n1 + offset, n2));
  int64_t off = len > 0 ? (offset >= 0 ? offset * rs[a2] : -offset * rs[a1]) : 0;
  Shape shape;
  Strides strides;
  for (int i = 0; i < a.ndim(); ++i) {
    if (i == a1 || i == a2) continue;
    shape.push_back(a.shape(i));
    strides.push_back(rs[i]);
  }
  shape.push_back(len);
  strides.push_back(rs[a1] + rs[a2]);
  return as_strided(c, shape, strides, off, s);
}

array diag(const array& a, int64_t k, SD s) {
  if (a.ndim() == 2) return diagonal(a, k, 0, 1, s);
  if (a.ndim() != 1) fail("diag", "needs a 1-d or 2-d array, got shape ", shape_to_string(a.shape()));
  int64_t n = a.shape(0) + std::abs(k);
  array m = eye(n, n, k, bool_, s);
  // Entry (i, i + k) holds a[i] for k >= 0 (indexed by row); (j - k, j) holds a[j] for k < 0
  // (indexed by column).
  array vals = pad(a, {{0, std::abs(k)}}, array(0, a.dtype()), PadMode::constant, s);
  array rows = k >= 0 ? reshape(vals, {n, 1}, s) : reshape(vals, {1, n}, s);
  return where(m, rows, zeros({}, a.dtype(), s), s);
}

array trace(const array& a, int64_t offset, int axis1, int axis2, SD s) {
  return sum(diagonal(a, offset, axis1, axis2, s), -1, false, s);
}

std::vector<array> meshgrid(const std::vector<array>& arrays, bool sparse, const std::string& indexing,
                            SD s) {
  if (indexing != "xy" && indexing != "ij") fail("meshgrid", "indexing must be 'xy' or 'ij', got '", indexing, "'");
  int n = int(arrays.size());
  std::vector<array> outs;
  Shape full_shape;
  for (auto& a : arrays) {
    if (a.ndim() != 1) fail("meshgrid", "needs 1-d arrays, got shape ", shape_to_string(a.shape()));
    full_shape.push_back(a.shape(0));
  }
  if (indexing == "xy" && n >= 2) std::swap(full_shape[0], full_shape[1]);
  for (int i = 0; i < n; ++i) {
    Shape shape(n, 1);
    int pos = (indexing == "xy" && n >= 2 && i < 2) ? 1 - i : i;
    shape[pos] = arrays[i].shape(0);
    array r = reshape(arrays[i], shape, s);
    outs.push_back(sparse ? r : broadcast_to(r, full_shape, s));
  }
  return outs;
}

}  // namespace alloy
