// Block-quantized weight formats, bit-compatible with ggml's (so GGUF tensors are used as they
// lie in the file): the block layouts, and scalar codecs that turn rows of blocks into floats
// and back. The matmul kernels (backend/cpu/quant_dot.h, backend/cuda/quantized.cu) read the
// same structs. A row of n elements is n / block_size blocks, stored contiguously.
//
// Value of element i of a block, in words (d, dmin, m: fp16 scales; q: the stored integer):
//   Q4_0  d * (q - 8), q 4-bit              Q4_1  d * q + m
//   Q5_0  d * (q - 16), q 5-bit             Q5_1  d * q + m
//   Q8_0  d * q, q int8                     Q8_1  d * q (s = d * sum(q), for the dot products)
//   Q2_K..Q6_K  256-element super-blocks of 16 or 32-element sub-blocks, each with its own
//         6- or 8-bit scale (and min) relative to the super-block's d (and dmin)
//   Q8_K  float d, int8 q, int16 sums of each 16 q (activations of the K-type dot products)
//   IQ4_NL  d * kvalues_iq4nl[q]            IQ4_XS  the same values, 256-element super-blocks
//         with 6-bit sub-block scales
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace alloy::quant {

// The enumerators' values are ggml's type ids.
enum class Type : uint32_t {
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
  IQ4_NL = 20,
  IQ4_XS = 23,
};

constexpr int qk = 32;     // elements per block of the 32-element types
constexpr int qk_k = 256;  // elements per super-block of the K and IQ4_XS types
constexpr int k_scale_size = 12;

struct block_q4_0 {
  uint16_t d;
  uint8_t qs[qk / 2];  // element j in the low nibble of qs[j], element j + 16 in the high one
};
struct block_q4_1 {
  uint16_t d, m;
  uint8_t qs[qk / 2];
};
struct block_q5_0 {
  uint16_t d;
  uint8_t qh[4];  // bit j of the little-endian uint32: the fifth bit of element j
  uint8_t qs[qk / 2];
};
struct block_q5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[qk / 2];
};
struct block_q8_0 {
  uint16_t d;
  int8_t qs[qk];
};
struct block_q8_1 {
  uint16_t d, s;
  int8_t qs[qk];
};
struct block_q2_K {
  uint8_t scales[qk_k / 16];  // low nibble scale, high nibble min, per 16 elements
  uint8_t qs[qk_k / 4];
  uint16_t d, dmin;
};
struct block_q3_K {
  uint8_t hmask[qk_k / 8];
  uint8_t qs[qk_k / 4];
  uint8_t scales[12];  // sixteen 6-bit scales
  uint16_t d;
};
struct block_q4_K {
  uint16_t d, dmin;
  uint8_t scales[k_scale_size];  // eight 6-bit scales and eight 6-bit mins
  uint8_t qs[qk_k / 2];
};
struct block_q5_K {
  uint16_t d, dmin;
  uint8_t scales[k_scale_size];
  uint8_t qh[qk_k / 8];
  uint8_t qs[qk_k / 2];
};
struct block_q6_K {
  uint8_t ql[qk_k / 2];
  uint8_t qh[qk_k / 4];
  int8_t scales[qk_k / 16];
  uint16_t d;
};
struct block_q8_K {
  float d;
  int8_t qs[qk_k];
  int16_t bsums[qk_k / 16];
};
struct block_iq4_nl {
  uint16_t d;
  uint8_t qs[qk / 2];
};
struct block_iq4_xs {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[qk_k / 64];
  uint8_t qs[qk_k / 2];
};

#if defined(__CUDACC__)
#define ALLOY_QUANT_HD __host__ __device__ __forceinline__
#else
#define ALLOY_QUANT_HD inline
#endif

// Q4_K and Q5_K's eight 6-bit scales and mins in 12 bytes: sub-blocks 0..3 in the low six bits
// of bytes 0..3 (scales) and 4..7 (mins); sub-blocks 4..7 in the nibbles of bytes 8..11 with
// their top two bits in the top bits of bytes 0..7. Shared by the codecs and both backends.
ALLOY_QUANT_HD void k4_scale_min(const uint8_t* q, int j, int& sc, int& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// The 16 values of IQ4_NL and IQ4_XS.
extern const int8_t kvalues_iq4nl[16];

struct Format {
  Type type;
  const char* name;  // "Q4_K"
  int block_size;    // elements per block
  int block_bytes;   // bytes per block
};

// nullptr where `ggml_type` is not one of the types above.
const Format* format(uint32_t ggml_type);
const Format& format(Type t);
inline const char* name(Type t) { return format(t).name; }

// Bytes of a row of n elements; n must be a multiple of the block size (throws otherwise).
size_t row_bytes(Type t, int64_t n);

// The types whose matmul runs on the quantized blocks themselves (the others are dequantized
// at load): Q4_0, Q8_0, Q4_K, Q5_K, Q6_K.
bool has_matmul_kernel(Type t);

// n floats from n / block_size blocks at src. Every type above.
void dequantize_row(Type t, const void* src, float* dst, int64_t n);

// n floats to n / block_size blocks at dst, choosing scales as llama.cpp's reference quantizers
// do (round to nearest, with the K types' iterative scale/min search), so that our files and
// llama.cpp's agree. Every type above.
void quantize_row(Type t, const float* src, void* dst, int64_t n);

}  // namespace alloy::quant
