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

// Replaces every quantized module's (P.weight, P.scales, P.biases) in `tensors` (the files'
// names) by P.weight dense in the scales' dtype, as mlx.core.dequantize gives it (float32
// arithmetic, one rounding). Returns, by weight name, the (group_size, bits) each was stored in.
// Throws std::invalid_argument naming the module when the three disagree in shape.
std::map<std::string, std::pair<int, int>> dequantize_mlx_tensors(std::map<std::string, array>& tensors,
                                                                  const MlxQuantization& q);

}  // namespace alloy::llm
