// What the quantized-matmul kernels share: the quantized activations, the packed weight tiles
// of the matmul (M > 1) kernels, and one entry point per instruction set. quant_dot.cpp holds
// the driver and the scalar kernels (the reference), quant_dot_avx2.cpp and
// quant_dot_avx512.cpp the vector ones; tests force a path through quantized_matmul(Isa, ...).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "alloy/backend/cpu/quant_dot.h"
#include "alloy/core/half.h"

namespace alloy::cpu::quant {

enum class Isa { scalar, avx2, avx512 };

const char* isa_name(Isa isa);
bool isa_supported(Isa isa);  // compiled in and reported by the CPU
// The fastest supported path, or the one ALLOY_QUANT_ISA (scalar|avx2|avx512) names.
Isa default_isa();

// quantized_matmul on a given path (throws if it is not supported here).
void quantized_matmul(Isa isa, Type weight_type, const float* x, int64_t M, int64_t K, const uint8_t* w,
                      int64_t N, float* out);

// The activations quantized to Q8_0 (32-element blocks, scale rounded to fp16) or Q8_K
// (256-element blocks, float scale) values, stored as planes rather than ggml's interleaved
// blocks so that the kernels load them with plain vector loads.
struct Activations {
  Type type = Type::Q8_0;
  int64_t M = 0, K = 0;
  std::vector<int8_t> q;     // (M, K)
  std::vector<float> d;      // (M, K / 32) for Q8_0, (M, K / 256) for Q8_K
  std::vector<int16_t> s32;  // (M, K / 32): sum of each 32 q (for the offset and min terms)
  std::vector<int16_t> s16;  // (M, K / 16): sum of each 16 q (Q8_K's bsums)
  std::vector<float> ds;     // (M, K / 32) for Q8_0: d * s32 (the offset term of unsigned weights)

  int64_t blocks() const { return K / (type == Type::Q8_0 ? 32 : 256); }
  const int8_t* q_row(int64_t m) const { return q.data() + m * K; }
  const float* d_row(int64_t m) const { return d.data() + m * blocks(); }
  const int16_t* s32_row(int64_t m) const { return s32.data() + m * (K / 32); }
  const int16_t* s16_row(int64_t m) const { return s16.data() + m * (K / 16); }
  const float* ds_row(int64_t m) const { return ds.data() + m * (K / 32); }
};

Activations quantize_activations(Type weight_type, const float* x, int64_t M, int64_t K);

// A tile of `nr` weight rows repacked for the matmul kernels, over all of K:
//   vals  (K / 4, nr, 4) uint8: 4 consecutive values of row 0, of row 1, ... so that one vector
//         of nr * 4 bytes meets a broadcast of 4 activation bytes. Q4_0 values are q (0..15, the
//         -8 is applied through the block sums), Q8_0 the int8 q, Q4_K q (0..15), Q5_K q
//         (0..31), Q6_K q (0..63, the -32 applied through the 16-element sums).
//   d     (K / 32, nr) for Q4_0 and Q8_0, (K / 256, nr) for the K types: fp16 d as float
//   dmin  (K / 256, nr): Q4_K and Q5_K
//   sc    (K / 32, nr) 6-bit scales of Q4_K, Q5_K; (K / 16, nr) int8 scales of Q6_K
//   mn    (K / 32, nr) 6-bit mins of Q4_K, Q5_K
// Rows past N are zero (their scales are zero), so partial tiles need no special case.
struct PackedTile {
  int nr = 0;
  std::vector<uint8_t> vals;
  std::vector<float> d, dmin;
  std::vector<int16_t> sc, mn;
};

// Packs weight rows [n0, n0 + nr) (clipped to N) of `w`; the vector byte shuffles are AVX2.
void pack_tile_avx2(Type t, const uint8_t* w, int64_t K, int64_t n0, int64_t N, int nr, PackedTile& tile);
// The same tile packed by scalar code (the reference for pack_tile_avx2 in tests).
void pack_tile_scalar(Type t, const uint8_t* w, int64_t K, int64_t n0, int64_t N, int nr, PackedTile& tile);

// One path's kernels. matvec: out[m * N + n] for weight rows n in [n0, n1) and every activation
// row m (the weights are read once for all of a.M, which is small). tile: out rows [m0, m0 + rows) x columns [n0, n0 + nr) from a packed
// tile, rows <= max_rows; out has row stride ldo.
struct Kernels {
  Isa isa;
  int nr;        // 0: no packed kernels (the driver runs matvec for every row)
  int max_rows;  // activation rows per tile call
  void (*matvec)(Type t, const uint8_t* w, int64_t K, const Activations& a, int64_t n0, int64_t n1, int64_t N,
                 float* out);
  void (*tile)(Type t, const PackedTile& tile, const Activations& a, int64_t m0, int rows, int64_t n0, int64_t N,
               float* out, int64_t ldo);
};

const Kernels& scalar_kernels();
const Kernels* avx2_kernels();    // nullptr where not compiled in (non-x86)
const Kernels* avx512_kernels();  // nullptr where not compiled in

// The weight types without a matmul kernel, as case labels, so that switches over Type list
// every enumerator and the compiler reports a new one.
#define ALLOY_QUANT_NO_KERNEL_CASES                                                           \
  case Type::Q4_1:                                                                            \
  case Type::Q5_0:                                                                            \
  case Type::Q5_1:                                                                            \
  case Type::Q8_1:                                                                            \
  case Type::Q2_K:                                                                            \
  case Type::Q3_K:                                                                            \
  case Type::Q8_K:                                                                            \
  case Type::IQ4_NL:                                                                          \
  case Type::IQ4_XS

[[noreturn]] inline void throw_no_kernel(Type t) {
  throw std::invalid_argument(std::string("[quantized_matmul] no kernel for weight type ") + alloy::quant::name(t));
}

inline float half_to_float_scalar(uint16_t h) { return alloy::detail::half_bits_to_float(h); }


}  // namespace alloy::cpu::quant
