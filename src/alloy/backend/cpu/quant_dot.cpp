// The quantized matmul's driver and its scalar path. The activations are quantized once per
// call (quantize_activations); then either every output row is a row of matvec dot products
// (M small: the weights stream from memory, each thread a contiguous range of N) or, for M of
// at least kPackedMinRows, each thread repacks tiles of nr weight rows (quant_dot_internal.h)
// and runs the path's micro-kernel over all activation rows, so every weight byte loaded is
// used against several rows. The scalar kernels are the reference the vector paths must match
// exactly in their integer dot products.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "alloy/backend/cpu/half_rows.h"
#include "alloy/backend/cpu/quant_dot_internal.h"
#include "alloy/backend/cpu/threading.h"
#include "alloy/core/half.h"

namespace alloy::cpu::quant {

using namespace alloy::quant;
using alloy::detail::half_bits_to_float;

namespace {

constexpr int64_t kPackedMinRows = 4;  // below it, matvec per row beats repacking

// Round to nearest, ties to even (ggml's nearest_int); |v| <= 2^22.
inline int nearest_int(float v) {
  float f = v + 12582912.f;
  int32_t i;
  std::memcpy(&i, &f, 4);
  return (i & 0x007fffff) - 0x00400000;
}

// ggml's quantize_row_q8_0: d = amax / 127 rounded to fp16, q = round(x / d).
void quantize_q8_0_row(const float* x, int64_t K, int8_t* q, float* d, int16_t* s32) {
  for (int64_t b = 0; b < K / 32; ++b) {
    const float* xb = x + b * 32;
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(xb[j]));
    float db = amax / 127.f, id = db != 0 ? 1.f / db : 0.f;
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
      int v = nearest_int(xb[j] * id);
      q[b * 32 + j] = int8_t(v);
      sum += v;
    }
    d[b] = half_bits_to_float(alloy::detail::float_to_half_bits(db));
    s32[b] = int16_t(sum);
  }
}

// ggml's quantize_row_q8_K: the element of largest magnitude maps to -127, d = 1 / iscale.
void quantize_q8_k_row(const float* x, int64_t K, int8_t* q, float* d, int16_t* s32, int16_t* s16) {
  for (int64_t b = 0; b < K / 256; ++b) {
    const float* xb = x + b * 256;
    int8_t* qb = q + b * 256;
    float amax = 0;
    for (int j = 0; j < 256; ++j) amax = std::max(amax, std::fabs(xb[j]));
    float max = 0;
    for (int j = 0; j < 256; ++j)
      if (std::fabs(xb[j]) == amax) {
        max = xb[j];
        break;
      }
    float iscale = amax != 0 ? -127.f / max : 0.f;
    for (int j = 0; j < 256; ++j) qb[j] = int8_t(std::min(127, nearest_int(iscale * xb[j])));
    d[b] = amax != 0 ? 1.f / iscale : 0.f;
    for (int j = 0; j < 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += qb[j * 16 + i];
      s16[b * 16 + j] = int16_t(sum);
    }
    for (int j = 0; j < 8; ++j) s32[b * 8 + j] = int16_t(s16[b * 16 + 2 * j] + s16[b * 16 + 2 * j + 1]);
  }
}

// --- scalar dot products of one weight row with activation row m (ggml's generic kernels) ---

float dot_q4_0(const block_q4_0* w, const int8_t* q, const float* d, int64_t nb) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b) {
    int s = 0;
    for (int j = 0; j < 16; ++j)
      s += ((w[b].qs[j] & 0xF) - 8) * q[b * 32 + j] + ((w[b].qs[j] >> 4) - 8) * q[b * 32 + j + 16];
    sum += float(s) * (half_bits_to_float(w[b].d) * d[b]);
  }
  return sum;
}

float dot_q8_0(const block_q8_0* w, const int8_t* q, const float* d, int64_t nb) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b) {
    int s = 0;
    for (int j = 0; j < 32; ++j) s += w[b].qs[j] * q[b * 32 + j];
    sum += float(s) * (half_bits_to_float(w[b].d) * d[b]);
  }
  return sum;
}

// Q4_K and Q5_K: d * sum_j sc_j * (q . x)_j - dmin * sum_j m_j * (sum of x)_j, j over the
// eight 32-element sub-blocks; element l of 64-element chunk c is a low nibble for l < 32.
template <bool five>
float dot_q45_k(const uint8_t* scales, uint16_t dh, uint16_t dminh, const uint8_t* qs, const uint8_t* qh,
                const int8_t* q, float dx, const int16_t* s32) {
  int sumi = 0, summ = 0;
  for (int j = 0; j < 8; ++j) {
    int sc, m;
    alloy::quant::k4_scale_min(scales, j, sc, m);
    const uint8_t* src = qs + (j / 2) * 32;
    int s = 0;
    for (int l = 0; l < 32; ++l) {
      int v = (j & 1) ? src[l] >> 4 : src[l] & 0xF;
      if (five) v |= ((qh[l] >> j) & 1) << 4;
      s += v * q[j * 32 + l];
    }
    sumi += sc * s;
    summ += m * s32[j];
  }
  return dx * half_bits_to_float(dh) * float(sumi) - dx * half_bits_to_float(dminh) * float(summ);
}

float dot_q4_k(const block_q4_K* w, const int8_t* q, const float* d, const int16_t* s32, int64_t nb) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b)
    sum += dot_q45_k<false>(w[b].scales, w[b].d, w[b].dmin, w[b].qs, nullptr, q + b * 256, d[b], s32 + b * 8);
  return sum;
}

float dot_q5_k(const block_q5_K* w, const int8_t* q, const float* d, const int16_t* s32, int64_t nb) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b)
    sum += dot_q45_k<true>(w[b].scales, w[b].d, w[b].dmin, w[b].qs, w[b].qh, q + b * 256, d[b], s32 + b * 8);
  return sum;
}

// Q6_K: element e of half h (128 elements): ql[64h + e % 64] nibble e / 64, qh[32h + e % 32]
// bits 2 (e / 32); value q - 32 with q in 0..63; scale of element i is scales[i / 16].
float dot_q6_k(const block_q6_K* w, const int8_t* q, const float* d, int64_t nb) {
  float sum = 0;
  for (int64_t b = 0; b < nb; ++b) {
    const block_q6_K& blk = w[b];
    int sumi = 0;
    for (int j = 0; j < 16; ++j) {
      int s = 0;
      for (int i = j * 16; i < j * 16 + 16; ++i) {
        int h = i / 128, e = i % 128;
        int lo = (blk.ql[64 * h + e % 64] >> (4 * (e / 64))) & 0xF;
        int hi = (blk.qh[32 * h + e % 32] >> (2 * (e / 32))) & 3;
        s += ((lo | (hi << 4)) - 32) * q[b * 256 + i];
      }
      sumi += blk.scales[j] * s;
    }
    sum += d[b] * half_bits_to_float(blk.d) * float(sumi);
  }
  return sum;
}

void scalar_matvec(Type t, const uint8_t* w, int64_t K, const Activations& a, int64_t n0, int64_t n1, int64_t N,
                   float* out) {
  const size_t rb = row_bytes(t, K);
  const int64_t nb = a.blocks();
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = w + n * rb;
    for (int64_t m = 0; m < a.M; ++m) {
      const int8_t* q = a.q_row(m);
      const float* d = a.d_row(m);
      float& o = out[m * N + n];
      switch (t) {
        case Type::Q4_0: o = dot_q4_0(reinterpret_cast<const block_q4_0*>(row), q, d, nb); break;
        case Type::Q8_0: o = dot_q8_0(reinterpret_cast<const block_q8_0*>(row), q, d, nb); break;
        case Type::Q4_K: o = dot_q4_k(reinterpret_cast<const block_q4_K*>(row), q, d, a.s32_row(m), nb); break;
        case Type::Q5_K: o = dot_q5_k(reinterpret_cast<const block_q5_K*>(row), q, d, a.s32_row(m), nb); break;
        case Type::Q6_K: o = dot_q6_k(reinterpret_cast<const block_q6_K*>(row), q, d, nb); break;
        ALLOY_QUANT_NO_KERNEL_CASES: throw_no_kernel(t);
      }
    }
  }
}

bool cpu_has(const char* feature) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (std::strcmp(feature, "avx2") == 0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();  // clang knows no "f16c"
  if (std::strcmp(feature, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") && cpu_has("avx2");
#endif
  (void)feature;
  return false;
}

const Kernels& kernels_for(Isa isa) {
  const Kernels* k = isa == Isa::scalar ? &scalar_kernels() : isa == Isa::avx2 ? avx2_kernels() : avx512_kernels();
  if (!k || !isa_supported(isa))
    throw std::runtime_error(std::string("[quantized_matmul] the ") + isa_name(isa) +
                             " path is not supported on this CPU or build");
  return *k;
}

void check_args(Type t, int64_t M, int64_t K, int64_t N) {
  if (!has_matmul_kernel(t) || t == Type::Q8_K)
    throw std::invalid_argument(std::string("[quantized_matmul] no kernel for weight type ") + name(t));
  int bs = format(t).block_size;
  if (M < 0 || N < 0 || K <= 0 || K % bs != 0)
    throw std::invalid_argument("[quantized_matmul] K = " + std::to_string(K) + " must be a positive multiple of " +
                                std::to_string(bs) + " for " + name(t) + " (M = " + std::to_string(M) +
                                ", N = " + std::to_string(N) + ")");
}

// Each thread a contiguous range of weight rows, read once for all activation rows. The
// grain keeps a chunk at 64 KiB or more of weights, so that the pool's hand-off is amortized.
void run_matvec(const Kernels& k, Type t, const Activations& a, const uint8_t* w, int64_t N, float* out) {
  const int64_t grain = std::max<int64_t>(16, int64_t(65536 / row_bytes(t, a.K)));
  parallel_for(N, grain, [&](int64_t n0, int64_t n1) { k.matvec(t, w, a.K, a, n0, n1, N, out); });
}

void run_tiles(const Kernels& k, Type t, const Activations& a, const uint8_t* w, int64_t N, float* out) {
  const int64_t tiles = (N + k.nr - 1) / k.nr;
  parallel_for(tiles, 1, [&](int64_t t0, int64_t t1) {
    PackedTile tile;
    for (int64_t i = t0; i < t1; ++i) {
      pack_tile_avx2(t, w, a.K, i * k.nr, N, k.nr, tile);
      for (int64_t m0 = 0; m0 < a.M; m0 += k.max_rows)
        k.tile(t, tile, a, m0, int(std::min<int64_t>(k.max_rows, a.M - m0)), i * k.nr, N, out + m0 * N, N);
    }
  });
}

}  // namespace

Activations quantize_activations(Type weight_type, const float* x, int64_t M, int64_t K) {
  Activations a;
  a.type = activation_type(weight_type);
  a.M = M;
  a.K = K;
  a.q.resize(size_t(M * K));
  a.d.resize(size_t(M * a.blocks()));
  a.s32.resize(size_t(M * (K / 32)));
  if (a.type == Type::Q8_K) a.s16.resize(size_t(M * (K / 16)));
  if (a.type == Type::Q8_0) a.ds.resize(size_t(M * (K / 32)));
  parallel_for(M, 4, [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      int8_t* q = a.q.data() + m * K;
      float* d = a.d.data() + m * a.blocks();
      int16_t* s32 = a.s32.data() + m * (K / 32);
      if (a.type == Type::Q8_0) {
        quantize_q8_0_row(x + m * K, K, q, d, s32);
        for (int64_t b = 0; b < K / 32; ++b) a.ds[size_t(m * (K / 32) + b)] = d[b] * float(s32[b]);
      } else {
        quantize_q8_k_row(x + m * K, K, q, d, s32, a.s16.data() + m * (K / 16));
      }
    }
  });
  return a;
}

const Kernels& scalar_kernels() {
  static const Kernels k{Isa::scalar, 0, 0, scalar_matvec, nullptr};
  return k;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  // Asked once: CPUID exits to the hypervisor in a virtual machine (microseconds per call).
  static const bool avx2 = avx2_kernels() && cpu_has("avx2"), avx512 = avx512_kernels() && cpu_has("avx512");
  switch (isa) {
    case Isa::scalar: return true;
    case Isa::avx2: return avx2;
    case Isa::avx512: return avx512;
  }
  return false;
}

Isa default_isa() {
  static const Isa isa = [] {
    if (const char* env = std::getenv("ALLOY_QUANT_ISA")) {
      for (Isa i : {Isa::scalar, Isa::avx2, Isa::avx512})
        if (std::strcmp(env, isa_name(i)) == 0) {
          if (!isa_supported(i))
            throw std::runtime_error(std::string("[quantized_matmul] ALLOY_QUANT_ISA=") + env +
                                     " is not supported on this CPU or build");
          return i;
        }
      throw std::runtime_error(std::string("[quantized_matmul] ALLOY_QUANT_ISA=") + env +
                               ": expected scalar, avx2 or avx512");
    }
    return isa_supported(Isa::avx512) ? Isa::avx512 : isa_supported(Isa::avx2) ? Isa::avx2 : Isa::scalar;
  }();
  return isa;
}

Type activation_type(Type weight) {
  return weight == Type::Q4_0 || weight == Type::Q8_0 ? Type::Q8_0 : Type::Q8_K;
}

void quantized_matmul(Isa isa, Type weight_type, const float* x, int64_t M, int64_t K, const uint8_t* w, int64_t N,
                      float* out) {
  check_args(weight_type, M, K, N);
  const Kernels& k = kernels_for(isa);
  if (M == 0 || N == 0) return;
  Activations a = quantize_activations(weight_type, x, M, K);
  if (k.nr == 0 || M < kPackedMinRows)
    run_matvec(k, weight_type, a, w, N, out);
  else
    run_tiles(k, weight_type, a, w, N, out);
}

void quantized_matmul(Type weight_type, const float* x, int64_t M, int64_t K, const uint8_t* w, int64_t N,
                      float* out) {
  quantized_matmul(default_isa(), weight_type, x, M, K, w, N, out);
}

}  // namespace alloy::cpu::quant
