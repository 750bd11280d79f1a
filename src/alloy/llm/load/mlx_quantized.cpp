#include "alloy/llm/load/mlx_quantized.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <vector>

#include "alloy/backend/cpu/half_rows.h"
#include "alloy/backend/cpu/simd.h"
#include "alloy/core/half.h"
#include "alloy/core/ops.h"
#include "alloy/core/quant_formats.h"
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

// One quantized module, read: packed (rows, words) uint32, scales and biases (rows, groups) as
// float32 (exact: MLX writes them in a float dtype no wider).
struct PackedModule {
  const uint32_t* words;
  const float *scales, *biases;
  int64_t rows, columns, words_per_row, groups;
  int group_size, bits;
  Dtype dtype;  // the scales' dtype, which the dense values are rounded to
};

// The row's values as unsigned integers. 32 values of B bits fill exactly B words, so each
// 32-value block starts on a word.
template <int Bits>
void unpack_row(const uint32_t* row, int64_t columns, uint8_t* q) {
  constexpr uint64_t mask = (uint64_t(1) << Bits) - 1;
  for (int64_t block = 0; block < columns / 32; ++block, row += Bits, q += 32) {
    uint64_t stream = 0;
    int held = 0, next = 0;
    for (int j = 0; j < 32; ++j) {
      if (held < Bits) stream |= uint64_t(row[next++]) << held, held += 32;
      q[j] = uint8_t(stream & mask);
      stream >>= Bits;
      held -= Bits;
    }
  }
}

// 4 bits: the values are the row's nibbles in order, low nibble first (the words are
// little-endian, as the host), in a loop the compiler vectorizes. (8 bits are its bytes.)
void unpack_nibbles(const uint32_t* row, int64_t columns, uint8_t* q) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(row);
  for (int64_t i = 0; i < columns / 2; ++i) {
    q[2 * i] = bytes[i] & 15;
    q[2 * i + 1] = bytes[i] >> 4;
  }
}

void unpack_row(int bits, const uint32_t* row, int64_t columns, uint8_t* q) {
  static_assert(std::endian::native == std::endian::little, "MLX's words are read as the host's");
  switch (bits) {
    case 2: return unpack_row<2>(row, columns, q);
    case 3: return unpack_row<3>(row, columns, q);
    case 4: return unpack_nibbles(row, columns, q);
    case 5: return unpack_row<5>(row, columns, q);
    case 6: return unpack_row<6>(row, columns, q);
    case 8: return void(std::memcpy(q, row, size_t(columns)));
  }
  throw std::logic_error("unpack_row: " + std::to_string(bits) + " bits");
}

// A thread's scratch for one row: the unpacked integers, the dense values as float32 and, for
// the 16-bit dtypes, the same values' bits.
struct RowBuffers {
  std::vector<uint8_t> q;
  std::vector<float> values;
  std::vector<uint16_t> bits16;
};

// Row r in float32 arithmetic, rounded once to the scales' dtype: what mlx.core.dequantize gives
// (the clones for FMA machines may fuse scale * q + bias, a difference below float32's ulp).
ALLOY_SIMD_CLONES void dequantize_row(const PackedModule& m, int64_t r, RowBuffers& b) {
  const int64_t K = m.columns, g = m.group_size;
  b.q.resize(size_t(K));
  b.values.resize(size_t(K));
  unpack_row(m.bits, m.words + r * m.words_per_row, K, b.q.data());
  const float* s = m.scales + r * m.groups;
  const float* z = m.biases + r * m.groups;
  float* v = b.values.data();
  for (int64_t gi = 0; gi < m.groups; ++gi) {
    const uint8_t* q = b.q.data() + gi * g;
    const float scale = s[gi], bias = z[gi];
    for (int64_t i = 0; i < g; ++i) v[gi * g + i] = scale * float(q[i]) + bias;
  }
  if (m.dtype == float32) return;
  b.bits16.resize(size_t(K));
  uint16_t* h = b.bits16.data();
  if (m.dtype == float16) {
    cpu::float_to_half_row(v, h, K);
    cpu::half_to_float_row(h, v, K);
  } else {
    for (int64_t j = 0; j < K; ++j) {
      h[j] = detail::float_to_bf16_bits(v[j]);
      v[j] = detail::bf16_bits_to_float(h[j]);
    }
  }
}

// The module as one (rows, bytes_per_row) buffer, each row written by `emit` on every core.
array convert_rows(const PackedModule& m, size_t bytes_per_row, Dtype dtype, int64_t elements_per_row,
                   const std::function<void(const RowBuffers&, uint8_t*)>& emit) {
  const size_t bytes = bytes_per_row * size_t(m.rows);
  uint8_t* buf = allocate_converted(bytes, "converting an MLX weight");
  for_each_row_on_every_core(m.rows, [&](int64_t r) {
    thread_local RowBuffers b;
    dequantize_row(m, r, b);
    emit(b, buf + size_t(r) * bytes_per_row);
  });
  return array(buf, Shape{m.rows, elements_per_row}, dtype, [](void* p) { std::free(p); });
}

array to_q8_0_rows(const PackedModule& m) {
  const size_t row_bytes = quant::row_bytes(quant::Type::Q8_0, m.columns);
  return convert_rows(m, row_bytes, uint8, int64_t(row_bytes), [&](const RowBuffers& b, uint8_t* dst) {
    quant::quantize_row(quant::Type::Q8_0, b.values.data(), dst, m.columns);
  });
}

array to_dense(const PackedModule& m) {
  const size_t row_bytes = size_t(m.columns) * size_of(m.dtype);
  return convert_rows(m, row_bytes, m.dtype, m.columns, [&](const RowBuffers& b, uint8_t* dst) {
    std::memcpy(dst, m.dtype == float32 ? static_cast<const void*>(b.values.data()) : b.bits16.data(), row_bytes);
  });
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

std::map<std::string, MlxModule> convert_mlx_tensors(std::map<std::string, array>& tensors, const MlxQuantization& q,
                                                     MlxWeights to) {
  std::map<std::string, MlxModule> converted;
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
                               ", scales " + shape_to_string(scales.shape()) + " " + dtype_name(scales.dtype()) +
                               ", biases " + shape_to_string(biases->second.shape());
    const Dtype dtype = scales.dtype();
    if (packed.dtype() != uint32 || packed.ndim() != 2 || scales.ndim() != 2 || biases->second.shape() != scales.shape() ||
        scales.shape(0) != packed.shape(0) || (dtype != float32 && dtype != float16 && dtype != bfloat16) ||
        !is_floating(biases->second.dtype())) {
      throw std::invalid_argument(shapes +
                                  " are not an MLX quantized module (uint32 (rows, words), float32, float16 or bfloat16 "
                                  "(rows, groups))");
    }
    const int64_t K = scales.shape(1) * g;
    if (packed.shape(1) * 32 != K * bits) {
      throw std::invalid_argument(shapes + " do not hold " + std::to_string(bits) + "-bit values in groups of " +
                                  std::to_string(g) + " (" + std::to_string(K) + " columns need " +
                                  std::to_string(K * bits / 32) + " words a row)");
    }
    array s = astype(scales, float32), b = astype(biases->second, float32), p = contiguous(packed);
    eval({s, b, p});
    const PackedModule pm{p.data<uint32_t>(), s.data<float>(), b.data<float>(), packed.shape(0), K, packed.shape(1),
                          scales.shape(1), g, bits, dtype};
    MlxModule info{g, bits, Shape{packed.shape(0), K}, dtype, to == MlxWeights::q8_0_rows && bits < 8};
    weight->second = info.q8_0 ? to_q8_0_rows(pm) : to_dense(pm);
    converted[m + ".weight"] = info;
    tensors.erase(biases);
    tensors.erase(m + ".scales");
  }
  return converted;
}

}  // namespace alloy::llm
