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
  // RMSNormGrad for rows of up to kMaxFusedGradD (float32 and 16-bit), else the composition's.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  static constexpr int64_t kMaxFusedGradD = 1024;

 private:
  float eps_;
};

// The backward of RMSNorm. Inputs (x[, weight], g); outputs (dx[, dweight]). Per row, in
// float32, with inv = 1 / sqrt(mean(x^2) + eps) and gw = g * weight:
// dx = inv gw - x inv^3 mean(gw x); dweight = sum over rows of g * (x inv rounded to x's dtype).
class RMSNormGrad : public Fused {
 public:
  RMSNormGrad(Stream s, Fallback f, float eps) : Fused(s, std::move(f)), eps_(eps) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("rms_norm_grad")
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    if (inputs.size() == 2) return {inputs[0].shape()};
    return {inputs[0].shape(), inputs[1].shape()};
  }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override {
    return std::vector<Dtype>(inputs.size() - 1, inputs[0].dtype());
  }

 private:
  float eps_;
};

// Inputs (x, residual[, weight]); outputs (x + residual, rms_norm of it).
class RMSNormResidual : public Fused {
 public:
  RMSNormResidual(Stream s, Fallback f, float eps) : Fused(s, std::move(f)), eps_(eps) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("rms_norm_residual")
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    return {inputs[0].shape(), inputs[0].shape()};
  }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override {
    return {inputs[0].dtype(), inputs[0].dtype()};
  }

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

// Inputs (x[, offset][, freqs]): offset int32 (1,) added to offset_; freqs float32 (dims / 2,).
class RoPE : public Fused {
 public:
  RoPE(Stream s, Fallback f, int dims, bool traditional, float base, float scale, int offset, bool has_offset_array,
       bool has_freqs)
      : Fused(s, std::move(f)), dims_(dims), traditional_(traditional), base_(base), scale_(scale),
        offset_(offset), has_offset_array_(has_offset_array), has_freqs_(has_freqs) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("rope")
  // A rotation's transpose is the rotation by the opposite angle: rope of the cotangent with -scale.
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;

 private:
  int dims_;
  bool traditional_;
  float base_, scale_;
  int offset_;
  bool has_offset_array_, has_freqs_;
};

// Inputs (q, k, v[, mask]); mask already broadcast to (B, Hq, Tq, Tk). Outputs (out, lse): lse
// (B, Hq, Tq) float32 is the log-sum-exp of each row's scaled, masked scores (-inf for a row that
// sees no key), kept for the backward. Its vjp is ScaledDotProductAttentionGrad unless the mask
// needs a gradient.
class ScaledDotProductAttention : public Fused {
 public:
  ScaledDotProductAttention(Stream s, Fallback f, float scale, bool causal, bool has_mask)
      : Fused(s, std::move(f)), scale_(scale), causal_(causal), has_mask_(has_mask) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("scaled_dot_product_attention")
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    const Shape& q = inputs[0].shape();
    return {Shape{q[0], q[1], q[2], inputs[2].shape(3)}, Shape{q[0], q[1], q[2]}};
  }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override {
    return {inputs[0].dtype(), float32};
  }
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;

 private:
  float scale_;
  bool causal_, has_mask_;
};

// The backward of ScaledDotProductAttention. Inputs (q, k, v[, mask], out, lse, d_out); outputs
// (dq, dk, dv) shaped and typed as q, k, v. P is recomputed from lse, so nothing of size
// (Tq, Tk) is kept between the passes: with delta = rowsum(d_out * out),
// dV = P^T dO, dS = P * (dO V^T - delta), dQ = scale dS K, dK = scale dS^T Q. Rows that see no
// key get zero gradients.
class ScaledDotProductAttentionGrad : public Fused {
 public:
  ScaledDotProductAttentionGrad(Stream s, Fallback f, float scale, bool causal, bool has_mask)
      : Fused(s, std::move(f)), scale_(scale), causal_(causal), has_mask_(has_mask) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("scaled_dot_product_attention_grad")
  // Whether the GPU has a kernel for this dtype and head size (16-bit floats, D == Dv in
  // {64, 128}). Elsewhere on the GPU the vjp is the composition's, which runs there.
  static bool gpu_supports(Dtype t, int64_t D, int64_t Dv) {
    return (t == float16 || t == bfloat16) && D == Dv && (D == 64 || D == 128);
  }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    return {inputs[0].shape(), inputs[1].shape(), inputs[2].shape()};
  }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override {
    return {inputs[0].dtype(), inputs[1].dtype(), inputs[2].dtype()};
  }

 private:
  float scale_;
  bool causal_, has_mask_;
};

// Adam over `count` tensors of one dtype. Inputs, per tensor: (param, grad, exp_avg, exp_avg_sq[,
// max_exp_avg_sq]); outputs, per tensor, the new values of all but grad, in the same order.
class AdamUpdate : public Fused {
 public:
  AdamUpdate(Stream s, Fallback f, fast::AdamStep step, int count, bool amsgrad)
      : Fused(s, std::move(f)), step_(step), count_(count), amsgrad_(amsgrad) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("adam_update")
  int inputs_per_tensor() const { return amsgrad_ ? 5 : 4; }
  int outputs_per_tensor() const { return amsgrad_ ? 4 : 3; }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    std::vector<Shape> out;
    for (int i = 0; i < count_; ++i) out.insert(out.end(), outputs_per_tensor(), inputs[i * inputs_per_tensor()].shape());
    return out;
  }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override {
    return std::vector<Dtype>(size_t(count_) * outputs_per_tensor(), inputs[0].dtype());
  }
  const fast::AdamStep& step() const { return step_; }
  int count() const { return count_; }

 private:
  fast::AdamStep step_;
  int count_;
  bool amsgrad_;
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

// MaxPool over the pooled axes of x (B, S_1..S_d, C) (leading axes folded into B); its gradient
// is MaxPoolGrad, whose inputs are (x, cotangent) and output dx: each output's window is folded
// again to find the input that gets its cotangent.
class MaxPool : public Fused {
 public:
  MaxPool(Stream s, Fallback f, std::vector<int> kernel, std::vector<int> stride)
      : Fused(s, std::move(f)), kernel_(std::move(kernel)), stride_(std::move(stride)) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("max_pool")
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override { return {inputs[0].dtype()}; }

 private:
  std::vector<int> kernel_, stride_;
};

class MaxPoolGrad : public Fused {
 public:
  MaxPoolGrad(Stream s, Fallback f, std::vector<int> kernel, std::vector<int> stride)
      : Fused(s, std::move(f)), kernel_(std::move(kernel)), stride_(std::move(stride)) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("max_pool_grad")
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override { return {inputs[0].shape()}; }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override { return {inputs[0].dtype()}; }

 private:
  std::vector<int> kernel_, stride_;
};

// SwiGLU over (gate, up) of one shape; its gradient SwiGLUGrad takes (gate, up, cotangent) and
// gives (d gate, d up).
class SwiGLU : public Fused {
 public:
  SwiGLU(Stream s, Fallback f) : Fused(s, std::move(f)) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("swiglu")
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums, const std::vector<array>& outputs) override;
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override { return {inputs[0].shape()}; }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override { return {inputs[0].dtype()}; }
};

class SwiGLUGrad : public Fused {
 public:
  SwiGLUGrad(Stream s, Fallback f) : Fused(s, std::move(f)) {}
  ALLOY_EVAL_MULTI
  ALLOY_NAME("swiglu_grad")
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override {
    return {inputs[0].shape(), inputs[0].shape()};
  }
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override {
    return {inputs[0].dtype(), inputs[0].dtype()};
  }
};

}  // namespace alloy
