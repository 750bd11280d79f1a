// The GPU quantized kernels' per-thread code (backend/cuda/quant_blocks.h) run on the host, so
// it is checked without a GPU: dequant4 against the CPU codecs bitwise, and a warp's 32 lanes
// of the matrix-vector kernel, on the CPU's 8-bit activations, against the CPU's scalar
// quantized matmul (the same integer dot products: equal to float rounding).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "alloy/backend/cpu/quant_dot_internal.h"
#include "alloy/backend/cuda/quant_blocks.h"
#include "alloy/core/half.h"

namespace alloy::test {
namespace {

using quant::Type;
namespace qb = cuda::qblocks;
const Type kTypes[] = {Type::Q4_0, Type::Q8_0, Type::Q4_K, Type::Q5_K, Type::Q6_K};

// Random bytes with small finite fp16 scales: every bit pattern of values, scales and mins.
std::vector<uint8_t> random_blocks(Type t, int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  const quant::Format& f = quant::format(t);
  std::vector<uint8_t> w(quant::row_bytes(t, k) * size_t(n));
  for (auto& b : w) b = uint8_t(rng());
  std::uniform_real_distribution<float> scale(-0.02f, 0.02f);
  auto put_half = [](uint8_t* p, float v) {
    uint16_t h = detail::float_to_half_bits(v);
    std::memcpy(p, &h, 2);
  };
  for (size_t b = 0; b < w.size() / size_t(f.block_bytes); ++b) {
    uint8_t* blk = w.data() + b * size_t(f.block_bytes);
    if (t == Type::Q6_K) {
      put_half(blk + offsetof(quant::block_q6_K, d), scale(rng));
    } else {
      put_half(blk, scale(rng));
      if (t == Type::Q4_K || t == Type::Q5_K) put_half(blk + 2, scale(rng));
    }
  }
  return w;
}

// Calls f(std::integral_constant<Type, t>{}) for the run-time type t.
template <typename F>
void with_type(Type t, F&& f) {
  switch (t) {
    case Type::Q4_0: return f(std::integral_constant<Type, Type::Q4_0>{});
    case Type::Q8_0: return f(std::integral_constant<Type, Type::Q8_0>{});
    case Type::Q4_K: return f(std::integral_constant<Type, Type::Q4_K>{});
    case Type::Q5_K: return f(std::integral_constant<Type, Type::Q5_K>{});
    case Type::Q6_K: return f(std::integral_constant<Type, Type::Q6_K>{});
    case Type::Q4_1: case Type::Q5_0: case Type::Q5_1: case Type::Q8_1: case Type::Q2_K: case Type::Q3_K:
    case Type::Q8_K: case Type::IQ4_NL: case Type::IQ4_XS:
      FAIL() << "no GPU kernel for " << quant::name(t);
  }
}

TEST(GpuQuantBlocks, Dequant4IsBitwiseTheCpuCodec) {
  for (Type t : kTypes) {
    const int64_t K = 1024, N = 6;
    std::vector<uint8_t> w = random_blocks(t, N, K, 17 + uint32_t(t));
    const size_t rb = quant::row_bytes(t, K);
    const quant::Format& f = quant::format(t);
    std::vector<float> ref(static_cast<size_t>(K));
    int64_t bad = 0;
    with_type(t, [&](auto tc) {
      for (int64_t r = 0; r < N; ++r) {
        const uint8_t* row = w.data() + size_t(r) * rb;
        quant::dequantize_row(t, row, ref.data(), K);
        for (int64_t e = 0; e < K; e += 4) {
          float y[4];
          qb::dequant4<decltype(tc)::value>(row + (e / f.block_size) * f.block_bytes, int(e % f.block_size), y);
          for (int i = 0; i < 4; ++i) bad += std::memcmp(&y[i], &ref[size_t(e + i)], 4) != 0;
        }
      }
    });
    EXPECT_EQ(bad, 0) << quant::name(t) << ": values differing from dequantize_row";
  }
}

TEST(GpuQuantBlocks, WarpLanesMatchTheCpuDotProducts) {
  for (Type t : kTypes) {
    for (int64_t K : {256, 512, 4096 + 256}) {
      for (int M : {1, 3, 8}) {
        const int64_t N = 9;
        std::vector<uint8_t> w = random_blocks(t, N, K, uint32_t(K + M));
        std::mt19937 rng(uint32_t(K * M));
        std::normal_distribution<float> nd;
        std::vector<float> x(size_t(M * K));
        for (auto& v : x) v = nd(rng);
        std::vector<float> cpu(size_t(M * N));
        cpu::quant::quantized_matmul(cpu::quant::Isa::scalar, t, x.data(), M, K, w.data(), N, cpu.data());

        cpu::quant::Activations a = cpu::quant::quantize_activations(t, x.data(), M, K);
        std::vector<int> s(a.s32.begin(), a.s32.end());
        const qb::Act act{a.q.data(), a.d.data(), s.data()};
        const size_t rb = quant::row_bytes(t, K);
        double num = 0, den = 0;
        with_type(t, [&](auto tc) {
          for (int64_t n = 0; n < N; ++n) {
            float sum[qb::kMaxMatvecRows] = {};
            for (int lane = 0; lane < 32; ++lane) {
              float acc[qb::kMaxMatvecRows] = {};
              qb::matvec_lane<decltype(tc)::value>(w.data() + size_t(n) * rb, act, M, K, lane, acc);
              for (int m = 0; m < M; ++m) sum[m] += acc[m];
            }
            for (int m = 0; m < M; ++m) {
              double c = cpu[size_t(m * N + n)];
              num += (sum[m] - c) * (sum[m] - c);
              den += c * c;
            }
          }
        });
        EXPECT_LE(std::sqrt(num / den), 1e-5) << quant::name(t) << " K=" << K << " M=" << M;
      }
    }
  }
}

// The streamed one-row kernel's lane work (add_pair_terms): every pair of blocks of each row,
// against the CPU's scalar kernel.
TEST(GpuQuantBlocks, PairedBlocksMatchTheCpuDotProducts) {
  for (Type t : {Type::Q4_0, Type::Q8_0}) {
    for (int64_t K : {64, 256, 2048, 4096 + 256}) {
      const int64_t N = 11;
      std::vector<uint8_t> bytes = random_blocks(t, N, K, uint32_t(3 * K) + uint32_t(t));
      std::mt19937 rng{uint32_t(K)};
      std::normal_distribution<float> nd;
      std::vector<float> x(static_cast<size_t>(K));
      for (auto& v : x) v = nd(rng);
      std::vector<float> cpu(static_cast<size_t>(N));
      cpu::quant::quantized_matmul(cpu::quant::Isa::scalar, t, x.data(), 1, K, bytes.data(), N, cpu.data());
      cpu::quant::Activations a = cpu::quant::quantize_activations(t, x.data(), 1, K);
      const size_t rb = quant::row_bytes(t, K), pair_bytes = 2 * size_t(quant::format(t).block_bytes);
      double num = 0, den = 0;
      with_type(t, [&](auto tc) {
        constexpr Type tt = decltype(tc)::value;
        for (int64_t n = 0; n < N; ++n) {
          float sum = 0;
          for (int64_t m = 0; m < K / 64; ++m) {
            uint32_t words[qb::Paired<tt>::words];
            std::memcpy(words, bytes.data() + size_t(n) * rb + size_t(m) * pair_bytes, sizeof(words));
            qb::PairActivations pa;
            for (int h = 0; h < 4; ++h) std::memcpy(&pa.x[h], a.q.data() + 64 * m + 16 * h, 16);
            for (int p = 0; p < 2; ++p) {
              pa.d[p] = a.d[size_t(2 * m + p)];
              int s = 0;
              for (int i = 0; i < 32; ++i) s += a.q[size_t(64 * m + 32 * p + i)];
              pa.sum8[p] = 8 * s;
            }
            qb::add_pair_terms<tt>(words, pa, sum);
          }
          const double want = cpu[size_t(n)];
          num += (sum - want) * (sum - want);
          den += want * want;
        }
      });
      EXPECT_LE(std::sqrt(num / den), 1e-5) << quant::name(t) << " K=" << K;
    }
  }
}

}  // namespace
}  // namespace alloy::test
