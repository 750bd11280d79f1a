// MLX-community quantized safetensors (what mlx_lm.convert -q writes). The config's
// "quantization" holds {"group_size", "bits"[, "mode": "affine"]} and, for modules quantized
// otherwise, the module's path mapped to its own {"group_size", "bits"} (or false: not quantized).
// A quantized module P stores P.weight as uint32 words, each row one little-endian bit stream
// (value j at bits [j * bits, (j + 1) * bits)), and P.scales, P.biases (rows, K / group_size) in
// the model's dtype: w[r, j] = scales[r, j / g] * q[r, j] + biases[r, j / g].
#pragma once

#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "alloy/core/array.h"

namespace alloy::llm {

struct MlxQuantization {
  int group_size = 64, bits = 4;
  std::map<std::string, std::optional<std::pair<int, int>>> modules;  // path -> (group_size, bits), or none
};

// The config's "quantization", or nullopt where it has none. Throws std::invalid_argument for a
// mode other than affine, or bits/group sizes MLX does not write (bits 2, 3, 4, 5, 6, 8; groups
// 32, 64, 128).
std::optional<MlxQuantization> read_mlx_quantization(const nlohmann::json& config, const std::string& where);

// What read_hf_model makes of the quantized modules.
enum class MlxWeights {
  // P.weight dense in the scales' dtype, as mlx.core.dequantize gives it (float32 arithmetic,
  // one rounding): for the converters, which write the values anew.
  dense,
  // For running: weights of up to 6 bits become Q8_0 rows of exactly those dense values (what
  // quant::quantize_row makes of them), converted row by row without the dense tensor. Q8_0 runs
  // on the quantized matmul kernels at a quarter of float32's memory, with an error far below
  // the MLX quantization's own (a Q8_0 step is 1/127 of a block's largest magnitude, a 4-bit step
  // 1/15 of a group's range; tiny-llama's logits: 0.014 from Q8_0 against 0.16 from MLX's 4
  // bits). 8-bit weights stay dense: there Q8_0 would double the error (0.013 on top of 0.012).
  q8_0_rows,
};

// A module's weight as read_hf_model hands it on.
struct MlxModule {
  int group_size = 0, bits = 0;
  Shape shape;        // (rows, columns) of the dequantized weight
  Dtype dtype = float32;  // the scales' dtype: the dense values' (and the model's float type)
  bool q8_0 = false;  // P.weight is Q8_0 rows: uint8 (rows, columns / 32 * 34)
};

// Replaces every quantized module's (P.weight, P.scales, P.biases) in `tensors` (the files'
// names) by P.weight as `to` says, on every core. Returns each converted weight by name. Throws
// std::invalid_argument naming the module when the three disagree in shape or dtype.
std::map<std::string, MlxModule> convert_mlx_tensors(std::map<std::string, array>& tensors, const MlxQuantization& q,
                                                     MlxWeights to);

}  // namespace alloy::llm
