// Indexing and sorting ops. Four primitives do the indexing work (Gather, Scatter, GatherAxis,
// ScatterAxis) and one the sorting (Sort); take, boolean_mask and topk are compositions of them.
// Index arrays may have any integer dtype and any layout; negative indices count from the end.
// Whether an index is in range is only known at eval time, so the kernels check it and eval()
// throws std::out_of_range ("[take] index 7 is out of range for axis 0 of size 5").
#include <limits>

#include "alloy/core/ops_util.h"

namespace alloy {
using detail::fail;

namespace {

// Gather under the name "take", so that index errors name the op the user called.
class Take final : public Gather {
 public:
  using Gather::Gather;
  std::string name() const override { return "take"; }
};

void check_index_dtype(const array& idx, const char* op) {
  if (idx.dtype() == bool_) {
    fail(op, "indices must have an integer dtype, got bool (use boolean_mask to select with a mask)");
  }
  if (!is_integral(idx.dtype())) fail(op, "indices must have an integer dtype, got ", idx.dtype());
}

// The common shape of the index arrays (the index shape of gather/scatter).
Shape index_shape(const std::vector<array>& indices, const char* op) {
  Shape shape;
  for (auto& idx : indices) {
    check_index_dtype(idx, op);
    try {
      shape = broadcast_shapes(shape, idx.shape());
    } catch (const std::invalid_argument&) {
      std::ostringstream shapes;
      for (size_t i = 0; i < indices.size(); ++i) shapes << (i ? ", " : "") << shape_to_string(indices[i].shape());
      fail(op, "the index arrays of shapes ", shapes.str(), " cannot be broadcast together");
    }
  }
  return shape;
}

// One normalized axis per index array; order matters (axes[k] pairs with indices[k]).
std::vector<int> index_axes(const array& a, const std::vector<array>& indices, const Axes& axes,
                            const char* op) {
  if (indices.size() != axes.size()) {
    fail(op, "got ", indices.size(), " index arrays for ", axes.size(), " axes; they must match");
  }
  std::vector<int> out;
  for (int ax : axes) {
    int n = normalize_axis(ax, a.ndim(), op);
    for (int prev : out) {
      if (prev == n) fail(op, "axis ", n, " is indexed twice");
    }
    out.push_back(n);
  }
  return out;
}

std::vector<array> broadcast_all(const std::vector<array>& arrays, const Shape& shape, Stream s) {
  std::vector<array> out;
  for (auto& a : arrays) out.push_back(broadcast_to(a, shape, s));
  return out;
}

array scatter_impl(ScatterOp op, const array& a, const std::vector<array>& indices,
                   const array& updates, const Axes& axes_in, SD sd, const char* name) {
  Stream s = to_stream(sd);
  auto axes = index_axes(a, indices, axes_in, name);
  Shape idx_shape = index_shape(indices, name);
  // updates: (idx_shape..., slice...) with one slice dim per dim of a.
  int idx_nd = int(idx_shape.size());
  if (updates.ndim() != idx_nd + a.ndim()) {
    fail(name, "updates of shape ", shape_to_string(updates.shape()), " must have ", idx_nd + a.ndim(),
         " dimensions: the index shape ", shape_to_string(idx_shape), " followed by one slice dimension per "
         "dimension of the array of shape ", shape_to_string(a.shape()));
  }
  Shape full_shape = idx_shape;
  for (int d = 0; d < idx_nd; ++d) {
    int64_t u = updates.shape(d);
    if (u != idx_shape[d] && u != 1) {
      fail(name, "updates of shape ", shape_to_string(updates.shape()), " do not match the index shape ",
           shape_to_string(idx_shape));
    }
  }
  for (int d = 0; d < a.ndim(); ++d) {
    int64_t u = updates.shape(idx_nd + d);
    if (u > a.shape(d)) {
      fail(name, "the update slice of shape ", shape_to_string(Shape(updates.shape().begin() + idx_nd, updates.shape().end())),
           " is larger than the array of shape ", shape_to_string(a.shape()), " on axis ", d);
    }
    full_shape.push_back(u);
  }
  std::vector<array> inputs{a};
  for (auto& idx : broadcast_all(indices, idx_shape, s)) inputs.push_back(idx);
  inputs.push_back(broadcast_to(astype(updates, a.dtype(), s), full_shape, s));
  return array(a.shape(), a.dtype(), std::make_shared<Scatter>(s, op, axes), inputs);
}

array sort_impl(SortKind kind, const array& a, int axis, int kth, SD sd, const char* name) {
  Stream s = to_stream(sd);
  int ax = normalize_axis(axis, a.ndim(), name);
  int64_t n = a.shape(ax);
  bool arg = kind == SortKind::argsort || kind == SortKind::argpartition;
  if (arg && n > int64_t(std::numeric_limits<uint32_t>::max())) {
    fail(name, "axis ", axis, " has ", n, " elements; uint32 indices cover at most 2^32 - 1");
  }
  int k = 0;
  if (kind == SortKind::partition || kind == SortKind::argpartition) {
    int64_t kk = kth < 0 ? kth + n : kth;
    if (kk < 0 || kk >= n) fail(name, "kth ", kth, " is out of range for axis ", axis, " of size ", n);
    k = int(kk);
  }
  return array(a.shape(), arg ? uint32 : a.dtype(), std::make_shared<Sort>(s, kind, ax, k), {a});
}

}  // namespace

// ---------- gather / scatter ----------
array gather(const array& a, const std::vector<array>& indices, const Axes& axes_in,
             const Shape& slice_sizes, SD sd) {
  Stream s = to_stream(sd);
  auto axes = index_axes(a, indices, axes_in, "gather");
  Shape idx_shape = index_shape(indices, "gather");
  if (int(slice_sizes.size()) != a.ndim()) {
    fail("gather", "slice_sizes ", shape_to_string(slice_sizes), " needs one entry per dimension of the array of shape ",
         shape_to_string(a.shape()));
  }
  for (int d = 0; d < a.ndim(); ++d) {
    if (slice_sizes[d] < 0 || slice_sizes[d] > a.shape(d)) {
      fail("gather", "slice size ", slice_sizes[d], " on axis ", d, " is outside [0, ", a.shape(d),
           "] for the array of shape ", shape_to_string(a.shape()));
    }
  }
  Shape out_shape = idx_shape;
  out_shape.insert(out_shape.end(), slice_sizes.begin(), slice_sizes.end());
  std::vector<array> inputs{a};
  for (auto& idx : broadcast_all(indices, idx_shape, s)) inputs.push_back(idx);
  return array(out_shape, a.dtype(), std::make_shared<Gather>(s, axes, slice_sizes), inputs);
}

array scatter(const array& a, const std::vector<array>& indices, const array& updates, const Axes& axes, SD s) {
  return scatter_impl(ScatterOp::none, a, indices, updates, axes, s, "scatter");
}
array scatter_add(const array& a, const std::vector<array>& indices, const array& updates, const Axes& axes,
                  SD s) {
  return scatter_impl(ScatterOp::sum, a, indices, updates, axes, s, "scatter_add");
}
array scatter_max(const array& a, const std::vector<array>& indices, const array& updates, const Axes& axes,
                  SD s) {
  return scatter_impl(ScatterOp::max, a, indices, updates, axes, s, "scatter_max");
}
array scatter_min(const array& a, const std::vector<array>& indices, const array& updates, const Axes& axes,
                  SD s) {
  return scatter_impl(ScatterOp::min, a, indices, updates, axes, s, "scatter_min");
}
array scatter_prod(const array& a, const std::vector<array>& indices, const array& updates, const Axes& axes,
                   SD s) {
  return scatter_impl(ScatterOp::prod, a, indices, updates, axes, s, "scatter_prod");
}

// ---------- take ----------
array take(const array& a, const array& indices, int axis, SD sd) {
  Stream s = to_stream(sd);
  check_index_dtype(indices, "take");
  int ax = normalize_axis(axis, a.ndim(), "take");
  if (a.shape(ax) == 0 && indices.size() > 0) {
    fail("take", "cannot take ", indices.size(), " elements from the empty axis ", axis, " of shape ",
         shape_to_string(a.shape()));
  }
  // gather gives (idx..., a[:ax]..., 1, a[ax+1:]...); drop the 1 and move idx dims to ax.
  Shape slice = a.shape();
  slice[ax] = a.shape(ax) == 0 ? 0 : 1;
  Shape g_shape = indices.shape();
  g_shape.insert(g_shape.end(), slice.begin(), slice.end());
  array g(g_shape, a.dtype(), std::make_shared<Take>(s, std::vector<int>{ax}, slice), {a, indices});
  int nd_i = indices.ndim();
  Shape squeezed = indices.shape();
  for (int d = 0; d < a.ndim(); ++d) {
    if (d != ax) squeezed.push_back(a.shape(d));
  }
  array out = reshape(g, squeezed, s);
  if (ax == 0 || nd_i == 0) return out;
  Axes perm;
  for (int d = 0; d < ax; ++d) perm.push_back(nd_i + d);
  for (int d = 0; d < nd_i; ++d) perm.push_back(d);
  for (int d = nd_i + ax; d < int(squeezed.size()); ++d) perm.push_back(d);
  return transpose(out, perm, s);
}

array take(const array& a, const array& indices, SD s) { return take(flatten(a, 0, -1, s), indices, 0, s); }

// ---------- along an axis ----------
array take_along_axis(const array& a, const array& indices, int axis, SD sd) {
  Stream s = to_stream(sd);
  check_index_dtype(indices, "take_along_axis");
  int ax = normalize_axis(axis, a.ndim(), "take_along_axis");
  if (indices.ndim() != a.ndim()) {
    fail("take_along_axis", "indices of shape ", shape_to_string(indices.shape()), " must have as many dimensions as ",
         "the array of shape ", shape_to_string(a.shape()));
  }
  // The other dims broadcast together (NumPy).
  Shape a_shape = a.shape(), i_shape = indices.shape();
  for (int d = 0; d < a.ndim(); ++d) {
    if (d == ax) continue;
    int64_t x = a.shape(d), y = indices.shape(d);
    if (x != y && x != 1 && y != 1) {
      fail("take_along_axis", "indices of shape ", shape_to_string(indices.shape()), " do not broadcast with ",
           "the array of shape ", shape_to_string(a.shape()), " outside axis ", ax);
    }
    a_shape[d] = i_shape[d] = x == 1 ? y : x;
  }
  if (a.shape(ax) == 0 && shape_size(i_shape) > 0) {
    fail("take_along_axis", "cannot take elements from the empty axis ", axis, " of shape ", shape_to_string(a.shape()));
  }
  return array(i_shape, a.dtype(), std::make_shared<GatherAxis>(s, ax),
               {broadcast_to(a, a_shape, s), broadcast_to(indices, i_shape, s)});
}

array put_along_axis(const array& a, const array& indices, const array& values, int axis, SD sd) {
  Stream s = to_stream(sd);
  check_index_dtype(indices, "put_along_axis");
  int ax = normalize_axis(axis, a.ndim(), "put_along_axis");
  if (indices.ndim() != a.ndim()) {
    fail("put_along_axis", "indices of shape ", shape_to_string(indices.shape()), " must have as many dimensions as ",
         "the array of shape ", shape_to_string(a.shape()));
  }
  // Indices broadcast to a's shape outside `axis`; values broadcast to the indices.
  Shape i_shape = a.shape();
  i_shape[ax] = indices.shape(ax);
  for (int d = 0; d < a.ndim(); ++d) {
    if (d != ax && indices.shape(d) != a.shape(d) && indices.shape(d) != 1) {
      fail("put_along_axis", "indices of shape ", shape_to_string(indices.shape()), " do not broadcast to ",
           "the array of shape ", shape_to_string(a.shape()), " outside axis ", ax);
    }
  }
  if (a.shape(ax) == 0 && shape_size(i_shape) > 0) {
    fail("put_along_axis", "cannot put elements into the empty axis ", axis, " of shape ", shape_to_string(a.shape()));
  }
  bool fits = values.ndim() <= int(i_shape.size());
  for (int d = 0; fits && d < values.ndim(); ++d) {
    int64_t v = values.shape(values.ndim() - 1 - d);
    fits = v == 1 || v == i_shape[i_shape.size() - 1 - d];
  }
  if (!fits) {
    fail("put_along_axis", "values of shape ", shape_to_string(values.shape()), " do not broadcast to the ",
         "index shape ", shape_to_string(i_shape));
  }
  return array(a.shape(), a.dtype(), std::make_shared<ScatterAxis>(s, ScatterOp::none, ax),
               {a, broadcast_to(indices, i_shape, s), broadcast_to(astype(values, a.dtype(), s), i_shape, s)});
}

// ---------- masks (data-dependent shapes: these evaluate) ----------
namespace {
// Positions of the nonzero elements of `a` (row-major), evaluated now.
std::vector<int64_t> nonzero_positions(const array& a) {
  std::vector<uint8_t> flags(a.size());
  if (!flags.empty()) astype(a, bool_).copy_elements_to(flags.data(), uint8);
  std::vector<int64_t> out;
  for (size_t i = 0; i < flags.size(); ++i) {
    if (flags[i]) out.push_back(int64_t(i));
  }
  return out;
}
}  // namespace

array boolean_mask(const array& a, const array& mask, SD sd) {
  Stream s = to_stream(sd);
  if (mask.dtype() != bool_) fail("boolean_mask", "the mask must have dtype bool, got ", mask.dtype());
  bool fits = mask.ndim() <= a.ndim();
  for (int d = 0; fits && d < mask.ndim(); ++d) {
    int64_t m = mask.shape(mask.ndim() - 1 - d);
    fits = m == 1 || m == a.shape(a.ndim() - 1 - d);
  }
  if (!fits) {
    fail("boolean_mask", "the mask of shape ", shape_to_string(mask.shape()), " does not broadcast to the array ",
         "of shape ", shape_to_string(a.shape()));
  }
  auto pos = nonzero_positions(broadcast_to(mask, a.shape(), s));
  array idx(pos, Shape{int64_t(pos.size())}, int64);
  return take(flatten(a, 0, -1, s), idx, 0, s);
}

array flatnonzero(const array& a, SD) {
  auto pos = nonzero_positions(a);
  return array(pos, Shape{int64_t(pos.size())}, int64);
}

// ---------- sorting ----------
array sort(const array& a, int axis, SD s) { return sort_impl(SortKind::sort, a, axis, 0, s, "sort"); }
array argsort(const array& a, int axis, SD s) { return sort_impl(SortKind::argsort, a, axis, 0, s, "argsort"); }
array partition(const array& a, int kth, int axis, SD s) {
  return sort_impl(SortKind::partition, a, axis, kth, s, "partition");
}
array argpartition(const array& a, int kth, int axis, SD s) {
  return sort_impl(SortKind::argpartition, a, axis, kth, s, "argpartition");
}

// The k largest along `axis`, in descending order (NaNs count as largest, as in NumPy's sort).
// A partition brings the k largest to the end first, so only those k are fully sorted.
array topk(const array& a, int k, int axis, SD sd) {
  Stream s = to_stream(sd);
  int ax = normalize_axis(axis, a.ndim(), "topk");
  int64_t n = a.shape(ax);
  if (k < 0 || k > n) fail("topk", "k = ", k, " is out of range for axis ", axis, " of size ", n);
  Shape start(a.ndim(), 0), stop = a.shape();
  if (k == 0) {
    stop[ax] = 0;
    return slice(a, start, stop, s);
  }
  array top = a;
  if (k < n) {
    start[ax] = n - k;
    top = slice(partition(a, int(n - k), ax, s), start, stop, s);
  }
  return flip(sort(top, ax, s), Axes{ax}, s);
}

}  // namespace alloy
