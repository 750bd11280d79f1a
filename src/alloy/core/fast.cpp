// The fused ops: validation, the plain-op compositions (used for gradients and as the
// reference in tests and benchmarks), and the nodes.
#include "alloy/core/fast.h"

#include <cmath>

#include "alloy/core/fast_primitives.h"
#include "alloy/core/ops_util.h"
#include "alloy/core/transforms.h"

namespace alloy::fast {
using detail::fail;

namespace {

void check_float(const array& x, const char* op) {
  if (!is_floating(x.dtype())) fail(op, "needs a floating-point input, got ", x.dtype());
}

void check_feature_vector(const std::optional<array>& w, const array& x, const char* op, const char* what) {
  if (w && (w->ndim() != 1 || w->shape(0) != x.shape(-1))) {
    fail(op, what, " must have shape (", x.shape(-1), ",), got ", shape_to_string(w->shape()));
  }
}

}  // namespace

namespace {
array rms_norm_impl(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice sd, bool compose) {
  if (x.ndim() == 0) fail("rms_norm", "needs at least one dimension");
  check_float(x, "rms_norm");
  check_feature_vector(weight, x, "rms_norm", "weight");
  Stream s = to_stream(sd);
  Dtype t = x.dtype();
  Fused::Fallback composed = [eps, t, has_w = bool(weight), s](const std::vector<array>& in) {
    array xf = astype(in[0], t == float64 ? float64 : float32, s);
    array norm = rsqrt(add(mean(square(xf, s), Axes{-1}, true, s), array(eps), s), s);
    array y = astype(multiply(xf, norm, s), t, s);
    if (has_w) y = multiply(y, astype(in[1], t, s), s);
    return std::vector<array>{y};
  };
  std::vector<array> inputs{x};
  if (weight) inputs.push_back(astype(*weight, t, s));
  if (compose) return composed(inputs)[0];
  return array::make_arrays({x.shape()}, {t}, std::make_shared<RMSNorm>(s, composed, eps), inputs)[0];
}

std::pair<array, array> rms_norm_residual_impl(const array& x, const array& residual,
                                               const std::optional<array>& weight, float eps, StreamOrDevice sd,
                                               bool compose) {
  if (x.ndim() == 0) fail("rms_norm_residual", "needs at least one dimension");
  check_float(x, "rms_norm_residual");
  if (residual.shape() != x.shape() || residual.dtype() != x.dtype()) {
    fail("rms_norm_residual", "x and residual must share shape and dtype, got ", x.dtype(), " ",
         shape_to_string(x.shape()), " and ", residual.dtype(), " ", shape_to_string(residual.shape()));
  }
  check_feature_vector(weight, x, "rms_norm_residual", "weight");
  Stream s = to_stream(sd);
  Dtype t = x.dtype();
  Fused::Fallback composed = [eps, s, compose](const std::vector<array>& in) {
    array sum = add(in[0], in[1], s);
    std::optional<array> w;
    if (in.size() > 2) w = in[2];
    return std::vector<array>{sum, rms_norm_impl(sum, w, eps, s, compose)};
  };
  std::vector<array> inputs{x, residual};
  if (weight) inputs.push_back(astype(*weight, t, s));
  std::vector<array> out = compose ? composed(inputs)
                                   : array::make_arrays({x.shape(), x.shape()}, {t, t},
                                                        std::make_shared<RMSNormResidual>(s, composed, eps), inputs);
  return {out[0], out[1]};
}

array layer_norm_impl(const array& x, const std::optional<array>& weight, const std::optional<array>& bias,
                      float eps, StreamOrDevice sd, bool compose) {
  if (x.ndim() == 0) fail("layer_norm", "needs at least one dimension");
  check_float(x, "layer_norm");
  check_feature_vector(weight, x, "layer_norm", "weight");
  check_feature_vector(bias, x, "layer_norm", "bias");
  Stream s = to_stream(sd);
  Dtype t = x.dtype();
  bool has_w = bool(weight), has_b = bool(bias);
  Fused::Fallback composed = [eps, t, has_w, has_b, s](const std::vector<array>& in) {
    array xf = astype(in[0], t == float64 ? float64 : float32, s);
    array mu = mean(xf, Axes{-1}, true, s);
    array centered = subtract(xf, mu, s);
    array var = mean(square(centered, s), Axes{-1}, true, s);
    array y = astype(multiply(centered, rsqrt(add(var, array(eps), s), s), s), t, s);
    size_t i = 1;
    if (has_w) y = multiply(y, in[i++], s);
    if (has_b) y = add(y, in[i], s);
    return std::vector<array>{y};
  };
  std::vector<array> inputs{x};
  if (weight) inputs.push_back(astype(*weight, t, s));
  if (bias) inputs.push_back(astype(*bias, t, s));
  if (compose) return composed(inputs)[0];
  return array::make_arrays({x.shape()}, {t}, std::make_shared<LayerNorm>(s, composed, eps, has_w, has_b),
                            inputs)[0];
}

// Inputs of the node: x[, offset][, freqs]. The angle of pair i at row t is
// (offset + offset_array + t) * scale * inv_freq_i, inv_freq_i = 1 / freqs[i] or base^(-2i/dims).
array rope_impl(const array& x, int dims, bool traditional, float base, float scale, int offset,
                const std::optional<array>& offset_array, const std::optional<array>& freqs, StreamOrDevice sd,
                bool compose) {
  if (x.ndim() < 2) fail("rope", "needs an input of shape (..., T, D), got ", shape_to_string(x.shape()));
  check_float(x, "rope");
  int64_t D = x.shape(-1), T = x.shape(-2);
  if (dims <= 0 || dims > D || dims % 2 != 0) {
    fail("rope", "dims must be even and in (0, ", D, "], got ", dims);
  }
  if (offset < 0) fail("rope", "offset must be non-negative, got ", offset);
  if (offset_array && (offset_array->size() != 1 || !is_integral(offset_array->dtype()))) {
    fail("rope", "an array offset must be one integer, got ", offset_array->dtype(), " ",
         shape_to_string(offset_array->shape()));
  }
  if (freqs && (freqs->ndim() != 1 || freqs->shape(0) != dims / 2)) {
    fail("rope", "freqs must have shape (", dims / 2, ",), got ", shape_to_string(freqs->shape()));
  }
  Stream s = to_stream(sd);
  Dtype t = x.dtype();
  const bool has_offset = offset_array.has_value(), has_freqs = freqs.has_value();
  Fused::Fallback composed = [=](const std::vector<array>& in) {
    // angles (T, dims/2) in float32
    int64_t half = dims / 2;
    Dtype acc = t == float64 ? float64 : float32;
    array pos = arange(double(offset), double(offset + T), 1.0, acc, s);
    if (has_offset) pos = add(pos, astype(reshape(in[1], {1}, s), acc, s), s);
    pos = multiply(pos, array(scale), s);
    array inv_freq = has_freqs ? reciprocal(astype(in.back(), acc, s), s)
                               : exp(multiply(arange(0.0, double(half), 1.0, acc, s),
                                              array(float(-2.0 * std::log(double(base)) / dims)), s), s);
    array ang = multiply(reshape(pos, {T, 1}, s), reshape(inv_freq, {1, half}, s), s);
    array c = cos(ang, s), sn = sin(ang, s);
    array xf = astype(in[0], acc, s);
    Shape lead(xf.shape().begin(), xf.shape().end() - 1);
    array rot = slice(xf, Shape(xf.ndim(), 0), [&] { Shape e = xf.shape(); e.back() = dims; return e; }(), s);
    // The rotated pairs: (2i, 2i+1) for traditional, (i, i + half) otherwise.
    auto [x1, x2] = [&]() -> std::pair<array, array> {
      if (!traditional) {
        auto halves = split(rot, 2, -1, s);
        return {halves[0], halves[1]};
      }
      Shape pairs = lead;
      pairs.insert(pairs.end(), {half, 2});
      array p = reshape(rot, pairs, s);
      auto parts = split(p, 2, -1, s);
      return {squeeze(parts[0], Axes{-1}, s), squeeze(parts[1], Axes{-1}, s)};
    }();
    array y1 = subtract(multiply(x1, c, s), multiply(x2, sn, s), s);
    array y2 = add(multiply(x1, sn, s), multiply(x2, c, s), s);
    array out_rot = traditional ? reshape(stack({y1, y2}, -1, s), rot.shape(), s) : concatenate({y1, y2}, -1, s);
    array out = dims == D ? out_rot : concatenate({out_rot, slice(xf, [&] { Shape b(xf.ndim(), 0); b.back() = dims; return b; }(), xf.shape(), s)}, -1, s);
    return std::vector<array>{astype(out, t, s)};
  };
  std::vector<array> inputs{x};
  if (has_offset) inputs.push_back(astype(reshape(*offset_array, {1}, s), int32, s));
  if (has_freqs) inputs.push_back(astype(*freqs, float32, s));
  // float64 runs the composition (the fused kernel computes in float32).
  if (compose || t == float64) return composed(inputs)[0];
  return array::make_arrays(
      {x.shape()}, {t},
      std::make_shared<RoPE>(s, composed, dims, traditional, base, scale, offset, has_offset, has_freqs), inputs)[0];
}

array sdpa_impl(const array& q, const array& k, const array& v, float scale, const std::optional<array>& mask,
                bool causal, StreamOrDevice sd, bool compose) {
  const char* op = "scaled_dot_product_attention";
  if (q.ndim() != 4 || k.ndim() != 4 || v.ndim() != 4) {
    fail(op, "q, k and v must be (B, heads, T, D); got ", shape_to_string(q.shape()), ", ",
         shape_to_string(k.shape()), ", ", shape_to_string(v.shape()));
  }
  check_float(q, op);
  int64_t B = q.shape(0), Hq = q.shape(1), Tq = q.shape(2), D = q.shape(3);
  int64_t Hkv = k.shape(1), Tk = k.shape(2);
  if (k.shape(0) != B || v.shape(0) != B || v.shape(1) != Hkv || v.shape(2) != Tk || k.shape(3) != D) {
    fail(op, "k and v must be (B, Hkv, Tk, D) matching q ", shape_to_string(q.shape()), "; got ",
         shape_to_string(k.shape()), " and ", shape_to_string(v.shape()));
  }
  if (Hkv == 0 || Hq % Hkv != 0) fail(op, "query heads (", Hq, ") must be a multiple of key/value heads (", Hkv, ")");
  if (mask && causal) fail(op, "give either a mask or causal, not both");
  Stream s = to_stream(sd);
  Dtype t = q.dtype();
  std::vector<array> inputs{q, astype(k, t, s), astype(v, t, s)};
  Shape score_shape{B, Hq, Tq, Tk};
  if (mask) {
    array m = *mask;
    if (m.dtype() != bool_) m = astype(m, t, s);
    try {
      m = broadcast_to(m, score_shape, s);
    } catch (const std::invalid_argument&) {
      fail(op, "the mask of shape ", shape_to_string(mask->shape()), " does not broadcast to ",
           shape_to_string(score_shape));
    }
    inputs.push_back(m);
  }
  int64_t groups = Hq / Hkv;
  bool has_mask = bool(mask);
  Fused::Fallback composed = [=](const std::vector<array>& in) {
    array kk = in[1], vv = in[2];
    if (groups > 1) {
      kk = repeat(kk, groups, 1, s);
      vv = repeat(vv, groups, 1, s);
    }
    Dtype acc = t == float64 ? float64 : float32;
    array scores = multiply(matmul(astype(in[0], acc, s), swapaxes(astype(kk, acc, s), -1, -2, s), s),
                            array(scale), s);
    if (has_mask) {
      const array& m = in[3];
      scores = m.dtype() == bool_ ? where(m, scores, array(-INFINITY), s) : add(scores, astype(m, acc, s), s);
    }
    if (causal) {
      array keep = tri(Tq, Tk, Tk - Tq, bool_, s);
      scores = where(keep, scores, array(-INFINITY), s);
    }
    array p = softmax(scores, -1, s);
    // The second output, (B, Hq, Tq) float32: what the fused backward recomputes P from.
    array lse = astype(logsumexp(scores, -1, false, s), float32, s);
    return std::vector<array>{astype(matmul(p, astype(vv, acc, s), s), t, s), lse};
  };
  if (compose || t == float64) return composed(inputs)[0];
  Shape out_shape{B, Hq, Tq, v.shape(3)};
  return array::make_arrays({out_shape, Shape{B, Hq, Tq}}, {t, float32},
                            std::make_shared<ScaledDotProductAttention>(s, composed, scale, causal, has_mask),
                            inputs)[0];
}

}  // namespace

array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s) {
  return rms_norm_impl(x, weight, eps, s, false);
}
std::pair<array, array> rms_norm_residual(const array& x, const array& residual, const std::optional<array>& weight,
                                          float eps, StreamOrDevice s) {
  return rms_norm_residual_impl(x, residual, weight, eps, s, false);
}
array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias, float eps,
                 StreamOrDevice s) {
  return layer_norm_impl(x, weight, bias, eps, s, false);
}
array rope(const array& x, int dims, bool traditional, float base, float scale, int offset, StreamOrDevice s) {
  return rope_impl(x, dims, traditional, base, scale, offset, std::nullopt, std::nullopt, s, false);
}
array rope(const array& x, int dims, bool traditional, float base, float scale, const array& offset,
           const std::optional<array>& freqs, StreamOrDevice s) {
  return rope_impl(x, dims, traditional, base, scale, 0, offset, freqs, s, false);
}
array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::optional<array>& mask, bool causal, StreamOrDevice s) {
  return sdpa_impl(q, k, v, scale, mask, causal, s, false);
}

namespace composed {
array rms_norm(const array& x, const std::optional<array>& weight, float eps, StreamOrDevice s) {
  return rms_norm_impl(x, weight, eps, s, true);
}
std::pair<array, array> rms_norm_residual(const array& x, const array& residual, const std::optional<array>& weight,
                                          float eps, StreamOrDevice s) {
  return rms_norm_residual_impl(x, residual, weight, eps, s, true);
}
array layer_norm(const array& x, const std::optional<array>& weight, const std::optional<array>& bias, float eps,
                 StreamOrDevice s) {
  return layer_norm_impl(x, weight, bias, eps, s, true);
}
array rope(const array& x, int dims, bool traditional, float base, float scale, int offset, StreamOrDevice s) {
  return rope_impl(x, dims, traditional, base, scale, offset, std::nullopt, std::nullopt, s, true);
}
array rope(const array& x, int dims, bool traditional, float base, float scale, const array& offset,
           const std::optional<array>& freqs, StreamOrDevice s) {
  return rope_impl(x, dims, traditional, base, scale, 0, offset, freqs, s, true);
}
array scaled_dot_product_attention(const array& q, const array& k, const array& v, float scale,
                                   const std::optional<array>& mask, bool causal, StreamOrDevice s) {
  return sdpa_impl(q, k, v, scale, mask, causal, s, true);
}
}  // namespace composed

}  // namespace alloy::fast

namespace alloy {

std::vector<array> RMSNorm::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>& outputs) {
  const array& x = primals[0];
  if (x.dtype() == float64 || x.shape(-1) > kMaxFusedGradD) return Fused::vjp(primals, cotangents, argnums, outputs);
  Fallback composed = [forward = fallback_](const std::vector<array>& in) {
    std::vector<array> xw(in.begin(), in.end() - 1);  // in: x[, weight], g
    return alloy::vjp(forward, xw, {in.back()}).second;
  };
  std::vector<array> in(primals);
  in.push_back(cotangents[0]);
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (const array& p : primals) {
    shapes.push_back(p.shape());
    dtypes.push_back(p.dtype());
  }
  auto grads = array::make_arrays(shapes, dtypes, std::make_shared<RMSNormGrad>(stream(), composed, eps_), in);
  std::vector<array> out;
  for (int a : argnums) out.push_back(grads[a]);
  return out;
}

// The offset and the frequencies are not differentiated: their cotangents are zeros.
std::vector<array> RoPE::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  for (int a : argnums) {
    if (a != 0) {
      out.push_back(zeros_like(primals[size_t(a)], stream()));
      continue;
    }
    // An array offset is the only way to give freqs, and then offset_ is 0.
    std::optional<array> freqs;
    if (has_freqs_) freqs = primals.back();
    out.push_back(has_offset_array_
                      ? fast::rope(cotangents[0], dims_, traditional_, base_, -scale_, primals[1], freqs, stream())
                      : fast::rope(cotangents[0], dims_, traditional_, base_, -scale_, offset_, stream()));
  }
  return out;
}

// The fused backward unless the mask itself needs a gradient (an additive mask computed from
// the differentiated inputs), which only the composition gives.
std::vector<array> ScaledDotProductAttention::vjp(const std::vector<array>& primals,
                                                  const std::vector<array>& cotangents,
                                                  const std::vector<int>& argnums,
                                                  const std::vector<array>& outputs) {
  for (int a : argnums) {
    if (a >= 3) return Fused::vjp(primals, cotangents, argnums, outputs);
  }
  if (stream().device.type == Device::gpu &&
      !ScaledDotProductAttentionGrad::gpu_supports(primals[0].dtype(), primals[0].shape(3), primals[2].shape(3))) {
    return Fused::vjp(primals, cotangents, argnums, outputs);
  }
  const size_t n_primals = has_mask_ ? 4 : 3;
  // The composition's gradient, for the CPU fallback's tests and for higher-order derivatives.
  Fallback composed = [forward = fallback_, n_primals](const std::vector<array>& in) {
    std::vector<array> qkv(in.begin(), in.begin() + n_primals);  // in: q, k, v[, mask], out, lse, d_out
    auto out_only = [&](const std::vector<array>& x) { return std::vector<array>{forward(x)[0]}; };
    auto grads = alloy::vjp(out_only, qkv, {in.back()}).second;
    return std::vector<array>{grads[0], grads[1], grads[2]};
  };
  std::vector<array> in(primals.begin(), primals.begin() + n_primals);
  in.insert(in.end(), {outputs[0], outputs[1], cotangents[0]});
  auto grads = array::make_arrays(
      {primals[0].shape(), primals[1].shape(), primals[2].shape()},
      {primals[0].dtype(), primals[1].dtype(), primals[2].dtype()},
      std::make_shared<ScaledDotProductAttentionGrad>(stream(), composed, scale_, causal_, has_mask_), in);
  std::vector<array> out;
  for (int a : argnums) out.push_back(grads[a]);
  return out;
}

}  // namespace alloy
