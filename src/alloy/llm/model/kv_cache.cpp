#include "alloy/llm/model/kv_cache.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "alloy/core/ops.h"

namespace alloy::llm {

KVCache::KVCache(int64_t n_layers, int64_t batch, int64_t n_kv_heads, int64_t head_dim,
                 int64_t max_positions, Dtype dtype, Device device, int64_t growth)
    : batch_(batch), n_kv_heads_(n_kv_heads), head_dim_(head_dim), max_positions_(max_positions),
      growth_(std::max<int64_t>(1, growth)),
      dtype_(dtype), device_(device), keys_(static_cast<size_t>(n_layers), array(0.0f)),
      values_(static_cast<size_t>(n_layers), array(0.0f)) {}

void KVCache::reserve(int64_t positions) {
  if (positions <= capacity_) return;
  if (positions > max_positions_) {
    throw std::invalid_argument("the sequence needs " + std::to_string(positions) +
                                " positions but the context holds " + std::to_string(max_positions_));
  }
  int64_t capacity = std::min(max_positions_, (positions + growth_ - 1) / growth_ * growth_);
  for (size_t l = 0; l < keys_.size(); ++l) {
    Shape shape{batch_, n_kv_heads_, capacity, head_dim_};
    array k = zeros(shape, dtype_, device_), v = zeros(shape, dtype_, device_);
    if (capacity_ > 0 && offset_ > 0) {
      Shape start{0, 0, 0, 0}, stop{batch_, n_kv_heads_, offset_, head_dim_};
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
  Shape start{0, 0, offset_, 0}, stop{batch_, n_kv_heads_, end, head_dim_};
  // Once K is replaced, the node is the old buffer's only holder, so the update writes into it
  // in place.
  array k_in = k.dtype() == dtype_ ? k : astype(k, dtype_, device_);
  array v_in = v.dtype() == dtype_ ? v : astype(v, dtype_, device_);
  K = slice_update(K, k_in, start, stop, device_);
  V = slice_update(V, v_in, start, stop, device_);
  Shape first{0, 0, 0, 0};
  return {slice(K, first, stop, device_), slice(V, first, stop, device_)};
}

std::pair<array, array> KVCache::write_at(int64_t layer, const array& k, const array& v, const array& position) {
  if (k.shape(2) != 1 || offset_ >= capacity_) {
    throw std::invalid_argument("write_at writes one position within the reserved capacity (" + std::to_string(capacity_) +
                                "), got " + std::to_string(k.shape(2)) + " at " + std::to_string(offset_));
  }
  auto& K = keys_[static_cast<size_t>(layer)];
  auto& V = values_[static_cast<size_t>(layer)];
  array k_in = k.dtype() == dtype_ ? k : astype(k, dtype_, device_);
  array v_in = v.dtype() == dtype_ ? v : astype(v, dtype_, device_);
  K = slice_update_at(K, k_in, position, {2}, device_);  // in place, as in update
  V = slice_update_at(V, v_in, position, {2}, device_);
  return {K, V};
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
