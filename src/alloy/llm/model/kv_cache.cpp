#include "alloy/llm/model/kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "alloy/core/ops.h"
#include "alloy/core/quantized.h"

namespace alloy::llm {

KVCacheType KVCacheType::parse(const std::string& name) {
  if (name == "f16") return KVCacheType(float16);
  if (name == "bf16") return KVCacheType(bfloat16);
  if (name == "f32") return KVCacheType(float32);
  if (name == "q8_0") {
    KVCacheType t;
    t.q8_0 = true;
    return t;
  }
  throw std::invalid_argument("unknown KV cache type '" + name + "' (f16, bf16, f32 or q8_0)");
}

std::string KVCacheType::name() const {
  if (q8_0) return "q8_0";
  return dtype == float32 ? "f32" : dtype == bfloat16 ? "bf16" : dtype == float16 ? "f16" : dtype_name(dtype);
}

KVCache::KVCache(int64_t n_layers, int64_t batch, int64_t n_kv_heads, int64_t head_dim,
                 int64_t max_positions, KVCacheType type, Device device, int64_t growth)
    : batch_(batch), n_kv_heads_(n_kv_heads), head_dim_(head_dim), max_positions_(max_positions),
      growth_(std::max<int64_t>(1, growth)), type_(type), row_(head_dim), device_(device),
      keys_(static_cast<size_t>(n_layers), array(0.0f)), values_(static_cast<size_t>(n_layers), array(0.0f)) {
  if (type_.q8_0) {
    if (head_dim % 32 != 0) {
      throw std::invalid_argument("a q8_0 KV cache needs a head size that is a multiple of 32, got " +
                                  std::to_string(head_dim));
    }
    row_ = int64_t(quant::row_bytes(quant::Type::Q8_0, head_dim));
  } else if (!is_floating(type_.dtype)) {
    throw std::invalid_argument(std::string("a KV cache holds floats, got ") + dtype_name(type_.dtype));
  }
}

array KVCache::stored(const array& x) const {
  if (type_.q8_0) return quantize(x, quant::Type::Q8_0, device_);
  return x.dtype() == type_.dtype ? x : astype(x, type_.dtype, device_);
}

array KVCache::values_of(const array& x, Dtype dtype) const {
  return type_.q8_0 ? dequantize(x, quant::Type::Q8_0, dtype, device_) : x;
}

void KVCache::reserve(int64_t positions) {
  if (positions <= capacity_) return;
  if (positions > max_positions_) {
    throw std::invalid_argument("the sequence needs " + std::to_string(positions) +
                                " positions but the context holds " + std::to_string(max_positions_));
  }
  int64_t capacity = std::min(max_positions_, (positions + growth_ - 1) / growth_ * growth_);
  for (size_t l = 0; l < keys_.size(); ++l) {
    Shape shape{batch_, n_kv_heads_, capacity, row_};
    const Dtype t = type_.q8_0 ? uint8 : type_.dtype;
    array k = zeros(shape, t, device_), v = zeros(shape, t, device_);
    if (capacity_ > 0 && offset_ > 0) {
      Shape start{0, 0, 0, 0}, stop{batch_, n_kv_heads_, offset_, row_};
      k = slice_update(k, slice(keys_[l], start, stop, device_), start, stop, device_);
      v = slice_update(v, slice(values_[l], start, stop, device_), start, stop, device_);
    }
    keys_[l] = k;
    values_[l] = v;
  }
  capacity_ = capacity;
}

std::pair<array, array> KVCache::update(int64_t layer, const array& k, const array& v) {
  int64_t T = k.shape(2);
  int64_t end = offset_ + T;
  if (end > max_positions_) {
    throw std::invalid_argument("the sequence needs " + std::to_string(end) +
                                " positions but the context holds " + std::to_string(max_positions_));
  }
  reserve(end);
  auto& K = keys_[static_cast<size_t>(layer)];
  auto& V = values_[static_cast<size_t>(layer)];
  Shape start{0, 0, offset_, 0}, stop{batch_, n_kv_heads_, end, row_};
  // Once K is replaced, the node is the old buffer's only holder, so the update writes into it
  // in place.
  K = slice_update(K, stored(k), start, stop, device_);
  V = slice_update(V, stored(v), start, stop, device_);
  Shape first{0, 0, 0, 0};
  return {values_of(slice(K, first, stop, device_), k.dtype()), values_of(slice(V, first, stop, device_), v.dtype())};
}

std::pair<array, array> KVCache::write_at(int64_t layer, const array& k, const array& v, const array& position) {
  if (k.shape(2) != 1 || offset_ >= capacity_) {
    throw std::invalid_argument("write_at writes one position within the reserved capacity (" + std::to_string(capacity_) +
                                "), got " + std::to_string(k.shape(2)) + " at " + std::to_string(offset_));
  }
  auto& K = keys_[static_cast<size_t>(layer)];
  auto& V = values_[static_cast<size_t>(layer)];
  K = slice_update_at(K, stored(k), position, {2}, device_);  // in place, as in update
  V = slice_update_at(V, stored(v), position, {2}, device_);
  return {values_of(K, k.dtype()), values_of(V, v.dtype())};
}

void KVCache::advance(int64_t T) { offset_ += T; }

void KVCache::truncate(int64_t position) {
  if (position < 0 || position > offset_) {
    throw std::invalid_argument("cannot truncate a cache of " + std::to_string(offset_) +
                                " positions to " + std::to_string(position));
  }
  offset_ = position;
}

std::vector<array> KVCache::state() const {
  std::vector<array> s;
  if (capacity_ == 0) return s;
  s.insert(s.end(), keys_.begin(), keys_.end());
  s.insert(s.end(), values_.begin(), values_.end());
  return s;
}

}  // namespace alloy::llm
