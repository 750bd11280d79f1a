// MultiHeadAttention: the projections are Linears; the attention itself is
// fast::scaled_dot_product_attention (fused, grouped-query heads without copies) except in
// training mode with dropout, where the attention weights must be materialized to drop some.
#include "alloy/nn/attention.h"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "alloy/core/fast.h"
#include "alloy/core/ops.h"
#include "alloy/nn/dropout.h"

namespace alloy::nn {
namespace {

[[noreturn]] void fail(const std::string& message) {
  throw std::invalid_argument("[MultiHeadAttention] " + message);
}

// Validates the arguments before any member is built, so the errors name this class.
int64_t checked_dims(int64_t dims, int64_t num_heads, std::optional<int64_t> num_kv_heads,
                     std::optional<int64_t> key_input_dims, std::optional<int64_t> value_input_dims,
                     double dropout) {
  if (dims <= 0) fail("dims must be positive, got " + std::to_string(dims));
  if (num_heads <= 0 || dims % num_heads != 0) {
    fail("num_heads must be positive and divide dims (" + std::to_string(dims) + "), got " +
         std::to_string(num_heads));
  }
  if (num_kv_heads && (*num_kv_heads <= 0 || num_heads % *num_kv_heads != 0)) {
    fail("num_kv_heads must be positive and divide num_heads (" + std::to_string(num_heads) + "), got " +
         std::to_string(*num_kv_heads));
  }
  if (key_input_dims && *key_input_dims <= 0) {
    fail("key_input_dims must be positive, got " + std::to_string(*key_input_dims));
  }
  if (value_input_dims && *value_input_dims <= 0) {
    fail("value_input_dims must be positive, got " + std::to_string(*value_input_dims));
  }
  if (!(dropout >= 0.0 && dropout <= 1.0)) fail("dropout must be in [0, 1], got " + std::to_string(dropout));
  return dims;
}

void check_input(const array& x, int64_t features, const char* what) {
  if (x.ndim() != 3 || x.shape(-1) != features || !is_floating(x.dtype())) {
    fail(std::string("expects ") + what + " (N, " + (what[0] == 'q' ? "L" : "S") + ", " +
         std::to_string(features) + ") of a floating dtype, got " + std::string(dtype_name(x.dtype())) + " " +
         shape_to_string(x.shape()));
  }
}

// A mask must broadcast to the scores (N, heads, L, S).
void check_mask(const array& mask, const Shape& scores) {
  if (mask.dtype() != bool_ && !is_floating(mask.dtype())) {
    fail("the mask must be bool (true = may attend) or floating (added to the scores), got " +
         std::string(dtype_name(mask.dtype())));
  }
  bool ok = mask.ndim() <= 4;
  for (int i = 1; ok && i <= mask.ndim(); ++i) {
    int64_t m = mask.shape(-i), s = scores[scores.size() - i];
    ok = m == 1 || m == s;
  }
  if (!ok) {
    fail("the mask of shape " + shape_to_string(mask.shape()) + " does not broadcast to the scores " +
         shape_to_string(scores));
  }
}

// (N, T, heads * head_dim) -> (N, heads, T, head_dim)
array split_heads(const array& x, int64_t heads) {
  return transpose(reshape(x, {x.shape(0), x.shape(1), heads, x.shape(2) / heads}), {0, 2, 1, 3});
}

}  // namespace

MultiHeadAttention::MultiHeadAttention(int64_t dims, int64_t num_heads, std::optional<int64_t> num_kv_heads,
                                       bool bias, std::optional<int64_t> key_input_dims,
                                       std::optional<int64_t> value_input_dims, double dropout, Dtype dtype)
    : query_proj(checked_dims(dims, num_heads, num_kv_heads, key_input_dims, value_input_dims, dropout), dims,
                 bias, dtype),
      key_proj(key_input_dims.value_or(dims), num_kv_heads.value_or(num_heads) * (dims / num_heads), bias, dtype),
      value_proj(value_input_dims.value_or(dims), num_kv_heads.value_or(num_heads) * (dims / num_heads), bias,
                 dtype),
      out_proj(dims, dims, bias, dtype),
      dims_(dims),
      num_heads_(num_heads),
      num_kv_heads_(num_kv_heads.value_or(num_heads)),
      dropout_(dropout) {
  register_module("query_proj", query_proj);
  register_module("key_proj", key_proj);
  register_module("value_proj", value_proj);
  register_module("out_proj", out_proj);
}

array MultiHeadAttention::forward(const array& queries, const array& keys, const array& values,
                                  const std::optional<array>& mask) {
  check_input(queries, dims_, "queries");
  check_input(keys, key_proj.in_features(), "keys");
  check_input(values, value_proj.in_features(), "values");
  const int64_t N = queries.shape(0), L = queries.shape(1), S = keys.shape(1);
  if (keys.shape(0) != N || values.shape(0) != N || values.shape(1) != S) {
    fail("queries, keys and values must share the batch size and keys and values the length; got " +
         shape_to_string(queries.shape()) + ", " + shape_to_string(keys.shape()) + " and " +
         shape_to_string(values.shape()));
  }
  if (mask) check_mask(*mask, {N, num_heads_, L, S});

  array q = split_heads(query_proj(queries), num_heads_);  // (N, H, L, hd)
  array k = split_heads(key_proj(keys), num_kv_heads_);    // (N, Hkv, S, hd)
  array v = split_heads(value_proj(values), num_kv_heads_);
  const double scale_d = 1.0 / std::sqrt(double(dims_ / num_heads_));
  float scale = float(scale_d);
  if (q.dtype() == float64) {
    // The attention's scale is a float: float64 scales the queries itself to keep its precision.
    q = multiply(q, array(scale_d));
    scale = 1.0f;
  }

  array o(0.0f);  // (N, H, L, hd)
  if (training() && dropout_ > 0.0) {
    const int64_t groups = num_heads_ / num_kv_heads_;
    if (groups > 1) {
      k = repeat(k, groups, 1);
      v = repeat(v, groups, 1);
    }
    array scores = multiply(matmul(q, swapaxes(k, -1, -2)), array(scale));  // (N, H, L, S)
    if (mask) {
      scores = mask->dtype() == bool_ ? where(*mask, scores, array(-INFINITY))
                                      : add(scores, astype(*mask, scores.dtype()));
    }
    array weights = nn::dropout(softmax(scores, -1), dropout_);  // (N, H, L, S)
    o = matmul(weights, v);
  } else {
    o = fast::scaled_dot_product_attention(q, k, v, scale, mask);
  }
  return out_proj(reshape(transpose(o, {0, 2, 1, 3}), {N, L, dims_}));
}

std::string MultiHeadAttention::describe() const {
  std::string s = "MultiHeadAttention(dims=" + std::to_string(dims_) + ", num_heads=" + std::to_string(num_heads_);
  if (num_kv_heads_ != num_heads_) s += ", num_kv_heads=" + std::to_string(num_kv_heads_);
  s += std::string(", bias=") + (out_proj.bias ? "true" : "false");
  if (dropout_ > 0) {
    std::string d = std::to_string(dropout_);
    d.erase(d.find_last_not_of('0') + 1);
    if (d.back() == '.') d.pop_back();
    s += ", dropout=" + d;
  }
  return s + ")";
}

array MultiHeadAttention::create_additive_causal_mask(int64_t L, Dtype dtype) {
  if (L <= 0) {
    throw std::invalid_argument("[MultiHeadAttention::create_additive_causal_mask] L must be positive, got " +
                                std::to_string(L));
  }
  double lowest = 0;
  switch (dtype) {
    case Dtype::float16: lowest = -65504.0; break;
    case Dtype::bfloat16: lowest = -3.3895313892515355e38; break;
    case Dtype::float32: lowest = std::numeric_limits<float>::lowest(); break;
    case Dtype::float64: lowest = std::numeric_limits<double>::lowest(); break;
    case Dtype::bool_:
    case Dtype::uint8:
    case Dtype::uint16:
    case Dtype::uint32:
    case Dtype::uint64:
    case Dtype::int8:
    case Dtype::int16:
    case Dtype::int32:
    case Dtype::int64:
      throw std::invalid_argument("[MultiHeadAttention::create_additive_causal_mask] dtype must be floating, got " +
                                  std::string(dtype_name(dtype)));
  }
  array keep = tri(L, L, 0, bool_);  // (L, L), true where j <= i
  return where(keep, zeros({}, dtype), full({}, array(lowest), dtype));
}

}  // namespace alloy::nn
