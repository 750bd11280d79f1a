// Fused cross entropy: validation, the plain-op compositions of the loss and of its gradient (the
// reference in tests and benchmarks, what jvp and gradients of the gradient are computed from)
// and the nodes. The forward node keeps each row's logsumexp so that the gradient node makes one
// pass over the logits (read x, write dx) instead of recomputing it.
#include <cmath>

#include "alloy/core/fast.h"
#include "alloy/core/fast_primitives.h"
#include "alloy/core/ops_util.h"
#include "alloy/core/transforms.h"

namespace alloy {
namespace {

Dtype accumulation_dtype(Dtype t) { return t == float64 ? float64 : float32; }

// The class each row reads: ignored rows read class 0 (then masked); other negative targets are
// sent to C so that take_along_axis reports them instead of wrapping around. t, keep: (N,).
array class_index(const array& t, const array& keep, int64_t classes, Stream s) {
  array index = where(keep, t, array(int64_t(0)), s);
  return where(less(index, array(int64_t(0)), s), array(classes), index, s);
}

// in: (logits (N, C), targets int64 (N,)) -> (loss (N,), logsumexp (N,)) in float32/float64.
std::vector<array> loss_composed(const std::vector<array>& in, int64_t ignore_index, double eps, Stream s) {
  array x = astype(in[0], accumulation_dtype(in[0].dtype()), s);
  array keep = not_equal(in[1], array(ignore_index), s);
  array index = class_index(in[1], keep, x.shape(1), s);
  array lse = logsumexp(x, -1, false, s);
  array xt = squeeze(take_along_axis(x, expand_dims(index, -1, s), -1, s), Axes{-1}, s);
  array loss = subtract(lse, xt, s);
  if (eps > 0) {
    // PyTorch: (1 - eps) nll + eps / C sum_c -log p_c, and sum_c -log p_c = C lse - sum_c x_c.
    array smooth = subtract(lse, mean(x, -1, false, s), s);
    loss = add(multiply(loss, array(1.0 - eps), s), multiply(smooth, array(eps), s), s);
  }
  return {where(keep, loss, array(0.0), s), lse};
}

// in: (logits (N, C), targets int64 (N,), lse (N,), cotangent (N,)) -> dlogits (N, C) in the
// logits' dtype. lse is not read: the softmax is recomputed from the logits, so that this
// composition depends on them alone and its own gradient is exact (CrossEntropy's vjp ignores the
// cotangent of its lse output).
std::vector<array> grad_composed(const std::vector<array>& in, int64_t ignore_index, double eps, Stream s) {
  Dtype acc = accumulation_dtype(in[0].dtype());
  array x = astype(in[0], acc, s);
  const int64_t classes = x.shape(1);
  array keep = not_equal(in[1], array(ignore_index), s);
  array index = class_index(in[1], keep, classes, s);  // out of range: matches no class
  array onehot = astype(equal(expand_dims(index, -1, s), arange(0.0, double(classes), 1.0, int64, s), s), acc, s);
  array target = eps > 0 ? add(multiply(onehot, array(1.0 - eps), s), array(eps / double(classes)), s) : onehot;
  array g = where(keep, astype(in[3], acc, s), array(0.0), s);  // (N,)
  array d = multiply(subtract(softmax(x, -1, s), target, s), expand_dims(g, -1, s), s);
  return {astype(d, in[0].dtype(), s)};
}

array cross_entropy_impl(const array& logits, const array& targets, int64_t ignore_index, double eps,
                         StreamOrDevice sd, bool compose) {
  const char* op = "cross_entropy";
  if (logits.ndim() != 2) detail::fail(op, "logits must be (N, C), got ", shape_to_string(logits.shape()));
  if (!is_floating(logits.dtype())) detail::fail(op, "needs floating-point logits, got ", logits.dtype());
  if (!is_integral(targets.dtype())) {
    detail::fail(op, "targets must be class indices of an integer dtype, got ", targets.dtype());
  }
  const int64_t rows = logits.shape(0), classes = logits.shape(1);
  if (targets.ndim() != 1 || targets.shape(0) != rows) {
    detail::fail(op, "logits ", shape_to_string(logits.shape()), " (N, C) need targets of shape (", rows,
                 ",), got ", shape_to_string(targets.shape()));
  }
  if (classes == 0) detail::fail(op, "needs at least one class, got logits ", shape_to_string(logits.shape()));
  if (!(eps >= 0.0 && eps <= 1.0)) detail::fail(op, "label_smoothing must be in [0, 1], got ", eps);
  Stream s = to_stream(sd);
  std::vector<array> in{logits, astype(targets, int64, s)};  // int64: ignore_index compares exactly
  Fused::Fallback composed = [ignore_index, eps, s](const std::vector<array>& inputs) {
    return loss_composed(inputs, ignore_index, eps, s);
  };
  if (compose) return composed(in)[0];
  Dtype acc = accumulation_dtype(logits.dtype());
  auto outs = array::make_arrays({Shape{rows}, Shape{rows}}, {acc, acc},
                                 std::make_shared<CrossEntropy>(s, composed, ignore_index, eps), in);
  // The logsumexp output is dropped here; the vjp gets it back through array::outputs(), which
  // relinks a recreated sibling, so that the one evaluation of this node writes it.
  return outs[0];
}

}  // namespace

std::vector<array> CrossEntropy::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                     const std::vector<int>& argnums, const std::vector<array>& outputs) {
  std::vector<array> out;
  for (int a : argnums) {
    if (a != 0) {
      out.push_back(zeros_like(primals[a]));  // class indices
      continue;
    }
    int64_t ignore = ignore_index_;
    double eps = label_smoothing_;
    Stream s = stream();
    Fused::Fallback composed = [ignore, eps, s](const std::vector<array>& inputs) {
      return grad_composed(inputs, ignore, eps, s);
    };
    out.push_back(array::make_arrays({primals[0].shape()}, {primals[0].dtype()},
                                     std::make_shared<CrossEntropyGrad>(s, composed, ignore, eps),
                                     {primals[0], primals[1], outputs[1], cotangents[0]})[0]);
  }
  return out;
}

namespace fast {

array cross_entropy(const array& logits, const array& targets, int64_t ignore_index, double label_smoothing,
                    StreamOrDevice s) {
  return cross_entropy_impl(logits, targets, ignore_index, label_smoothing, s, false);
}

namespace composed {
array cross_entropy(const array& logits, const array& targets, int64_t ignore_index, double label_smoothing,
                    StreamOrDevice s) {
  return cross_entropy_impl(logits, targets, ignore_index, label_smoothing, s, true);
}
}  // namespace composed

}  // namespace fast
}  // namespace alloy
