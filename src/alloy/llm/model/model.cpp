// The forward pass shared by every architecture. Per layer (shapes for B sequences of T new
// tokens, D = hidden, hd = head_dim):
//   h (B, T, D) -> norm -> q (B, Hq, T, hd), k and v (B, Hkv, T, hd) -> [q/k norm] -> RoPE at
//   positions offset.. -> cache -> attention over (B, Hkv, offset + T, hd) -> o -> [post norm]
//   -> + h -> norm -> gate/up -> act(gate) * up -> down -> [post norm] -> + h
// then the final norm and the output projection (last position only when asked). Each "+ h"
// and the norm after it are one fused pass (fast::rms_norm_residual). decode_step attends over
// the cache's whole capacity with a mask instead, so its shapes do not move with the position.
#include "alloy/llm/model/model.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "alloy/core/fast.h"
#include "alloy/core/ops.h"
#include "alloy/core/quantized.h"

namespace alloy::llm {

KVCache Model::make_cache(int64_t batch, int64_t max_positions, KVCacheType type, int64_t growth) const {
  if (max_positions <= 0 || max_positions > config_.context_length) max_positions = config_.context_length;
  return KVCache(config_.n_layers, batch, config_.n_kv_heads, config_.head_dim, max_positions, type, device_,
                 growth);
}

array Model::norm(const array& x, const array& weight) const {
  return fast::rms_norm(x, weight, config_.norm_eps, device_);
}

namespace {

// Frequencies of RoPE with llama3 scaling or explicit factors: (dims / 2) values.
std::vector<float> rope_frequencies(const RopeConfig& rc, int dims) {
  std::vector<float> f(static_cast<size_t>(dims / 2));
  for (int i = 0; i < dims / 2; ++i) f[i] = std::pow(rc.theta, -2.0f * float(i) / float(dims));
  if (!rc.freq_factors.empty()) {
    for (size_t i = 0; i < f.size() && i < rc.freq_factors.size(); ++i) f[i] /= rc.freq_factors[i];
  } else if (rc.scaling == "llama3") {
    const float pi = 3.14159265358979f;
    float old = float(rc.original_max_positions);
    float low_wavelen = old / rc.low_freq_factor, high_wavelen = old / rc.high_freq_factor;
    for (float& fi : f) {
      float wavelen = 2.0f * pi / fi;
      if (wavelen < high_wavelen) continue;
      if (wavelen > low_wavelen) {
        fi /= rc.factor;
      } else {
        float smooth = (old / wavelen - rc.low_freq_factor) / (rc.high_freq_factor - rc.low_freq_factor);
        fi = (1.0f - smooth) * fi / rc.factor + smooth * fi;
      }
    }
  }
  return f;
}

// A boolean mask (T, Tk) for queries at positions offset.. over keys 0..Tk-1: causal, and within
// `window` positions when window > 0.
array attention_mask(int64_t T, int64_t Tk, int64_t offset, int64_t window, Device d) {
  array qpos = reshape(arange(double(offset), double(offset + T), int32, d), {T, 1}, d);
  array kpos = reshape(arange(0.0, double(Tk), int32, d), {1, Tk}, d);
  array keep = less_equal(kpos, qpos, d);
  if (window > 0) keep = logical_and(keep, less(subtract(qpos, kpos, d), array(int32_t(window)), d), d);
  return keep;
}

// Attention with soft-capped scores (gemma2), composed: q (B, Hq, T, hd), k and v (B, Hkv, Tk, hd).
array softcapped_attention(const array& q, const array& k, const array& v, float scale, float cap,
                           const array& keep, Device d) {
  int64_t B = q.shape(0), Hq = q.shape(1), T = q.shape(2), hd = q.shape(3);
  int64_t Hkv = k.shape(1), Tk = k.shape(2), G = Hq / Hkv;
  array qg = reshape(q, {B, Hkv, G * T, hd}, d);  // the heads sharing a key head, stacked
  array scores = multiply(matmul(qg, swapaxes(k, -1, -2, d), d), array(scale), d);  // (B, Hkv, G*T, Tk)
  scores = multiply(tanh(divide(scores, array(cap), d), d), array(cap), d);
  scores = reshape(scores, {B, Hkv, G, T, Tk}, d);
  scores = where(keep, scores, array(-std::numeric_limits<float>::infinity(), scores.dtype()), d);
  array p = reshape(softmax(scores, -1, d), {B, Hkv, G * T, Tk}, d);
  return reshape(matmul(p, v, d), {B, Hq, T, hd}, d);
}

// GELU with the tanh approximation (gemma's gelu_pytorch_tanh):
// 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
array gelu_tanh(const array& x, Device d) {
  Dtype t = x.dtype();
  array inner = multiply(add(x, multiply(array(0.044715f, t), multiply(x, square(x, d), d), d), d),
                         array(0.7978845608028654f, t), d);
  return multiply(multiply(array(0.5f, t), x, d), add(array(1.0f, t), tanh(inner, d), d), d);
}

// The frequencies as fast::rope takes them (MLX's periods, 1 / frequency), for the configs whose
// frequencies are not base^(-2i/dims): llama3 scaling and explicit factors.
std::optional<array> rope_periods(const RopeConfig& rc, int64_t head_dim) {
  if (rc.scaling != "llama3" && rc.freq_factors.empty()) return std::nullopt;
  int dims = rc.dims > 0 ? rc.dims : int(head_dim);
  std::vector<float> periods = rope_frequencies(rc, dims);
  for (float& f : periods) f = 1.0f / f;
  return array(periods, {int64_t(periods.size())});
}
}  // namespace

Model::Model(ModelConfig config, ModelWeights weights, Device device, Dtype dtype, ModelInfo info)
    : config_(std::move(config)), weights_(std::move(weights)), device_(device), dtype_(dtype),
      info_(std::move(info)), rope_freqs_(rope_periods(config_.rope, config_.head_dim)),
      rope_local_freqs_(rope_periods(config_.rope_local, config_.head_dim)) {}

array Model::rope(const array& x, int64_t layer, const Positions& at) const {
  const bool sliding = config_.layer_is_sliding(layer);
  const RopeConfig& rc = sliding ? config_.rope_local : config_.rope;
  const std::optional<array>& periods = sliding ? rope_local_freqs_ : rope_freqs_;
  int dims = rc.dims > 0 ? rc.dims : int(config_.head_dim);
  float scale = rc.scaling == "linear" ? 1.0f / rc.factor : 1.0f;
  if (at.device || periods) {
    array offset = at.device ? *at.device : array(int32_t(at.offset));
    return fast::rope(x, dims, rc.traditional, rc.theta, scale, offset, periods, device_);
  }
  return fast::rope(x, dims, rc.traditional, rc.theta, scale, int(at.offset), device_);
}

array Model::attention(const LayerWeights& w, int64_t layer, const array& x, KVCache& cache,
                       const Positions& at) const {
  const Device d = device_;
  int64_t B = x.shape(0), T = x.shape(1), hd = config_.head_dim;
  int64_t Hq = config_.n_heads, Hkv = config_.n_kv_heads;
  // (B, T, H hd) -> (B, H, T, hd)
  auto heads = [&](const array& t, int64_t H) { return swapaxes(reshape(t, {B, T, H, hd}, d), 1, 2, d); };
  array q(0.0f), k(0.0f), v(0.0f);
  if (w.qkv && !w.q_norm && !w.k_norm) {
    // q and k turn by the same angles, so one rope covers both: their columns are adjacent.
    array qkv = (*w.qkv)(x, d);  // (B, T, (Hq + 2 Hkv) hd)
    array qk = rope(heads(slice(qkv, {0, 0, 0}, {B, T, (Hq + Hkv) * hd}, d), Hq + Hkv), layer, at);
    q = slice(qk, {0, 0, 0, 0}, {B, Hq, T, hd}, d);
    k = slice(qk, {0, Hq, 0, 0}, {B, Hq + Hkv, T, hd}, d);
    v = heads(slice(qkv, {0, 0, (Hq + Hkv) * hd}, {B, T, (Hq + 2 * Hkv) * hd}, d), Hkv);
  } else {
    if (w.qkv) {
      array qkv = (*w.qkv)(x, d);
      q = slice(qkv, {0, 0, 0}, {B, T, Hq * hd}, d);
      k = slice(qkv, {0, 0, Hq * hd}, {B, T, (Hq + Hkv) * hd}, d);
      v = slice(qkv, {0, 0, (Hq + Hkv) * hd}, {B, T, (Hq + 2 * Hkv) * hd}, d);
    } else {
      q = w.q(x, d);
      k = w.k(x, d);
      v = w.v(x, d);
    }
    q = heads(q, Hq);
    k = heads(k, Hkv);
    v = heads(v, Hkv);
    if (w.q_norm) q = norm(q, *w.q_norm);
    if (w.k_norm) k = norm(k, *w.k_norm);
    q = rope(q, layer, at);
    k = rope(k, layer, at);
  }
  const int64_t offset = at.offset;
  auto [keys, values] = at.device ? cache.write_at(layer, k, v, *at.device) : cache.update(layer, k, v);
  if (keys.dtype() != q.dtype()) {
    keys = astype(keys, q.dtype(), d);
    values = astype(values, q.dtype(), d);
  }
  int64_t Tk = keys.shape(2);
  float scale = config_.attention_scale();
  int64_t window = config_.layer_is_sliding(layer) ? config_.sliding_window : 0;
  bool window_matters = window > 0 && Tk > window;
  array out(0.0f);
  if (at.device) {
    // decode_step: the whole capacity, later positions (and those past the window) masked.
    const array& keep = window > 0 ? *at.keep_window : *at.keep;  // (1, capacity)
    out = config_.attn_softcap > 0 ? softcapped_attention(q, keys, values, scale, config_.attn_softcap, keep, d)
                                   : fast::scaled_dot_product_attention(q, keys, values, scale, keep, false, d);
  } else if (config_.attn_softcap > 0) {
    array keep = attention_mask(T, Tk, offset, window, d);
    out = softcapped_attention(q, keys, values, scale, config_.attn_softcap, keep, d);
  } else if (window_matters) {
    out = fast::scaled_dot_product_attention(q, keys, values, scale, attention_mask(T, Tk, offset, window, d),
                                             false, d);
  } else {
    // Causal with the queries aligned at the end of the keys; one query sees every key.
    out = fast::scaled_dot_product_attention(q, keys, values, scale, std::nullopt, T > 1, d);
  }
  out = reshape(swapaxes(out, 1, 2, d), {B, T, Hq * hd}, d);
  return w.o(out, d);
}

array Model::mlp(const LayerWeights& w, const array& x) const {
  const Device d = device_;
  array gate(0.0f), up(0.0f);
  if (w.gate_up && w.gate_up->quantized() && !w.gate_up->bias && config_.activation == Activation::silu) {
    // One node (on the GPU, for a single row, one kernel whose products never leave registers:
    // +2.5-4.5% decode, docs/PERFORMANCE.md).
    return w.down(quantized_matmul_swiglu(x, w.gate_up->weight, *w.gate_up->qtype, d), d);
  }
  if (w.gate_up) {
    array gu = (*w.gate_up)(x, d);  // (B, T, 2F): gate, then up
    int64_t F = gu.shape(-1) / 2;
    gate = slice(gu, {0, 0, 0}, {gu.shape(0), gu.shape(1), F}, d);
    up = slice(gu, {0, 0, F}, {gu.shape(0), gu.shape(1), 2 * F}, d);
  } else {
    gate = w.gate(x, d);
    up = w.up(x, d);
  }
  array hidden = config_.activation == Activation::silu ? fast::swiglu(gate, up, d)
                                                        : multiply(gelu_tanh(gate, d), up, d);
  return w.down(hidden, d);
}

array Model::add_norm_into(array& h, array a, const array& weight) const {
  if (a.dtype() != h.dtype()) a = astype(a, h.dtype(), device_);
  auto [sum, normed] = fast::rms_norm_residual(h, a, weight, config_.norm_eps, device_);
  h = sum;
  return normed;
}

array Model::forward_layers(array tokens, KVCache& cache, const Positions& at) const {
  const Device d = device_;
  array h = weights_.token_embd.lookup(tokens, dtype_, d);  // (B, T, D)
  if (config_.embed_scale != 1.0f) h = multiply(h, array(config_.embed_scale, dtype_), d);
  const int64_t L = config_.n_layers;
  array x = norm(h, L > 0 ? weights_.layers[0].attn_norm : weights_.output_norm);
  for (int64_t l = 0; l < L; ++l) {
    const LayerWeights& w = weights_.layers[static_cast<size_t>(l)];
    array a = attention(w, l, x, cache, at);
    if (w.post_attention_norm) a = norm(a, *w.post_attention_norm);
    array m = mlp(w, add_norm_into(h, a, w.ffn_norm));
    if (w.post_ffw_norm) m = norm(m, *w.post_ffw_norm);
    // The residual add and the next norm (the next layer's, or the final one) in one pass.
    x = add_norm_into(h, m, l + 1 < L ? weights_.layers[static_cast<size_t>(l + 1)].attn_norm : weights_.output_norm);
  }
  return x;
}

// x: the final norm's output.
array Model::logits(const array& x) const {
  const Device d = device_;
  array logits = weights_.output(x, d);
  if (logits.dtype() != float32) logits = astype(logits, float32, d);
  if (config_.final_softcap > 0) {
    float cap = config_.final_softcap;
    logits = multiply(tanh(divide(logits, array(cap), d), d), array(cap), d);
  }
  return logits;
}

array Model::forward(const array& tokens, KVCache& cache, bool last_only) const {
  if (tokens.ndim() != 2) {
    throw std::invalid_argument("forward takes tokens of shape (batch, length), got " +
                                shape_to_string(tokens.shape()));
  }
  int64_t B = tokens.shape(0), T = tokens.shape(1);
  if (cache.offset() + T > config_.context_length) {
    throw std::invalid_argument("the prompt and the generated text need " + std::to_string(cache.offset() + T) +
                                " positions, past the model's context length of " +
                                std::to_string(config_.context_length));
  }
  array x = forward_layers(tokens, cache, Positions{cache.offset(), std::nullopt, std::nullopt, std::nullopt});
  cache.advance(T);
  if (last_only && T > 1) x = slice(x, {0, T - 1, 0}, {B, T, x.shape(2)}, device_);  // norms are per row
  return logits(x);
}

array Model::decode_step(const array& token, const array& position, KVCache& cache) const {
  const Device d = device_;
  if (token.shape() != Shape{1, 1} || position.shape() != Shape{1}) {
    throw std::invalid_argument("decode_step takes a token of shape (1, 1) and a position of shape (1,), got " +
                                shape_to_string(token.shape()) + " and " + shape_to_string(position.shape()));
  }
  const int64_t capacity = cache.capacity();
  if (cache.offset() >= capacity) {
    throw std::invalid_argument("decode_step at position " + std::to_string(cache.offset()) +
                                " needs the cache reserved past it (capacity " + std::to_string(capacity) + ")");
  }
  Positions at{cache.offset(), astype(position, int32, d), std::nullopt, std::nullopt};
  array kpos = arange(0.0, double(capacity), int32, d);  // (capacity,)
  array keep = less_equal(kpos, *at.device, d);
  at.keep = reshape(keep, {1, capacity}, d);
  if (config_.sliding_window > 0) {
    array near = less(subtract(*at.device, kpos, d), array(int32_t(config_.sliding_window)), d);
    at.keep_window = reshape(logical_and(keep, near, d), {1, capacity}, d);
  }
  array x = forward_layers(token, cache, at);
  cache.advance(1);
  return reshape(logits(x), {1, config_.vocab_size}, d);
}

}  // namespace alloy::llm
