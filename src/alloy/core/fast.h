// Fused ops (as MLX's mx.fast): one kernel each where the plain-op composition would make
// several passes over memory. Gradients come from the composition, so they match it exactly
// (cross_entropy, whose gradient is a fused kernel of its own, excepted).
#pragma once

#include <optional>
#include <utility>
#include <vector>
#include <string>

#include "alloy/core/array.h"
#include "alloy/core/device.h"

namespace alloy::fast {

// x / sqrt(mean(x^2, -1) + eps) * weight; weight (D,) or none. Accumulates in float32.
array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s = {});

// The residual stream's add and the next norm in one pass: returns (sum, normed) with
// sum = x + residual (one shape and float dtype, rounded to it) and normed = rms_norm(sum, weight,
// eps), as a transformer block adds a layer's output and normalizes for the next layer.
std::pair<array, array> rms_norm_residual(const array& x, const array& residual, const std::optional<array>& weight,
                                          float eps, StreamOrDevice s = {});

// (x - mean) / sqrt(var + eps) * weight + bias over the last axis; weight/bias (D,) or none.
array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias,
                 float eps, StreamOrDevice s = {});

// Rotary position embedding on the first `dims` features of the last axis of x (..., T, D), for
// positions offset + t along axis -2. traditional: rotates pairs (2i, 2i+1) (GPT-J/ llama.cpp
// "normal"); otherwise the two halves (i, i + dims/2) (GPT-NeoX / Hugging Face Llama).
// Frequency i is base^(-2i/dims); the angle is (offset + t) * scale * frequency.
array rope(const array& x, int dims, bool traditional, float base, float scale, int offset,
           StreamOrDevice s = {});
// The same with the offset read from `offset`, one integer in an array (so a replayed decode step
// keeps its kernels while the position moves), and, as MLX's fast.rope takes them, optional
// `freqs` (dims / 2,) in place of base: the angle of pair i is (offset + t) * scale / freqs[i].
array rope(const array& x, int dims, bool traditional, float base, float scale, const array& offset,
           const std::optional<array>& freqs = std::nullopt, StreamOrDevice s = {});

// softmax(q k^T * scale + mask) v with q (B, Hq, Tq, D), k and v (B, Hkv, Tk, D) and Hq a
// multiple of Hkv (grouped-query heads share a key/value head). mask: none, "causal" (query i
// sees keys j <= i + Tk - Tq, i.e. aligned at the end), or an array broadcastable to
// (B, Hq, Tq, Tk): boolean (true = keep) or additive (same float dtype as q).
array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::optional<array>& mask = std::nullopt, bool causal = false,
                                   StreamOrDevice s = {});

// One Adam or AdamW step for one parameter in a single kernel, as torch.optim.Adam(W) computes
// it (t counts from 1): with L2 weight decay g += wd p; with decoupled decay p *= 1 - lr wd;
// m += (1 - b1)(g - m); v = b2 v + (1 - b2) g^2; with amsgrad vmax = max(vmax, v) is used for v;
// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). Arrays share shape and a
// floating dtype. Returns (param, exp_avg, exp_avg_sq[, max_exp_avg_sq]). Not differentiable.
struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW
  int64_t t;
};
std::vector<array> adam_update(const array& param, const array& grad, const array& exp_avg,
                               const array& exp_avg_sq, const std::optional<array>& max_exp_avg_sq,
                               const AdamStep& step, StreamOrDevice s = {});

// The same step for a group of parameters of one dtype (any shapes) as one node: one pass per
// tensor on the CPU, one kernel launch per 24 tensors on the GPU (PyTorch's fused/foreach Adam).
// The vectors run in parallel (max_exp_avg_sqs empty, or one per parameter for amsgrad); returns
// one (param, exp_avg, exp_avg_sq[, max_exp_avg_sq]) vector per parameter.
std::vector<std::vector<array>> adam_update(const std::vector<array>& params, const std::vector<array>& grads,
                                            const std::vector<array>& exp_avgs,
                                            const std::vector<array>& exp_avg_sqs,
                                            const std::vector<array>& max_exp_avg_sqs, const AdamStep& step,
                                            StreamOrDevice s = {});

// Per-row cross entropy of logits (N, C) (any float dtype) against class indices targets (N,)
// (any integer dtype): logsumexp(x) - x[t], computed and returned as (N,) float32 (float64 for
// float64 logits). Rows whose target equals ignore_index give 0. label_smoothing eps in [0, 1]
// gives (1 - eps)(lse - x[t]) + eps (lse - mean_c x_c), as PyTorch. A target outside [0, C) other
// than ignore_index is an error when the loss is evaluated, as take_along_axis reports an
// out-of-range index: std::out_of_range("[cross_entropy] target 7 is out of range for 5
// classes"), thrown before anything is written by the CPU kernel and, on the GPU, by the host
// check of targets that are still in host memory; targets already on the GPU are checked by the
// kernel itself (no host sync) and the error is raised when the primitive completes, carried by
// every array computed from it. The gradient (logits only) is one fused pass too:
// g (softmax(x) - (1 - eps) onehot(t) - eps / C), zero rows for ignored targets, written over the
// logits' buffer when nothing else reads them.
array cross_entropy(const array& logits, const array& targets, int64_t ignore_index = -100,
                    double label_smoothing = 0.0, StreamOrDevice s = {});

// Max pooling, channels last: x (..., S_1, ..., S_d, C) with d = kernel.size() in 1..3 pooled
// axes before the last, windows kernel[i] apart by stride[i] and no padding (pad with -inf first)
// -> (..., O_1, ..., O_d, C), O_i = (S_i - kernel[i]) / stride[i] + 1. One pass each way: the
// values and the input each output's gradient goes to are the composition's (strided slices
// combined by maximum, the last pooled axis first), i.e. the first maximum of the window in that
// order, and after a NaN the window's last element in that order. Overlapping windows add their
// gradients in float32 (float64 for float64).
array max_pool(const array& x, const std::vector<int>& kernel, const std::vector<int>& stride,
               StreamOrDevice s = {});

// SwiGLU, the gated MLP's activation: silu(gate) * up = gate sigmoid(gate) up, elementwise over
// arrays of one shape and floating dtype, computed in float32 (float64 for float64) and rounded
// once. Its gradient (both inputs) is one fused pass too.
array swiglu(const array& gate, const array& up, StreamOrDevice s = {});

// The same functions composed from plain ops: what the fused kernels are tested and benchmarked
// against, and what their gradients are computed from.
namespace composed {
array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s = {});
std::pair<array, array> rms_norm_residual(const array& x, const array& residual, const std::optional<array>& weight,
                                          float eps, StreamOrDevice s = {});
array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias,
                 float eps, StreamOrDevice s = {});
array rope(const array& x, int dims, bool traditional, float base, float scale, int offset,
           StreamOrDevice s = {});
array rope(const array& x, int dims, bool traditional, float base, float scale, const array& offset,
           const std::optional<array>& freqs = std::nullopt, StreamOrDevice s = {});
array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::optional<array>& mask = std::nullopt, bool causal = false,
                                   StreamOrDevice s = {});
std::vector<array> adam_update(const array& param, const array& grad, const array& exp_avg,
                               const array& exp_avg_sq, const std::optional<array>& max_exp_avg_sq,
                               const AdamStep& step, StreamOrDevice s = {});
array cross_entropy(const array& logits, const array& targets, int64_t ignore_index = -100,
                    double label_smoothing = 0.0, StreamOrDevice s = {});
array max_pool(const array& x, const std::vector<int>& kernel, const std::vector<int>& stride,
               StreamOrDevice s = {});
array swiglu(const array& gate, const array& up, StreamOrDevice s = {});
}  // namespace composed

}  // namespace alloy::fast
