#include "alloy/llm/load/mlx_quantized.h"

#include <stdexcept>
#include <vector>

#include "alloy/core/ops.h"
#include "alloy/core/transforms.h"
#include "alloy/llm/convert/encode.h"

namespace alloy::llm {
namespace {

using nlohmann::json;

void check_scheme(int group_size, int bits, const std::string& where) {
  const bool bits_ok = bits == 2 || bits == 3 || bits == 4 || bits == 5 || bits == 6 || bits == 8;
  const bool group_ok = group_size == 32 || group_size == 64 || group_size == 128;
  if (!bits_ok || !group_ok) {
    throw std::invalid_argument(where + ": MLX quantization with bits " + std::to_string(bits) + " and group_size " +
                                std::to_string(group_size) +
                                " is not one MLX writes (bits 2, 3, 4, 5, 6 or 8; group_size 32, 64 or 128)");
  }
}

std::pair<int, int> scheme_of(const json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("group_size") || !j.contains("bits") || !j["group_size"].is_number_integer() ||
      !j["bits"].is_number_integer()) {
    throw std::invalid_argument(where + ": \"quantization\" needs integer \"group_size\" and \"bits\", got " + j.dump());
  }
  std::string mode = j.value("mode", "affine");
  if (mode != "affine") {
    throw std::invalid_argument(where + ": MLX quantization mode '" + mode + "' is not supported (affine only)");
  }
  int g = j["group_size"].get<int>(), b = j["bits"].get<int>();
  check_scheme(g, b, where);
  return {g, b};
}

// packed (R, W) uint32, scales and biases (R, G) -> (R, G * g) float32.
std::vector<float> dequantize(const array& packed, const array& scales, const array& biases, int g, int bits) {
  const int64_t R = scales.shape(0), G = scales.shape(1), K = G * g, words = packed.shape(1);
  array s = astype(scales, float32), b = astype(biases, float32);
  array p = contiguous(packed);
  eval({s, b, p});
  const float* sp = s.data<float>();
  const float* bp = b.data<float>();
  const uint32_t* pp = p.data<uint32_t>();
  const uint64_t mask = (uint64_t(1) << bits) - 1;
  std::vector<float> out(size_t(R * K));
  for_each_row_on_every_core(R, [&](int64_t r) {
    const uint32_t* row = pp + r * words;
    for (int64_t j = 0; j < K; ++j) {
      // The value's bits start at bit j * bits of the row's stream and may cross a word.
      const int64_t bit = j * bits, w = bit / 32, shift = bit % 32;
      uint64_t stream = row[w];
      if (shift + bits > 32) stream |= uint64_t(row[w + 1]) << 32;
      const float q = float((stream >> shift) & mask);
      out[size_t(r * K + j)] = sp[r * G + j / g] * q + bp[r * G + j / g];
    }
  });
  return out;
}

}  // namespace

std::optional<MlxQuantization> read_mlx_quantization(const json& config, const std::string& where) {
  if (!config.contains("quantization")) return std::nullopt;
  const json& j = config["quantization"];
  MlxQuantization q;
  std::tie(q.group_size, q.bits) = scheme_of(j, where);
  for (const auto& [key, value] : j.items()) {
    if (key == "group_size" || key == "bits" || key == "mode") continue;
    if (value.is_boolean()) {
      if (!value.get<bool>()) q.modules[key] = std::nullopt;
      continue;
    }
    if (value.is_object()) q.modules[key] = scheme_of(value, where + " (" + key + ")");
  }
  return q;
}

std::map<std::string, std::pair<int, int>> dequantize_mlx_tensors(std::map<std::string, array>& tensors,
                                                                  const MlxQuantization& q) {
  std::map<std::string, std::pair<int, int>> dequantized;
  std::vector<std::string> modules;
  for (const auto& [name, a] : tensors) {
    const std::string suffix = ".scales";
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      modules.push_back(name.substr(0, name.size() - suffix.size()));
    }
  }
  for (const std::string& m : modules) {
    auto weight = tensors.find(m + ".weight"), biases = tensors.find(m + ".biases");
    const array& scales = tensors.at(m + ".scales");
    if (weight == tensors.end() || biases == tensors.end()) {
      throw std::invalid_argument(m + ".scales has no " + (weight == tensors.end() ? "weight" : "biases") +
                                  " next to it (an MLX quantized module stores weight, scales and biases)");
    }
    auto [g, bits] = std::pair{q.group_size, q.bits};
    if (auto it = q.modules.find(m); it != q.modules.end() && it->second) std::tie(g, bits) = *it->second;
    const array& packed = weight->second;
    const std::string shapes = m + ": weight " + shape_to_string(packed.shape()) + " " + dtype_name(packed.dtype()) +
                               ", scales " + shape_to_string(scales.shape()) + ", biases " +
                               shape_to_string(biases->second.shape());
    if (packed.dtype() != uint32 || packed.ndim() != 2 || scales.ndim() != 2 || biases->second.shape() != scales.shape() ||
        scales.shape(0) != packed.shape(0) || !is_floating(scales.dtype()) || !is_floating(biases->second.dtype())) {
      throw std::invalid_argument(shapes + " are not an MLX quantized module (uint32 (rows, words), float (rows, groups))");
    }
    const int64_t K = scales.shape(1) * g;
    if (packed.shape(1) * 32 != K * bits) {
      throw std::invalid_argument(shapes + " do not hold " + std::to_string(bits) + "-bit values in groups of " +
                                  std::to_string(g) + " (" + std::to_string(K) + " columns need " +
                                  std::to_string(K * bits / 32) + " words a row)");
    }
    std::vector<float> dense = dequantize(packed, scales, biases->second, g, bits);
    array w = astype(array(dense, {packed.shape(0), K}), scales.dtype());
    w.eval();
    weight->second = w;
    dequantized[m + ".weight"] = {g, bits};
    tensors.erase(biases);
    tensors.erase(m + ".scales");
  }
  return dequantized;
}

}  // namespace alloy::llm
