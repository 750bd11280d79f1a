// Loading a model and its tokenizer, as mlx_lm.load does:
//   auto [model, tokenizer] = alloy::llm::load("model.gguf");           // a GGUF file
//   auto [model, tokenizer] = alloy::llm::load("Llama-3.2-1B-Instruct"); // a Hugging Face folder
// GGUF files and safetensors are memory-mapped; weights that need no conversion are used in
// place. Errors (a missing or corrupt file, an unknown architecture or tensor type, a shape that
// disagrees with the config) throw std::exception subclasses whose message names the problem.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "alloy/core/device.h"
#include "alloy/core/dtype.h"
#include "alloy/llm/model/model.h"
#include "alloy/llm/tokenizer/tokenizer.h"

namespace alloy::llm {

struct LoadOptions {
  std::optional<Device> device;  // default: default_device()
  // The activations' dtype. Default: float32 on the CPU; on the GPU the weights' own float type
  // (float16 for quantized files).
  std::optional<Dtype> dtype;
  int64_t context_length = 0;  // 0: the model's own
  // Called as the weights are made ready: (layers done, layers in all). The CLI draws a bar.
  std::function<void(int64_t, int64_t)> progress;
};

struct LoadedModel {
  Model model;
  Tokenizer tokenizer;
};

LoadedModel load(const std::string& path, const LoadOptions& options = {});

// Internal steps of load(), one per format.
LoadedModel load_gguf_model(const std::string& path, const LoadOptions& options);
LoadedModel load_hf_model(const std::string& directory, const LoadOptions& options);

}  // namespace alloy::llm
