// Quantized layers, as MLX's nn.QuantizedLinear / nn.QuantizedEmbedding / nn.quantize, on
// alloy's quantized kernels: ggml's block formats (core/quant_formats.h), so weights are the
// blocks a GGUF file holds. A quantized weight W (N, K) is a uint8 array (N, row_bytes(type, K)),
// a buffer of its layer (saved and loaded under the parameter's name, never trained); only the
// biases stay parameters. (bits, group_size) picks the format:
//   (8, 32) Q8_0   (4, 32) Q4_0   (4, 256) Q4_K   (5, 256) Q5_K   (6, 256) Q6_K
// group_size is the format's block size: K (a Linear's in_features, an Embedding's dims) must be
// a multiple of it. quantized_matmul quantizes the activations to 8 bits per block (Q8_0 for
// Q4_0/Q8_0 weights, Q8_K for the K formats), as llama.cpp does; gradients flow to the input,
// not the weights. A quantized Embedding's lookup decodes the rows it takes (core dequantize).
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "alloy/core/array.h"
#include "alloy/core/quant_formats.h"
#include "alloy/nn/embedding.h"
#include "alloy/nn/linear.h"
#include "alloy/nn/module.h"

namespace alloy::nn {

// The format of (bits, group_size); another pair is an error listing the supported ones. `op`
// names the caller in the message.
quant::Type quantization_type(int bits, int group_size, const char* op = "quantize");
// The (bits, group_size) of a format of the table above.
std::pair<int, int> quantization_bits(quant::Type type);

// Rows w (N, K) of a floating dtype -> their blocks, uint8 (N, row_bytes(type, K)), encoded as
// llama.cpp's reference quantizers (quant::quantize_row). K must be a multiple of the block size.
array quantize_rows(const array& w, quant::Type type, const char* op = "quantize");

// A Linear constructed quantized: from a fresh initialization, or from an existing (float)
// Linear's weights and bias.
class QuantizedLinear : public Linear {
 public:
  QuantizedLinear(int64_t in_features, int64_t out_features, bool bias = true, int bits = 4, int group_size = 32,
                  Dtype dtype = float32);
  explicit QuantizedLinear(const Linear& linear, int bits = 4, int group_size = 32);
  std::string describe() const override;
};

// An Embedding constructed quantized: from a fresh initialization (N(0, 1), as Embedding's), or
// from an existing (float) Embedding's weights.
class QuantizedEmbedding : public Embedding {
 public:
  QuantizedEmbedding(int64_t num_embeddings, int64_t dims, int bits = 4, int group_size = 32, Dtype dtype = float32);
  explicit QuantizedEmbedding(const Embedding& embedding, int bits = 4, int group_size = 32);
  std::string describe() const override;
};

// Which modules nn::quantize converts: (dotted path, module) -> bool. The path of the model
// itself is "".
using QuantizePredicate = std::function<bool(const std::string& path, Module& module)>;

// Quantizes, in place, every Linear and Embedding of the model's tree (the model included)
// whose in_features (dims) is a multiple of the format's block size and that `predicate` (if
// given) accepts; layers already quantized are left as they are. A tied output layer
// (Embedding::as_linear) is quantized with its Embedding. The model's state then holds the
// blocks under the weights' names, so save_weights / load_weights round-trip it (load into a
// model quantized the same way).
void quantize(Module& model, int bits = 4, int group_size = 32, const QuantizePredicate& predicate = {});

}  // namespace alloy::nn
