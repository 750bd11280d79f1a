// Loss functions, as torch.nn.functional (same formulas, defaults and edge rules) plus MLX's
// hinge_loss and log_cosh_loss. The class axis is the LAST axis (alloy keeps channels last, as
// MLX): logits (N, ..., C) with class-index targets (N, ...). Every loss is a composition of core
// ops (cross_entropy with class indices and no class weights: the fused fast::cross_entropy, its
// gradient a fused kernel too), so it has gradients and runs on every device; bad shapes or
// dtypes throw std::invalid_argument naming the loss. The default reduction is mean, as PyTorch's
// (MLX's hinge_loss and log_cosh_loss default to none there; here they follow the rest).
#pragma once

#include <optional>

#include "alloy/core/array.h"

namespace alloy::nn::losses {

enum class Reduction { none, mean, sum };

// ---------- classification ----------

// logits (N, ..., C) or (C,). targets: class indices (N, ...) of any integer dtype, or class
// probabilities of the logits' shape (floating). weight (C,) rescales each class. Targets equal
// to ignore_index contribute nothing; with weights the mean divides by the summed weights of the
// non-ignored targets (PyTorch's rule; all ignored gives NaN, as there). label_smoothing in
// [0, 1] mixes the target with the uniform distribution. For probability targets ignore_index
// must be negative (PyTorch's check) and mean divides by the number of samples N * ... .
// A class index outside [0, C) that is not ignore_index is an error when the loss is evaluated.
array cross_entropy(const array& logits, const array& targets,
                    const std::optional<array>& weight = std::nullopt, int64_t ignore_index = -100,
                    Reduction reduction = Reduction::mean, double label_smoothing = 0.0);

// log_probs (N, ..., C) or (C,) (log_softmax outputs), targets (N, ...) class indices.
array nll_loss(const array& log_probs, const array& targets,
               const std::optional<array>& weight = std::nullopt, int64_t ignore_index = -100,
               Reduction reduction = Reduction::mean);

// probs in [0, 1] and targets of the same shape; each log is clamped at -100 (PyTorch's rule,
// so p = 0 or 1 gives a finite loss). weight broadcasts against probs.
array binary_cross_entropy(const array& probs, const array& targets,
                           const std::optional<array>& weight = std::nullopt,
                           Reduction reduction = Reduction::mean);

// sigmoid + binary cross entropy in one stable formula: (1 - t) x + (1 + (pw - 1) t) softplus(-x).
// pos_weight (weight of the positive term) broadcasts against the last axis, weight against all.
array binary_cross_entropy_with_logits(const array& logits, const array& targets,
                                       const std::optional<array>& weight = std::nullopt,
                                       const std::optional<array>& pos_weight = std::nullopt,
                                       Reduction reduction = Reduction::mean);

// ---------- regression ----------

// inputs and targets of the same shape.
array mse_loss(const array& inputs, const array& targets, Reduction reduction = Reduction::mean);
array l1_loss(const array& inputs, const array& targets, Reduction reduction = Reduction::mean);
// 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta).
array huber_loss(const array& inputs, const array& targets, double delta = 1.0,
                 Reduction reduction = Reduction::mean);
// 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; beta 0 is l1_loss.
array smooth_l1_loss(const array& inputs, const array& targets, double beta = 1.0,
                     Reduction reduction = Reduction::mean);
// MLX's log_cosh_loss: log(cosh(d)) = logaddexp(d, -d) - log 2, finite for any d.
array log_cosh_loss(const array& inputs, const array& targets,
                    Reduction reduction = Reduction::mean);
// 0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) when full).
// var has the input's shape, or lacks its last axis / has 1 there (one variance per sample).
// The clamp at eps is invisible to the gradient, as PyTorch's (done under no_grad there).
array gaussian_nll_loss(const array& inputs, const array& targets, const array& var,
                        bool full = false, double eps = 1e-6,
                        Reduction reduction = Reduction::mean);

// ---------- distributions ----------

// kl_div reductions: PyTorch's 'batchmean' (sum / N, the true KL divergence per sample) next to
// the usual three; 'mean' averages over every element, as PyTorch's.
enum class KLDivReduction { none, mean, sum, batchmean };
// inputs: log-probabilities; targets: probabilities, or log-probabilities when log_target.
// Pointwise t (log t - x) (0 where t = 0), or exp(t) (t - x) with log_target.
array kl_div(const array& inputs, const array& targets,
             KLDivReduction reduction = KLDivReduction::mean, bool log_target = false);

// ---------- embeddings and ranking ----------

// x1 . x2 / sqrt(max(|x1|^2, eps^2) max(|x2|^2, eps^2)) along axis (x1, x2 broadcast together).
// The clamp is invisible to the gradient, as torch.nn.functional.cosine_similarity's.
array cosine_similarity(const array& x1, const array& x2, int axis = -1, double eps = 1e-8);
// x1, x2 (N, D) or (D,), y (N,) or () of +1 / -1: 1 - cos where y = 1, max(0, cos - margin)
// where y = -1 (cos with PyTorch's 1e-12 added to each squared norm).
array cosine_embedding_loss(const array& x1, const array& x2, const array& y, double margin = 0.0,
                            Reduction reduction = Reduction::mean);
// MLX's hinge_loss: max(0, 1 - y x), y in {-1, 1}.
array hinge_loss(const array& inputs, const array& targets, Reduction reduction = Reduction::mean);
// PyTorch's HingeEmbeddingLoss: x where y = 1, max(0, margin - x) where y = -1.
array hinge_embedding_loss(const array& inputs, const array& targets, double margin = 1.0,
                           Reduction reduction = Reduction::mean);
// max(0, -y (x1 - x2) + margin), all three of one shape.
array margin_ranking_loss(const array& x1, const array& x2, const array& y, double margin = 0.0,
                          Reduction reduction = Reduction::mean);
// anchor, positive, negative (N, D) or (D,): max(0, margin + d(a, p) - d(a, n)) with
// d(u, v) = || u - v + eps ||_p over the last axis; swap uses min(d(a, n), d(p, n)).
array triplet_margin_loss(const array& anchor, const array& positive, const array& negative,
                          double margin = 1.0, double p = 2.0, double eps = 1e-6, bool swap = false,
                          Reduction reduction = Reduction::mean);

}  // namespace alloy::nn::losses
