// A decoder-only transformer: the configuration, the weights, and the forward pass shared by
// every architecture (llm/arch/*). Built by load() (llm/load.h).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "alloy/core/array.h"
#include "alloy/core/device.h"
#include "alloy/llm/model/config.h"
#include "alloy/llm/model/kv_cache.h"
#include "alloy/llm/model/weights.h"

namespace alloy::llm {

// What a loaded model is made of, for `alloy info` and the benchmarks.
struct ModelInfo {
  std::string source;                         // the file or directory it came from
  std::string format;                         // "gguf" or "huggingface"
  std::map<std::string, int64_t> tensor_types;  // type name -> number of tensors
  int64_t parameters = 0;
  int64_t weight_bytes = 0;  // bytes of the weights as held in memory
};

class Model {
 public:
  Model(ModelConfig config, ModelWeights weights, Device device, Dtype dtype, ModelInfo info);

  const ModelConfig& config() const { return config_; }
  const ModelInfo& info() const { return info_; }
  Device device() const { return device_; }
  Dtype dtype() const { return dtype_; }  // the activations' dtype

  // tokens (B, T) int32 at positions [cache.offset(), cache.offset() + T) -> logits (B, T, V)
  // float32, or (B, 1, V) for the last position only. Appends to the cache. Throws
  // std::invalid_argument when the positions would pass the context length.
  array forward(const array& tokens, KVCache& cache, bool last_only = false) const;

  // One decode step whose kernels do not depend on the position, so the GPU can record it once
  // and replay it (generate/decoder.h): token (1, 1) int32 at the position held in `position`
  // (1,) int32, which must equal cache.offset(), with the cache already reserved past it.
  // Attention runs over the cache's whole capacity with the later positions masked. Appends to
  // the cache; returns logits (1, V) float32.
  array decode_step(const array& token, const array& position, KVCache& cache) const;

  // A cache for `batch` sequences of up to max_positions (0: the context length), growing
  // `growth` positions at a time, float16 unless `type` says otherwise (a dtype, or q8_0).
  KVCache make_cache(int64_t batch = 1, int64_t max_positions = 0, KVCacheType type = {},
                     int64_t growth = 256) const;

 private:
  // Where a pass's new tokens sit: the cache offset, and for decode_step the same position on the
  // device with the masks over the cache's capacity that go with it.
  struct Positions {
    int64_t offset = 0;
    std::optional<array> device;       // (1,) int32
    std::optional<array> keep;         // (1, capacity) bool: keys at or before the position
    std::optional<array> keep_window;  // the same within the sliding window
  };
  // tokens (B, T) -> the final norm of the last layer's output (B, T, D)
  array forward_layers(array tokens, KVCache& cache, const Positions& at) const;
  // h += a (the residual stream); returns rms_norm(h) with `weight`, one fused pass.
  array add_norm_into(array& h, array a, const array& weight) const;
  array attention(const LayerWeights& w, int64_t layer, const array& x, KVCache& cache, const Positions& at) const;
  array mlp(const LayerWeights& w, const array& x) const;
  array rope(const array& x, int64_t layer, const Positions& at) const;
  array norm(const array& x, const array& weight) const;
  array logits(const array& x) const;  // x: the final norm's output

  ModelConfig config_;
  ModelWeights weights_;
  Device device_;
  Dtype dtype_;
  ModelInfo info_;
  // MLX-style RoPE frequencies (dims / 2,) for llama3 scaling or explicit factors, per RopeConfig.
  std::optional<array> rope_freqs_, rope_local_freqs_;
};

}  // namespace alloy::llm
