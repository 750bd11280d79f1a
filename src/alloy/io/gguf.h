// GGUF (versions 2 and 3, little-endian): metadata, tensor infos and tensors.
//
// load_gguf memory-maps the file. Tensors whose ggml type has an alloy dtype (F32, F16, BF16,
// F64, I8, I16, I32, I64) become arrays with shape reverse(ne) (ne is fastest-first, alloy is
// row-major), wrapping the mapping without a copy where aligned. Quantized tensors appear only
// in tensor_infos; their raw blocks are at file.tensor_data(info), valid while `mapping` lives.
// The ggml type table (block sizes and block byte sizes) is here, in one place, for the
// loader's extent checks and for the quantization layer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/io/io_error.h"

namespace alloy::io {

// ---------- ggml tensor types ----------
enum class GGMLType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

struct GGMLTypeInfo {
  const char* name;
  uint32_t block_size;  // elements per block (1 for plain types)
  uint32_t type_size;   // bytes per block
  bool quantized;
};

// nullptr for ids that are unknown or were removed from ggml (4, 5, 31..33, 36..38).
const GGMLTypeInfo* ggml_type_info(uint32_t type);
std::string ggml_type_name(uint32_t type);  // "Q4_K", or "unknown(77)"

// ---------- metadata values ----------
// GGUF arrays are homogeneous, so each element type has its own vector alternative; an array
// of arrays is a std::vector<GGUFValue> whose elements hold array alternatives.
struct GGUFValue;
using GGUFValueVariant =
    std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, uint64_t, int64_t, float,
                 double, bool, std::string, std::vector<uint8_t>, std::vector<int8_t>,
                 std::vector<uint16_t>, std::vector<int16_t>, std::vector<uint32_t>,
                 std::vector<int32_t>, std::vector<uint64_t>, std::vector<int64_t>,
                 std::vector<float>, std::vector<double>, std::vector<bool>,
                 std::vector<std::string>, std::vector<GGUFValue>>;
struct GGUFValue : GGUFValueVariant {
  using GGUFValueVariant::GGUFValueVariant;
  using GGUFValueVariant::operator=;
  GGUFValue() = default;
  const GGUFValueVariant& variant() const { return *this; }
};

// GGUF's value type codes.
enum class GGUFValueType : uint32_t {
  uint8 = 0,
  int8 = 1,
  uint16 = 2,
  int16 = 3,
  uint32 = 4,
  int32 = 5,
  float32 = 6,
  bool_ = 7,
  string = 8,
  array = 9,
  uint64 = 10,
  int64 = 11,
  float64 = 12,
};
// The type code of a C++ alternative (any vector, or GGUFValue as an element, is an array).
template <typename T>
constexpr GGUFValueType gguf_value_type_of() {
  if constexpr (std::is_same_v<T, uint8_t>)
    return GGUFValueType::uint8;
  else if constexpr (std::is_same_v<T, int8_t>)
    return GGUFValueType::int8;
  else if constexpr (std::is_same_v<T, uint16_t>)
    return GGUFValueType::uint16;
  else if constexpr (std::is_same_v<T, int16_t>)
    return GGUFValueType::int16;
  else if constexpr (std::is_same_v<T, uint32_t>)
    return GGUFValueType::uint32;
  else if constexpr (std::is_same_v<T, int32_t>)
    return GGUFValueType::int32;
  else if constexpr (std::is_same_v<T, uint64_t>)
    return GGUFValueType::uint64;
  else if constexpr (std::is_same_v<T, int64_t>)
    return GGUFValueType::int64;
  else if constexpr (std::is_same_v<T, float>)
    return GGUFValueType::float32;
  else if constexpr (std::is_same_v<T, double>)
    return GGUFValueType::float64;
  else if constexpr (std::is_same_v<T, bool>)
    return GGUFValueType::bool_;
  else if constexpr (std::is_same_v<T, std::string>)
    return GGUFValueType::string;
  else
    return GGUFValueType::array;
}
GGUFValueType gguf_value_type(const GGUFValue& v);
// Any integer or bool alternative (nullopt for others and for a uint64 above INT64_MAX).
std::optional<int64_t> gguf_to_int(const GGUFValue& v);
// Any numeric or bool alternative.
std::optional<double> gguf_to_double(const GGUFValue& v);
// For printing: strings quoted, arrays shortened to their first `max_elements` elements.
std::string gguf_value_to_string(const GGUFValue& v, size_t max_elements = 8);

// ---------- files ----------
struct GGUFTensorInfo {
  std::string name;
  uint32_t ggml_type;
  std::vector<uint64_t> ne;  // fastest-varying first
  uint64_t offset;           // from the start of the tensor data section
  uint64_t nbytes;
};

struct GGUFFile {
  uint32_t version = 3;
  std::map<std::string, GGUFValue> metadata;
  std::vector<GGUFTensorInfo> tensor_infos;  // in file order
  std::unordered_map<std::string, array> tensors;
  size_t alignment = 32;
  // Keeps the mapping (or the copied buffer) alive; the raw tensor data lies inside it.
  std::shared_ptr<const void> mapping;
  const uint8_t* tensor_data_base = nullptr;
  size_t tensor_data_size = 0;  // bytes from tensor_data_base to the end of the file

  const uint8_t* tensor_data(const GGUFTensorInfo& info) const {
    return tensor_data_base + info.offset;
  }
  const GGUFValue* find(const std::string& key) const {
    auto it = metadata.find(key);
    return it == metadata.end() ? nullptr : &it->second;
  }
};

GGUFFile load_gguf(const std::string& path, bool load_tensors = true);
GGUFFile load_gguf_from_memory(const uint8_t* data, size_t size, const std::string& name,
                               bool load_tensors = true);
// Writes version 3 with general.alignment 32. Tensors (sorted by name) may be float32, float16,
// bfloat16, float64, int8, int16, int32 or int64.
void save_gguf(const std::string& path, const std::unordered_map<std::string, array>& tensors,
               const std::map<std::string, GGUFValue>& metadata = {});

// A tensor written as it is: `data` holds exactly its bytes (raw blocks as uint8 for a quantized
// type, or a plain array of the matching dtype); ne is fastest-first. Written in the given order.
struct GGUFTensorOut {
  std::string name;
  uint32_t ggml_type;
  std::vector<uint64_t> ne;
  array data;
};
void save_gguf_tensors(const std::string& path, const std::vector<GGUFTensorOut>& tensors,
                       const std::map<std::string, GGUFValue>& metadata = {});

}  // namespace alloy::io
