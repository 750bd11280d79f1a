// The tensors of a model file, named as in GGUF, before they become ModelWeights: dense arrays
// (wrapping the memory-mapped file where possible) or rows of quantized blocks. Both loaders
// (gguf_model.cpp, hf_model.cpp) fill one; build_weights turns it into the weights the config
// asks for, checking every name and shape.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "alloy/core/array.h"
#include "alloy/core/quant_formats.h"
#include "alloy/llm/model/config.h"
#include "alloy/llm/model/model.h"

namespace alloy::llm {

struct SourceTensor {
  // Dense values in their file dtype with alloy's (row-major) shape, or for quantized tensors
  // uint8 (rows, row_bytes) blocks.
  array data = array(0.0f);
  std::optional<quant::Type> qtype;
  Shape shape;           // the logical shape (rows, K) for quantized tensors
  std::string type_name;  // "F32", "Q4_K", "BF16", "MLX 8-bit/64", "Q8_0 (MLX 4-bit/64)"
};

using TensorSet = std::map<std::string, SourceTensor>;

struct BuildOptions {
  Device device = Device::cpu;
  Dtype dtype = float32;      // the activations' and the dense weights' dtype
  bool norm_adds_one = false;  // add 1 to every norm weight (Gemma from Hugging Face)
  std::function<void(int64_t, int64_t)> progress;  // (layers done, layers in all)
};

// Throws std::invalid_argument naming a missing tensor or a shape that disagrees with the
// config. Evaluates the converted weights on the device before returning.
ModelWeights build_weights(const ModelConfig& config, const TensorSet& tensors, const BuildOptions& options,
                           ModelInfo& info);

}  // namespace alloy::llm

#include "alloy/llm/load.h"
#include "alloy/llm/load/mlx_quantized.h"

namespace alloy::llm {
struct Architecture;

// A Hugging Face folder read but not yet made into weights (for load_hf_model and the GGUF
// converter): the config, the architecture, the tensors under their GGUF names (as stored:
// Hugging Face's Q/K row order, Gemma's norms without the 1), the tokenizer.
struct HFModelSource {
  ModelConfig config;
  const Architecture* arch;
  TensorSet tensors;
  std::optional<Tokenizer> tokenizer;
  Dtype file_dtype;
};
// MLX-community quantized modules are read as `mlx_weights` says (mlx_quantized.h).
HFModelSource read_hf_model(const std::string& directory, const LoadOptions& options,
                            MlxWeights mlx_weights = MlxWeights::dense);

// The device and dtype a load runs with: the options', else the default device, and float32
// on the CPU or `weights_dtype` (the file's float type) on the GPU.
BuildOptions resolve_build_options(const LoadOptions& options, Dtype weights_dtype);
}  // namespace alloy::llm
