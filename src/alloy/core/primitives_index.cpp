// Derivative rules of the indexing and sorting primitives, written with ops so they run on any
// backend and can be differentiated again. A gather's vjp is a scatter-add into zeros and a
// scatter's is a gather; a sort's vjp scatters the cotangent back through the sorting
// permutation. Index inputs get zero cotangents.
#include "alloy/core/ops_util.h"
#include "alloy/core/transforms.h"

namespace alloy {
using detail::fail;

namespace {

array gather_axis(const array& a, const array& idx, int axis, Stream s) {
  return array(idx.shape(), a.dtype(), std::make_shared<GatherAxis>(s, axis), {a, idx});
}

array scatter_axis(ScatterOp op, const array& a, const array& idx, const array& vals, int axis, Stream s) {
  return array(a.shape(), a.dtype(), std::make_shared<ScatterAxis>(s, op, axis), {a, idx, astype(vals, a.dtype(), s)});
}

// The index arrays of a gather/scatter: inputs 1 .. 1 + count.
std::vector<array> index_inputs(const std::vector<array>& primals, size_t count) {
  return std::vector<array>(primals.begin() + 1, primals.begin() + 1 + count);
}

// gather(x) reading the slices that `updates` (idx..., slice...) were written to.
array gather_like(const array& x, const std::vector<array>& idx, const std::vector<int>& axes, const array& updates) {
  Shape slice(updates.shape().end() - x.ndim(), updates.shape().end());
  return gather(x, idx, Axes(axes.begin(), axes.end()), slice);
}

Dtype position_dtype(size_t n) { return n < (size_t(1) << 31) ? int32 : int64; }

// True for the update elements that are the last write to their destination (duplicates lose).
array scatter_winners(const array& a, const std::vector<array>& idx, const std::vector<int>& axes,
                      const array& updates) {
  Dtype t = position_dtype(updates.size());
  array pos = reshape(arange(0.0, double(updates.size()), 1.0, t), updates.shape());
  array owner = scatter(full(a.shape(), array(-1), t), idx, pos, Axes(axes.begin(), axes.end()));
  return equal(gather_like(owner, idx, axes, updates), pos);
}

// For scatter max/min: which of a and the updates attain the result, and how many tie there.
struct ExtremumMasks {
  array mask_a, mask_u, count;
};
ExtremumMasks extremum_masks(const array& a, const std::vector<array>& idx, const std::vector<int>& axes,
                             const array& updates, const array& out) {
  Dtype t = a.dtype();
  array mask_a = astype(equal(a, out), t);
  array mask_u = astype(equal(updates, gather_like(out, idx, axes, updates)), t);
  array count = add(mask_a, scatter_add(zeros_like(a), idx, mask_u, Axes(axes.begin(), axes.end())));
  // NaN results match nothing; a count of 1 there gives them a zero gradient, not 0/0.
  return {mask_a, mask_u, maximum(count, ones({}, t))};
}

const char* scatter_op_name(ScatterOp op) {
  switch (op) {
    case ScatterOp::none: return "scatter";
    case ScatterOp::sum: return "scatter_add";
    case ScatterOp::prod: return "scatter_prod";
    case ScatterOp::max: return "scatter_max";
    case ScatterOp::min: return "scatter_min";
  }
  return "scatter";
}

// Tangent k of argnums for input `i`, or zeros like the primal.
array tangent_of(int i, const std::vector<array>& primals, const std::vector<array>& tangents,
                 const std::vector<int>& argnums) {
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == i) return tangents[k];
  }
  return zeros_like(primals[i]);
}

}  // namespace

// ---------------- Gather ----------------
std::vector<array> Gather::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  auto idx = index_inputs(primals, axes_.size());
  std::vector<array> out;
  for (int a : argnums) {
    if (a == 0) {
      out.push_back(scatter_add(zeros_like(primals[0]), idx, cotangents[0], Axes(axes_.begin(), axes_.end())));
    } else {
      out.push_back(zeros_like(primals[a]));
    }
  }
  return out;
}

std::vector<array> Gather::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  auto idx = index_inputs(primals, axes_.size());
  return {gather(tangent_of(0, primals, tangents, argnums), idx, Axes(axes_.begin(), axes_.end()), slice_sizes_)};
}

// ---------------- Scatter ----------------
std::vector<array> Scatter::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& a = primals[0];
  const array& upd = primals.back();
  const array& g = cotangents[0];
  int upd_arg = int(primals.size()) - 1;
  auto idx = index_inputs(primals, axes_.size());
  Axes axes(axes_.begin(), axes_.end());
  std::vector<array> out;
  auto zero_grads = [&] {
    for (int i : argnums) out.push_back(zeros_like(primals[i]));
    return out;
  };
  if (!is_floating(a.dtype())) return zero_grads();
  switch (op_) {
    case ScatterOp::none:
      for (int i : argnums) {
        if (i == 0) {
          out.push_back(scatter(g, idx, zeros_like(upd), axes));  // overwritten elements get nothing
        } else if (i == upd_arg) {
          array won = scatter_winners(a, idx, axes_, upd);
          out.push_back(where(won, gather_like(g, idx, axes_, upd), zeros({}, g.dtype())));
        } else {
          out.push_back(zeros_like(primals[i]));
        }
      }
      return out;
    case ScatterOp::sum:
      for (int i : argnums) {
        if (i == 0) out.push_back(g);
        else if (i == upd_arg) out.push_back(gather_like(g, idx, axes_, upd));
        else out.push_back(zeros_like(primals[i]));
      }
      return out;
    case ScatterOp::max:
    case ScatterOp::min: {
      // As max/min reductions: the cotangent is split evenly among tied extrema.
      auto m = extremum_masks(a, idx, axes_, upd, outputs[0]);
      array share = divide(g, m.count);
      for (int i : argnums) {
        if (i == 0) out.push_back(multiply(share, m.mask_a));
        else if (i == upd_arg) out.push_back(multiply(gather_like(share, idx, axes_, upd), m.mask_u));
        else out.push_back(zeros_like(primals[i]));
      }
      return out;
    }
    case ScatterOp::prod:
      fail("scatter_prod", "is not differentiable yet (its vjp is not implemented)");
  }
  return zero_grads();
}

std::vector<array> Scatter::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>& argnums) {
  int upd_arg = int(primals.size()) - 1;
  auto idx = index_inputs(primals, axes_.size());
  Axes axes(axes_.begin(), axes_.end());
  array ta = tangent_of(0, primals, tangents, argnums);
  array tu = tangent_of(upd_arg, primals, tangents, argnums);
  switch (op_) {
    case ScatterOp::none: return {scatter(ta, idx, tu, axes)};
    case ScatterOp::sum: return {scatter_add(ta, idx, tu, axes)};
    case ScatterOp::max:
    case ScatterOp::min: {
      const array& a = primals[0];
      if (!is_floating(a.dtype())) return {zeros_like(a)};
      array y(a.shape(), a.dtype(), std::make_shared<Scatter>(stream(), op_, axes_), primals);
      auto m = extremum_masks(a, idx, axes_, primals.back(), y);
      array t = add(multiply(ta, m.mask_a), scatter_add(zeros_like(a), idx, multiply(tu, m.mask_u), axes));
      return {divide(t, m.count)};
    }
    case ScatterOp::prod:
      fail("scatter_prod", "is not differentiable yet (its jvp is not implemented)");
  }
  fail(scatter_op_name(op_), "unknown scatter op");
}

// ---------------- GatherAxis / ScatterAxis ----------------
std::vector<array> GatherAxis::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                   const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  for (int a : argnums) {
    if (a == 0) {
      out.push_back(scatter_axis(ScatterOp::sum, zeros_like(primals[0]), primals[1], cotangents[0], axis_, stream()));
    } else {
      out.push_back(zeros_like(primals[a]));
    }
  }
  return out;
}

std::vector<array> GatherAxis::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                   const std::vector<int>& argnums) {
  return {gather_axis(tangent_of(0, primals, tangents, argnums), primals[1], axis_, stream())};
}

std::vector<array> ScatterAxis::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array& a = primals[0];
  const array& idx = primals[1];
  const array& vals = primals[2];
  const array& g = cotangents[0];
  Stream s = stream();
  std::vector<array> out;
  if (!is_floating(a.dtype())) {
    for (int i : argnums) out.push_back(zeros_like(primals[i]));
    return out;
  }
  switch (op_) {
    case ScatterOp::none:
      for (int i : argnums) {
        if (i == 0) {
          out.push_back(scatter_axis(ScatterOp::none, g, idx, zeros_like(vals), axis_, s));
        } else if (i == 2) {
          // Only the last write along each line reaches the output.
          Dtype t = position_dtype(size_t(idx.shape(axis_)));
          Shape line(idx.ndim(), 1);
          line[axis_] = idx.shape(axis_);
          array pos = broadcast_to(reshape(arange(0.0, double(idx.shape(axis_)), 1.0, t), line), idx.shape());
          array owner = scatter_axis(ScatterOp::none, full(a.shape(), array(-1), t), idx, pos, axis_, s);
          array won = equal(gather_axis(owner, idx, axis_, s), pos);
          out.push_back(where(won, gather_axis(g, idx, axis_, s), zeros({}, g.dtype())));
        } else {
          out.push_back(zeros_like(idx));
        }
      }
      return out;
    case ScatterOp::sum:
      for (int i : argnums) {
        if (i == 0) out.push_back(g);
        else if (i == 2) out.push_back(gather_axis(g, idx, axis_, s));
        else out.push_back(zeros_like(idx));
      }
      return out;
    case ScatterOp::prod:
    case ScatterOp::max:
    case ScatterOp::min:
      break;
  }
  fail("put_along_axis", "with ", scatter_op_name(op_), " is not differentiable yet");
}

std::vector<array> ScatterAxis::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  array ta = tangent_of(0, primals, tangents, argnums);
  array tv = tangent_of(2, primals, tangents, argnums);
  switch (op_) {
    case ScatterOp::none:
    case ScatterOp::sum:
      return {scatter_axis(op_, ta, primals[1], tv, axis_, stream())};
    case ScatterOp::prod:
    case ScatterOp::max:
    case ScatterOp::min:
      break;
  }
  fail("put_along_axis", "with ", scatter_op_name(op_), " is not differentiable yet");
}

// ---------------- Sort ----------------
std::string Sort::name() const {
  switch (kind_) {
    case SortKind::sort: return "sort";
    case SortKind::argsort: return "argsort";
    case SortKind::partition: return "partition";
    case SortKind::argpartition: return "argpartition";
  }
  return "sort";
}

namespace {
bool is_arg_kind(SortKind k) { return k == SortKind::argsort || k == SortKind::argpartition; }
}  // namespace

// The permutation a sort/partition applied: the matching arg kind on the same input. Ties may
// be permuted differently, which changes nothing (tied values get equal derivatives).
std::vector<array> Sort::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) {
  const array& x = primals[0];
  if (is_arg_kind(kind_) || !is_floating(x.dtype())) return {zeros_like(x)};
  SortKind arg = kind_ == SortKind::sort ? SortKind::argsort : SortKind::argpartition;
  array perm(x.shape(), uint32, std::make_shared<Sort>(stream(), arg, axis_, kth_), {x});
  return {scatter_axis(ScatterOp::sum, zeros_like(x), perm, cotangents[0], axis_, stream())};
}

std::vector<array> Sort::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  const array& x = primals[0];
  if (is_arg_kind(kind_)) return {zeros(x.shape(), uint32)};
  SortKind arg = kind_ == SortKind::sort ? SortKind::argsort : SortKind::argpartition;
  array perm(x.shape(), uint32, std::make_shared<Sort>(stream(), arg, axis_, kth_), {x});
  return {gather_axis(tangents[0], perm, axis_, stream())};
}

}  // namespace alloy
