// The ggml tensor type table: elements per block and bytes per block of every type a GGUF file
// may hold. The byte sizes follow from each block's layout, noted beside it
// (d/m: fp16 scale/min, qs: packed quants, qh: high bits).
#include <array>

#include "alloy/io/gguf.h"

namespace alloy::io {

namespace {

constexpr uint32_t qk_k = 256;  // super-block size of the K and IQ types

constexpr std::array<GGMLTypeInfo, 40> make_table() {
  std::array<GGMLTypeInfo, 40> t{};  // name nullptr: unknown or removed id
  t[0] = {"F32", 1, 4, false};
  t[1] = {"F16", 1, 2, false};
  t[2] = {"Q4_0", 32, 2 + 16, true};                    // d, qs[16]
  t[3] = {"Q4_1", 32, 2 + 2 + 16, true};                // d, m, qs[16]
  t[6] = {"Q5_0", 32, 2 + 4 + 16, true};                // d, qh[4], qs[16]
  t[7] = {"Q5_1", 32, 2 + 2 + 4 + 16, true};            // d, m, qh[4], qs[16]
  t[8] = {"Q8_0", 32, 2 + 32, true};                    // d, qs[32]
  t[9] = {"Q8_1", 32, 2 + 2 + 32, true};                // d, s, qs[32]
  t[10] = {"Q2_K", qk_k, 16 + 64 + 2 + 2, true};        // scales[16], qs[64], d, dmin
  t[11] = {"Q3_K", qk_k, 32 + 64 + 12 + 2, true};       // hmask[32], qs[64], scales[12], d
  t[12] = {"Q4_K", qk_k, 2 + 2 + 12 + 128, true};       // d, dmin, scales[12], qs[128]
  t[13] = {"Q5_K", qk_k, 2 + 2 + 12 + 32 + 128, true};  // d, dmin, scales[12], qh[32], qs[128]
  t[14] = {"Q6_K", qk_k, 128 + 64 + 16 + 2, true};      // ql[128], qh[64], scales[16], d
  t[15] = {"Q8_K", qk_k, 4 + 256 + 2 * 16, true};       // float d, qs[256], int16 bsums[16]
  t[16] = {"IQ2_XXS", qk_k, 2 + 2 * 32, true};          // d, uint16 qs[32]
  t[17] = {"IQ2_XS", qk_k, 2 + 2 * 32 + 8, true};       // d, uint16 qs[32], scales[8]
  t[18] = {"IQ3_XXS", qk_k, 2 + 96, true};              // d, qs[3 * 256 / 8]
  t[19] = {"IQ1_S", qk_k, 2 + 32 + 2 * 8, true};        // d, qs[32], uint16 qh[8]
  t[20] = {"IQ4_NL", 32, 2 + 16, true};                 // d, qs[16]
  t[21] = {"IQ3_S", qk_k, 2 + 64 + 8 + 32 + 4, true};   // d, qs[64], qh[8], signs[32], scales[4]
  t[22] = {"IQ2_S", qk_k, 2 + 64 + 8 + 8, true};        // d, qs[64], qh[8], scales[8]
  t[23] = {"IQ4_XS", qk_k, 2 + 2 + 4 + 128, true};      // d, scales_h, scales_l[4], qs[128]
  t[24] = {"I8", 1, 1, false};
  t[25] = {"I16", 1, 2, false};
  t[26] = {"I32", 1, 4, false};
  t[27] = {"I64", 1, 8, false};
  t[28] = {"F64", 1, 8, false};
  t[29] = {"IQ1_M", qk_k, 32 + 16 + 8, true};  // qs[32], qh[16], scales[8]
  t[30] = {"BF16", 1, 2, false};
  t[34] = {"TQ1_0", qk_k, 48 + 4 + 2, true};  // qs[48], qh[4], d
  t[35] = {"TQ2_0", qk_k, 64 + 2, true};      // qs[64], d
  t[39] = {"MXFP4", 32, 1 + 16, true};        // e8m0 scale, qs[16]
  return t;
}

constexpr std::array<GGMLTypeInfo, 40> type_table = make_table();

}  // namespace

const GGMLTypeInfo* ggml_type_info(uint32_t type) {
  if (type >= type_table.size() || type_table[type].name == nullptr) return nullptr;
  return &type_table[type];
}

std::string ggml_type_name(uint32_t type) {
  const GGMLTypeInfo* info = ggml_type_info(type);
  return info ? info->name : "unknown(" + std::to_string(type) + ")";
}

}  // namespace alloy::io
