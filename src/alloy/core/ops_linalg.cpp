// Linear algebra: matmul (batched, broadcasting, vector cases), addmm, inner, outer, tensordot,
// linalg::norm. Integer matmul is refused, as in MLX.
#include <cmath>
#include <limits>
#include <numeric>

#include "alloy/core/ops_util.h"

namespace alloy {
using detail::fail;

namespace {
// Broadcast batch dims of (..., M, K) and (..., K, N) operands.
std::pair<array, array> broadcast_batch(array a, array b, Stream s) {
  Shape ba(a.shape().begin(), a.shape().end() - 2), bb(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(ba, bb);
  Shape sa = batch, sb = batch;
  sa.insert(sa.end(), {a.shape(-2), a.shape(-1)});
  sb.insert(sb.end(), {b.shape(-2), b.shape(-1)});
  return {broadcast_to(a, sa, s), broadcast_to(b, sb, s)};
}
}  // namespace

array matmul(const array& a_in, const array& b_in, SD sd) {
  Stream s = to_stream(sd);
  if (a_in.ndim() == 0 || b_in.ndim() == 0) {
    fail("matmul", "needs arrays with at least 1 dimension, got shapes ", shape_to_string(a_in.shape()),
         " and ", shape_to_string(b_in.shape()));
  }
  Dtype t = promote_types(a_in.dtype(), b_in.dtype());
  if (!is_floating(t)) fail("matmul", "supports floating-point arrays only, got ", a_in.dtype(), " and ", b_in.dtype());
  array a = astype(a_in, t, s), b = astype(b_in, t, s);
  bool a_vec = a.ndim() == 1, b_vec = b.ndim() == 1;
  if (a_vec) a = reshape(a, {1, a.shape(0)}, s);
  if (b_vec) b = reshape(b, {b.shape(0), 1}, s);
  if (a.shape(-1) != b.shape(-2)) {
    fail("matmul", "inner dimensions differ: shapes ", shape_to_string(a_in.shape()), " and ",
         shape_to_string(b_in.shape()));
  }
  if (a.ndim() > 2 && b.ndim() == 2) {
    // (..., M, K) @ (K, N) is one GEMM over the stacked rows: its weight gradient is then one
    // GEMM over all of them too, not a product per batch summed afterwards.
    Shape out_shape = a.shape();
    out_shape.back() = b.shape(-1);
    array out = reshape(matmul(reshape(a, {-1, a.shape(-1)}, s), b, s), out_shape, s);
    return b_vec ? squeeze(out, Axes{-1}, s) : out;
  }
  try {
    std::tie(a, b) = broadcast_batch(a, b, s);
  } catch (const std::invalid_argument&) {
    fail("matmul", "batch dimensions of shapes ", shape_to_string(a_in.shape()), " and ",
         shape_to_string(b_in.shape()), " cannot be broadcast");
  }
  Shape out_shape = a.shape();
  out_shape.back() = b.shape(-1);
  array out(out_shape, t, std::make_shared<Matmul>(s), {a, b});
  if (a_vec) out = squeeze(out, Axes{-2}, s);
  if (b_vec) out = squeeze(out, Axes{-1}, s);
  return out;
}

array addmm(const array& c, const array& a_in, const array& b_in, float alpha, float beta, SD sd) {
  Stream s = to_stream(sd);
  if (a_in.ndim() < 2 || b_in.ndim() < 2) {
    // Vector cases go through matmul.
    return add(multiply(array(alpha), matmul(a_in, b_in, s), s), multiply(array(beta), c, s), s);
  }
  Dtype t = promote_types(promote_types(a_in.dtype(), b_in.dtype()), c.dtype());
  if (!is_floating(t)) fail("addmm", "supports floating-point arrays only");
  array a = astype(a_in, t, s), b = astype(b_in, t, s);
  if (a.shape(-1) != b.shape(-2)) {
    fail("addmm", "inner dimensions differ: shapes ", shape_to_string(a_in.shape()), " and ",
         shape_to_string(b_in.shape()));
  }
  if (a.ndim() > 2 && b.ndim() == 2 && c.ndim() <= 1) {
    // As matmul: one GEMM over the stacked rows (a bias of shape (N,) or () broadcasts the same).
    Shape out_shape = a.shape();
    out_shape.back() = b.shape(-1);
    return reshape(addmm(c, reshape(a, {-1, a.shape(-1)}, s), b, alpha, beta, s), out_shape, s);
  }
  std::tie(a, b) = broadcast_batch(a, b, s);
  Shape out_shape = a.shape();
  out_shape.back() = b.shape(-1);
  bool fits = true;
  try {
    fits = broadcast_shapes(c.shape(), out_shape) == out_shape;
  } catch (const std::invalid_argument&) {
    fits = false;
  }
  if (!fits) {
    fail("addmm", "c of shape ", shape_to_string(c.shape()), " does not broadcast to the product's shape ",
         shape_to_string(out_shape));
  }
  array cc = broadcast_to(astype(c, t, s), out_shape, s);
  return array(out_shape, t, std::make_shared<AddMM>(s, alpha, beta), {a, b, cc});
}

array inner(const array& a, const array& b, SD s) {
  if (a.ndim() == 0 || b.ndim() == 0) return multiply(a, b, s);
  if (a.shape(-1) != b.shape(-1)) {
    fail("inner", "last dimensions differ: shapes ", shape_to_string(a.shape()), " and ", shape_to_string(b.shape()));
  }
  return tensordot(a, b, {-1}, {-1}, s);
}

array outer(const array& a, const array& b, SD s) {
  return multiply(reshape(a, {-1, 1}, s), reshape(b, {1, -1}, s), s);
}

array tensordot(const array& a, const array& b, const Axes& axes_a, const Axes& axes_b, SD s) {
  if (axes_a.size() != axes_b.size()) {
    fail("tensordot", "got ", axes_a.size(), " axes for a and ", axes_b.size(), " for b");
  }
  std::vector<int> xa, xb;
  for (int ax : axes_a) xa.push_back(normalize_axis(ax, a.ndim(), "tensordot"));
  for (int ax : axes_b) xb.push_back(normalize_axis(ax, b.ndim(), "tensordot"));
  int64_t k = 1;
  for (size_t i = 0; i < xa.size(); ++i) {
    if (a.shape(xa[i]) != b.shape(xb[i])) {
      fail("tensordot", "axis ", xa[i], " of a (size ", a.shape(xa[i]), ") and axis ", xb[i],
           " of b (size ", b.shape(xb[i]), ") differ");
    }
    k *= a.shape(xa[i]);
  }
  // a -> (free_a, contracted), b -> (contracted, free_b), one matmul.
  Axes perm_a, perm_b;
  Shape free_a, free_b;
  int64_t m = 1, n = 1;
  for (int i = 0; i < a.ndim(); ++i) {
    if (std::find(xa.begin(), xa.end(), i) == xa.end()) {
      perm_a.push_back(i);
      free_a.push_back(a.shape(i));
      m *= a.shape(i);
    }
  }
  perm_a.insert(perm_a.end(), xa.begin(), xa.end());
  perm_b.insert(perm_b.end(), xb.begin(), xb.end());
  for (int i = 0; i < b.ndim(); ++i) {
    if (std::find(xb.begin(), xb.end(), i) == xb.end()) {
      perm_b.push_back(i);
      free_b.push_back(b.shape(i));
      n *= b.shape(i);
    }
  }
  array am = reshape(transpose(a, perm_a, s), {m, k}, s);
  array bm = reshape(transpose(b, perm_b, s), {k, n}, s);
  Shape out = free_a;
  out.insert(out.end(), free_b.begin(), free_b.end());
  return reshape(matmul(am, bm, s), out, s);
}

array tensordot(const array& a, const array& b, int axes, SD s) {
  if (axes < 0 || axes > a.ndim() || axes > b.ndim()) {
    fail("tensordot", "cannot contract ", axes, " axes of arrays with ", a.ndim(), " and ", b.ndim(),
         " dimensions");
  }
  Axes xa, xb;
  for (int i = 0; i < axes; ++i) {
    xa.push_back(a.ndim() - axes + i);
    xb.push_back(i);
  }
  return tensordot(a, b, xa, xb, s);
}

namespace linalg {

array norm(const array& a_in, std::optional<double> ord, std::optional<Axes> axes_in, bool keepdims, SD s) {
  Dtype t = float_result_type(a_in.dtype());
  array a = astype(a_in, t, s);
  Axes axes = axes_in ? *axes_in : detail::all_axes(a.ndim());
  if (!ord) {
    // 2-norm of the flattened axes (vector 2-norm or Frobenius).
    return sqrt(sum(square(a, s), axes, keepdims, s), s);
  }
  double p = *ord;
  if (axes.size() == 1) {
    array x = abs(a, s);
    if (std::isinf(p)) return p > 0 ? max(x, axes, keepdims, s) : min(x, axes, keepdims, s);
    if (p == 0) return sum(astype(not_equal(a, array(0.0f), s), t, s), axes, keepdims, s);
    if (p == 1) return sum(x, axes, keepdims, s);
    if (p == 2) return sqrt(sum(square(a, s), axes, keepdims, s), s);
    return power(sum(power(x, array(p, t), s), axes, keepdims, s), array(1.0 / p, t), s);
  }
  if (axes.size() == 2) {
    int r = normalize_axis(axes[0], a.ndim(), "linalg::norm");
    int c = normalize_axis(axes[1], a.ndim(), "linalg::norm");
    array x = abs(a, s);
    auto finish = [&](array v, int first, int second) {
      // v reduced over `first` (kept), then over `second`.
      v = p > 0 ? max(v, Axes{second}, true, s) : min(v, Axes{second}, true, s);
      return keepdims ? v : squeeze(v, Axes{r, c}, s);
    };
    if (p == 1 || p == -1) return finish(sum(x, Axes{r}, true, s), r, c);
    if (std::isinf(p)) return finish(sum(x, Axes{c}, true, s), c, r);
    fail("linalg::norm", "matrix norm order ", p, " is not supported (use 1, -1, inf, -inf, or \"fro\")");
  }
  fail("linalg::norm", "needs 1 or 2 axes for a numeric order, got ", axes.size());
}

array norm(const array& a, const std::string& ord, std::optional<Axes> axes, bool keepdims, SD s) {
  if (ord == "fro") {
    if (axes && axes->size() != 2) fail("linalg::norm", "\"fro\" needs 2 axes");
    if (!axes && a.ndim() != 2) fail("linalg::norm", "\"fro\" needs a matrix or 2 axes");
    return norm(a, std::nullopt, axes, keepdims, s);
  }
  fail("linalg::norm", "order \"", ord, "\" is not supported (\"fro\" is)");
}

}  // namespace linalg
}  // namespace alloy
