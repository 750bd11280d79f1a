// Classification losses: cross_entropy, nll_loss, binary_cross_entropy(_with_logits). The class
// axis is the last one: (N, ..., C) against class indices (N, ...). cross_entropy with class
// indices and no class weights runs the fused fast::cross_entropy over the rows (N * ..., C);
// class weights and probability targets take the composition.
#include <stdexcept>
#include <string>

#include "alloy/core/fast.h"
#include "alloy/core/ops.h"
#include "alloy/nn/losses.h"
#include "alloy/nn/losses_common.h"

namespace alloy::nn::losses {
namespace {

using detail::s;

void check_class_weight(const std::optional<array>& weight, int64_t classes, const char* loss) {
  if (!weight) return;
  detail::require_floating(*weight, loss, "weight");
  if (weight->ndim() != 1 || weight->shape(0) != classes) {
    throw std::invalid_argument(std::string("[") + loss + "] weight must have shape (" +
                                std::to_string(classes) + ",) (one per class), got " +
                                shape_to_string(weight->shape()));
  }
}

void check_index_targets(const array& scores, const array& targets, const char* loss) {
  if (!is_integral(targets.dtype())) {
    throw std::invalid_argument(std::string("[") + loss +
                                "] class-index targets must be integers, got " +
                                dtype_name(targets.dtype()) +
                                (is_floating(targets.dtype()) && targets.shape() != scores.shape()
                                     ? " (probability targets need the shape of the input)"
                                     : ""));
  }
  Shape expected(scores.shape().begin(), scores.shape().end() - 1);
  if (targets.shape() != expected) {
    throw std::invalid_argument(std::string("[") + loss + "] input " +
                                shape_to_string(scores.shape()) +
                                " (N, ..., C) needs class-index targets of shape " +
                                shape_to_string(expected) + ", got " +
                                shape_to_string(targets.shape()));
  }
}

void check_scores(const array& scores, const char* loss) {
  detail::require_floating(scores, loss, "input");
  if (scores.ndim() == 0) {
    throw std::invalid_argument(std::string("[") + loss +
                                "] input must be (N, ..., C) or (C,), got a scalar");
  }
}

// The negative log-likelihood of the target class and its weight, both (N, ...) and zero where
// the target is ignore_index: the shared core of nll_loss and cross_entropy.
struct Picked {
  array loss;    // -w[t] * log_probs[..., t]
  array weight;  // w[t] (1 without weights), 0 where ignored
  array keep;    // target != ignore_index
};

Picked pick_targets(const array& log_probs, const array& targets,
                    const std::optional<array>& weight, int64_t ignore_index) {
  const int64_t classes = log_probs.shape(-1);
  array t = astype(targets, int64);  // so that ignore_index compares exactly for any dtype
  array keep = not_equal(t, array(ignore_index));
  // Ignored targets read class 0 (then masked); other negative targets are routed out of range
  // so that the gather reports them instead of wrapping around as NumPy indices do.
  array index = where(keep, t, array(int64_t(0)));
  index = where(less(index, array(int64_t(0))), array(classes), index);
  array logp = squeeze(take_along_axis(log_probs, expand_dims(index, -1), -1), Axes{-1});
  array w = weight ? where(keep, take(*weight, index, 0), s(0.0)) : astype(keep, log_probs.dtype());
  return {negative(multiply(logp, w)), w, keep};
}

// sum(loss) / sum(weights) for mean: PyTorch's weighted mean over the non-ignored targets.
array reduce_weighted(const array& loss, const array& weights, Reduction reduction) {
  switch (reduction) {
    case Reduction::none:
      return loss;
    case Reduction::sum:
      return sum(loss);
    case Reduction::mean:
      return divide(sum(loss), sum(weights));
  }
  throw std::invalid_argument("[losses] unknown reduction");
}

// Class-index targets without class weights: the fused per-row loss, computed in float32
// (float64 for float64) and returned in the logits' dtype, as the composition returns it; mean
// divides by the number of targets that are not ignore_index.
array fused_index_loss(const array& logits, const array& targets, int64_t ignore_index, Reduction reduction,
                       double label_smoothing) {
  const int64_t classes = logits.shape(-1), rows = int64_t(targets.size());
  array loss = fast::cross_entropy(reshape(logits, {rows, classes}), reshape(targets, {rows}), ignore_index,
                                   label_smoothing);  // (N * ...,)
  switch (reduction) {
    case Reduction::none:
      loss = reshape(loss, targets.shape());
      break;
    case Reduction::sum:
      loss = sum(loss);
      break;
    case Reduction::mean: {
      array kept = not_equal(astype(targets, int64), array(ignore_index));
      loss = divide(sum(loss), sum(astype(kept, loss.dtype())));
      break;
    }
  }
  return astype(loss, logits.dtype());
}

}  // namespace

array nll_loss(const array& log_probs, const array& targets, const std::optional<array>& weight,
               int64_t ignore_index, Reduction reduction) {
  check_scores(log_probs, "nll_loss");
  check_index_targets(log_probs, targets, "nll_loss");
  check_class_weight(weight, log_probs.shape(-1), "nll_loss");
  Picked p = pick_targets(log_probs, targets, weight, ignore_index);
  return reduce_weighted(p.loss, p.weight, reduction);
}

array cross_entropy(const array& logits, const array& targets, const std::optional<array>& weight,
                    int64_t ignore_index, Reduction reduction, double label_smoothing) {
  check_scores(logits, "cross_entropy");
  const int64_t classes = logits.shape(-1);
  check_class_weight(weight, classes, "cross_entropy");
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0)) {
    throw std::invalid_argument("[cross_entropy] label_smoothing must be in [0, 1], got " +
                                std::to_string(label_smoothing));
  }
  const bool probability_targets = is_floating(targets.dtype()) && targets.shape() == logits.shape();
  if (!probability_targets) {
    check_index_targets(logits, targets, "cross_entropy");
    if (!weight && classes > 0) return fused_index_loss(logits, targets, ignore_index, reduction, label_smoothing);
  }
  array log_probs = log_softmax(logits, -1);  // (N, ..., C)
  // -sum_c w_c log p_c: the loss against the uniform distribution, before its 1 / C.
  auto uniform_loss = [&]() {
    array wl = weight ? multiply(log_probs, *weight) : log_probs;
    return negative(sum(wl, -1));
  };

  if (probability_targets) {
    // Probability targets: -sum_c w_c t_c log p_c; mean over the N * ... samples.
    if (ignore_index >= 0) {
      throw std::invalid_argument(
          "[cross_entropy] ignore_index is not supported for probability targets, got " +
          std::to_string(ignore_index));
    }
    array t = targets;
    if (label_smoothing > 0) {
      t = add(multiply(t, s(1.0 - label_smoothing)), s(label_smoothing / double(classes)));
    }
    array wl = weight ? multiply(log_probs, *weight) : log_probs;
    return detail::reduce(negative(sum(multiply(wl, t), -1)), reduction);
  }

  Picked p = pick_targets(log_probs, targets, weight, ignore_index);
  array loss = p.loss;
  if (label_smoothing > 0) {
    // PyTorch: (1 - eps) nll + eps / C * smooth, both masked and divided by the same weights.
    array smooth = where(p.keep, uniform_loss(), s(0.0));
    loss = add(multiply(loss, s(1.0 - label_smoothing)),
               multiply(smooth, s(label_smoothing / double(classes))));
  }
  return reduce_weighted(loss, p.weight, reduction);
}

array binary_cross_entropy(const array& probs, const array& targets,
                           const std::optional<array>& weight, Reduction reduction) {
  detail::check_pair(probs, targets, "binary_cross_entropy");
  // -(t log p + (1 - t) log(1 - p)), each log clamped at -100 (PyTorch's rule).
  array log_p = maximum(log(probs), s(-100.0));
  array log_q = maximum(log1p(negative(probs)), s(-100.0));
  array loss = negative(add(multiply(targets, log_p), multiply(subtract(s(1.0), targets), log_q)));
  if (weight) {
    detail::require_floating(*weight, "binary_cross_entropy", "weight");
    detail::require_broadcasts_to(*weight, probs.shape(), "binary_cross_entropy", "weight");
    loss = multiply(loss, *weight);
  }
  return detail::reduce(loss, reduction);
}

array binary_cross_entropy_with_logits(const array& logits, const array& targets,
                                       const std::optional<array>& weight,
                                       const std::optional<array>& pos_weight,
                                       Reduction reduction) {
  const char* name = "binary_cross_entropy_with_logits";
  detail::check_pair(logits, targets, name);
  // softplus(-x) = log(1 + exp(-x)) = max(-x, 0) + log1p(exp(-|x|)): no overflow for any x.
  array softplus_neg =
      add(maximum(negative(logits), s(0.0)), log1p(exp(negative(abs(logits)))));
  array log_weight = s(1.0);
  if (pos_weight) {
    detail::require_floating(*pos_weight, name, "pos_weight");
    detail::require_broadcasts_to(*pos_weight, logits.shape(), name, "pos_weight");
    log_weight = add(s(1.0), multiply(subtract(*pos_weight, s(1.0)), targets));
  }
  array loss = add(multiply(subtract(s(1.0), targets), logits), multiply(log_weight, softplus_neg));
  if (weight) {
    detail::require_floating(*weight, name, "weight");
    detail::require_broadcasts_to(*weight, logits.shape(), name, "weight");
    loss = multiply(loss, *weight);
  }
  return detail::reduce(loss, reduction);
}

}  // namespace alloy::nn::losses
