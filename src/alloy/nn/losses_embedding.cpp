// Embedding and ranking losses: cosine_similarity, cosine_embedding_loss, hinge losses,
// margin_ranking_loss, triplet_margin_loss.
#include <cmath>
#include <stdexcept>
#include <string>

#include "alloy/core/ops.h"
#include "alloy/nn/losses.h"
#include "alloy/nn/losses_common.h"

namespace alloy::nn::losses {
namespace {

using detail::s;

// || v ||_p over the last axis.
array p_norm(const array& v, double p) {
  if (std::isinf(p)) return max(abs(v), -1);
  if (p == 2) return sqrt(sum(square(v), -1));
  if (p == 1) return sum(abs(v), -1);
  return power(sum(power(abs(v), s(p)), -1), s(1.0 / p));
}

}  // namespace

array cosine_similarity(const array& x1, const array& x2, int axis, double eps) {
  detail::require_floating(x1, "cosine_similarity", "x1");
  detail::require_floating(x2, "cosine_similarity", "x2");
  Shape shape;
  try {
    shape = broadcast_shapes(x1.shape(), x2.shape());
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument("[cosine_similarity] x1 " + shape_to_string(x1.shape()) + " and x2 " +
                                shape_to_string(x2.shape()) + " do not broadcast together");
  }
  int ax = normalize_axis(axis, int(shape.size()), "cosine_similarity");
  array a = broadcast_to(x1, shape), b = broadcast_to(x2, shape);
  // Squared norms clamped at eps^2 under no_grad, as PyTorch 1.13 (the gradient ignores it).
  auto clamped = [&](const array& x) {
    array w = sum(square(x), ax, true);
    return add(w, stop_gradient(subtract(maximum(w, s(eps * eps)), w)));
  };
  return sum(multiply(multiply(a, b), rsqrt(multiply(clamped(a), clamped(b)))), ax);
}

array cosine_embedding_loss(const array& x1, const array& x2, const array& y, double margin,
                            Reduction reduction) {
  const char* name = "cosine_embedding_loss";
  detail::require_floating(x1, name, "x1");
  detail::require_floating(x2, name, "x2");
  detail::require_same_shape(x1, x2, name, "x1", "x2");
  if (!((x1.ndim() == 2 && y.ndim() == 1 && y.shape(0) == x1.shape(0)) ||
        (x1.ndim() == 1 && y.ndim() == 0))) {
    throw std::invalid_argument("[cosine_embedding_loss] expects x1, x2 (N, D) with y (N,), or (D,) "
                                "with a scalar y; got x1 " + shape_to_string(x1.shape()) + " and y " +
                                shape_to_string(y.shape()));
  }
  constexpr double kEps = 1e-12;  // PyTorch's EPSILON, added to each squared norm
  array dot = sum(multiply(x1, x2), -1);
  array n1 = add(sum(square(x1), -1), s(kEps)), n2 = add(sum(square(x2), -1), s(kEps));
  array cos = divide(dot, sqrt(multiply(n1, n2)));
  array pos = where(equal(y, s(1.0)), subtract(s(1.0), cos), s(0.0));
  array neg = where(equal(y, s(-1.0)), maximum(subtract(cos, s(margin)), s(0.0)), s(0.0));
  return detail::reduce(add(pos, neg), reduction);
}

array hinge_loss(const array& inputs, const array& targets, Reduction reduction) {
  detail::check_pair(inputs, targets, "hinge_loss");
  return detail::reduce(maximum(subtract(s(1.0), multiply(inputs, targets)), s(0.0)), reduction);
}

array hinge_embedding_loss(const array& inputs, const array& targets, double margin,
                           Reduction reduction) {
  detail::require_floating(inputs, "hinge_embedding_loss", "inputs");
  detail::require_same_shape(inputs, targets, "hinge_embedding_loss", "inputs", "targets");
  // PyTorch's rule: the margin term where y != 1, the input itself where y != -1.
  array margin_term = where(not_equal(targets, s(1.0)), maximum(subtract(s(margin), inputs), s(0.0)), s(0.0));
  array self_term = where(not_equal(targets, s(-1.0)), inputs, s(0.0));
  return detail::reduce(add(margin_term, self_term), reduction);
}

array margin_ranking_loss(const array& x1, const array& x2, const array& y, double margin,
                          Reduction reduction) {
  const char* name = "margin_ranking_loss";
  detail::check_pair(x1, x2, name);
  detail::require_same_shape(x1, y, name, "x1", "y");
  array loss = maximum(add(multiply(negative(y), subtract(x1, x2)), s(margin)), s(0.0));
  return detail::reduce(loss, reduction);
}

array triplet_margin_loss(const array& anchor, const array& positive, const array& negative,
                          double margin, double p, double eps, bool swap, Reduction reduction) {
  const char* name = "triplet_margin_loss";
  detail::check_pair(anchor, positive, name);
  detail::check_pair(anchor, negative, name);
  if (anchor.ndim() != 1 && anchor.ndim() != 2) {
    throw std::invalid_argument("[triplet_margin_loss] expects (N, D) or (D,) inputs, got " +
                                shape_to_string(anchor.shape()));
  }
  if (!(p > 0)) {
    throw std::invalid_argument("[triplet_margin_loss] p must be positive, got " + std::to_string(p));
  }
  // PyTorch's pairwise_distance: || u - v + eps ||_p.
  auto distance = [&](const array& u, const array& v) { return p_norm(add(subtract(u, v), s(eps)), p); };
  array d_pos = distance(anchor, positive);
  array d_neg = distance(anchor, negative);
  if (swap) d_neg = minimum(d_neg, distance(positive, negative));
  return detail::reduce(maximum(subtract(add(d_pos, s(margin)), d_neg), s(0.0)), reduction);
}

}  // namespace alloy::nn::losses
