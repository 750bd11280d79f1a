// The key/value cache of every layer: (B, Hkv, capacity, hd) buffers written in place at the
// current position (slice_update donates the old buffer, so a step copies only its own keys),
// grown in steps of 256 positions (or as asked). Stored in float16 by default, or as Q8_0
// blocks (B, Hkv, capacity, hd / 32 * 34 bytes): 53% of float16's memory, quantized as written
// and dequantized to the activations' dtype as read (llama.cpp's -ctk/-ctv q8_0).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/core/device.h"

namespace alloy::llm {

struct KVCacheType {
  Dtype dtype = float16;  // the stored values' dtype, when not blocks
  bool q8_0 = false;      // Q8_0 blocks
  KVCacheType() = default;
  KVCacheType(Dtype d) : dtype(d) {}  // NOLINT: a dtype is a cache type
  // "f16", "bf16", "f32" or "q8_0"; throws std::invalid_argument naming the choices otherwise.
  static KVCacheType parse(const std::string& name);
  std::string name() const;
};

class KVCache {
 public:
  // The buffers grow `growth` positions at a time (up to max_positions). A Q8_0 cache needs a
  // head size that is a multiple of 32.
  KVCache(int64_t n_layers, int64_t batch, int64_t n_kv_heads, int64_t head_dim,
          int64_t max_positions, KVCacheType type, Device device, int64_t growth = 256);

  int64_t offset() const { return offset_; }  // positions already cached
  int64_t max_positions() const { return max_positions_; }
  int64_t capacity() const { return capacity_; }  // positions the buffers hold now
  const KVCacheType& type() const { return type_; }

  // Writes k and v (B, Hkv, T, hd) at positions [offset, offset + T) of `layer` and returns that
  // layer's keys and values for positions [0, offset + T). Throws past max_positions.
  std::pair<array, array> update(int64_t layer, const array& k, const array& v);
  // The same for one position held on the device, `position` (1,) int32 equal to offset(), within
  // the capacity already reserved: returns the layer's whole buffers (B, Hkv, capacity, hd), so
  // the step's shapes stay those of the capacity.
  std::pair<array, array> write_at(int64_t layer, const array& k, const array& v, const array& position);
  // Grows the buffers (in steps of `growth` positions, up to max_positions) to hold `positions`; the
  // arrays change when they grow. Throws past max_positions.
  void reserve(int64_t positions);
  // Moves the position past the T positions every layer has just written.
  void advance(int64_t T);
  // Forgets positions from `position` on (0: everything); the buffers are kept.
  void truncate(int64_t position);
  // The arrays to evaluate with a step's output, so the cache holds values, not graphs.
  std::vector<array> state() const;

 private:

  array stored(const array& x) const;                 // values (B, Hkv, T, hd) as stored
  array values_of(const array& x, Dtype dtype) const;  // stored rows back as values in dtype

  int64_t batch_, n_kv_heads_, head_dim_, max_positions_, growth_;
  KVCacheType type_;
  int64_t row_;  // the last axis of the buffers: hd values or hd / 32 * 34 bytes
  Device device_;
  int64_t offset_ = 0;
  int64_t capacity_ = 0;
  std::vector<array> keys_, values_;  // per layer, (B, Hkv, capacity, hd)
};

}  // namespace alloy::llm
