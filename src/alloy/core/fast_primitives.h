// Primitives of the fused ops in fast.h. Each keeps its composition from plain ops (the
// fallback of Fused) for gradients.
#pragma once

#include "alloy/core/fast.h"
#include "alloy/core/primitives.h"

namespace alloy {

class RMSNorm : public Fused {
 public:
  RMSNorm(Stream s, Fallback f, float eps) : Fused(s, std::move(f)), eps_(eps) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("rms_norm")

 private:
  float eps_;
};

class LayerNorm : public Fused {
 public:
  LayerNorm(Stream s, Fallback f, float eps, bool has_weight, bool has_bias)
      : Fused(s, std::move(f)), eps_(eps), has_weight_(has_weight), has_bias_(has_bias) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("layer_norm")

 private:
  float eps_;
  bool has_weight_, has_bias_;
};

class RoPE : public Fused {
 public:
  RoPE(Stream s, Fallback f, int dims, bool traditional, float base, float scale, int offset)
      : Fused(s, std::move(f)), dims_(dims), traditional_(traditional), base_(base), scale_(scale),
        offset_(offset) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("rope")

 private:
  int dims_;
  bool traditional_;
  float base_, scale_;
  int offset_;
};

// Inputs (q, k, v[, mask]); mask already broadcast to (B, Hq, Tq, Tk).
class ScaledDotProductAttention : public Fused {
 public:
  ScaledDotProductAttention(Stream s, Fallback f, float scale, bool causal, bool has_mask)
      : Fused(s, std::move(f)), scale_(scale), causal_(causal), has_mask_(has_mask) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("scaled_dot_product_attention")

 private:
  float scale_;
  bool causal_, has_mask_;
};

// Inputs (param, grad, exp_avg, exp_avg_sq[, max_exp_avg_sq]); the outputs replace all but grad.
class AdamUpdate : public Fused {
 public:
  AdamUpdate(Stream s, Fallback f, fast::AdamStep step) : Fused(s, std::move(f)), step_(step) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("adam_update")
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    return std::vector<Shape>(inputs.size() - 1, inputs[0].shape());
  }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override {
    return std::vector<Dtype>(inputs.size() - 1, inputs[0].dtype());
  }
  const fast::AdamStep& step() const { return step_; }

 private:
  fast::AdamStep step_;
};

// Inputs (logits (N, C), targets int64 (N,)); outputs the loss (N,) and the logsumexp (N,) of each
// row, both float32 (float64 for float64 logits), the second kept for the gradient. The second
// output is internal (fast::cross_entropy returns only the loss), so vjp ignores its cotangent.
class CrossEntropy : public Fused {
 public:
  CrossEntropy(Stream s, Fallback f, int64_t ignore_index, double label_smoothing)
      : Fused(s, std::move(f)), ignore_index_(ignore_index), label_smoothing_(label_smoothing) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("cross_entropy")
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    return {inputs[1].shape(), inputs[1].shape()};
  }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override {
    Dtype acc = inputs[0].dtype() == float64 ? float64 : float32;
    return {acc, acc};
  }

 private:
  int64_t ignore_index_;
  double label_smoothing_;
};

// The logits' gradient of CrossEntropy's loss: inputs (logits (N, C), targets int64 (N,), lse (N,),
// cotangent (N,)), output (N, C) in the logits' dtype. Its fallback recomputes the softmax from the
// logits instead of reading lse, so gradients of the gradient are those of the composition.
class CrossEntropyGrad : public Fused {
 public:
  CrossEntropyGrad(Stream s, Fallback f, int64_t ignore_index, double label_smoothing)
      : Fused(s, std::move(f)), ignore_index_(ignore_index), label_smoothing_(label_smoothing) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("cross_entropy_grad")
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override { return {inputs[0].shape()}; }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override { return {inputs[0].dtype()}; }

 private:
  int64_t ignore_index_;
  double label_smoothing_;
};

}  // namespace alloy
