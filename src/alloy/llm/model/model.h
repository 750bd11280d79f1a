// A decoder-only transformer: the configuration, the weights, and the forward pass shared by
// every architecture (llm/arch/*). Built by load() (llm/load.h).
#pragma once

#include <map>
#include <memory>
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

  // A cache for `batch` sequences of up to max_positions (0: the context length).
  KVCache make_cache(int64_t batch = 1, int64_t max_positions = 0, Dtype dtype = float16) const;

 private:
  array attention(const LayerWeights& w, int64_t layer, const array& x, KVCache& cache) const;
  array mlp(const LayerWeights& w, const array& x) const;
  array rope(const array& x, int64_t layer, int64_t offset) const;
  array norm(const array& x, const array& weight) const;

  ModelConfig config_;
  ModelWeights weights_;
  Device device_;
  Dtype dtype_;
  ModelInfo info_;
};

}  // namespace alloy::llm
