// The CPU quantized matmul: every vector path against the scalar path (the integer dot
// products are the same, so they agree to the rounding of the float scaling), and the scalar
// path against float math on the dequantized weights (they differ by the activations' 8-bit
// quantization). Weights are random blocks: random bytes (every bit pattern of values, scales
// and mins) with small random fp16 scales, so the products span the kernels' full range.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "alloy/backend/cpu/quant_dot_internal.h"
#include "alloy/core/half.h"

namespace {

using namespace alloy::cpu::quant;
using alloy::quant::Type;
namespace aq = alloy::quant;

const Type kTypes[] = {Type::Q4_0, Type::Q8_0, Type::Q4_K, Type::Q5_K, Type::Q6_K};

void put_half(uint8_t* p, float f) {
  uint16_t h = alloy::detail::float_to_half_bits(f);
  std::memcpy(p, &h, 2);
}

// (N, K) weights of type t: random bytes, then each block's fp16 scales set to small values.
std::vector<uint8_t> random_weights(Type t, int64_t N, int64_t K, std::mt19937& rng) {
  const size_t rb = aq::row_bytes(t, K);
  const aq::Format& f = aq::format(t);
  std::vector<uint8_t> w(rb * size_t(N));
  for (auto& b : w) b = uint8_t(rng());
  std::uniform_real_distribution<float> scale(0.002f, 0.02f);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t b = 0; b < K / f.block_size; ++b) {
      uint8_t* blk = w.data() + size_t(n) * rb + size_t(b) * f.block_bytes;
      if (t == Type::Q6_K) {
        put_half(blk + offsetof(aq::block_q6_K, d), scale(rng));
      } else {
        put_half(blk, scale(rng));  // d is the first field of the others
        if (t == Type::Q4_K || t == Type::Q5_K) put_half(blk + 2, scale(rng));  // dmin
      }
    }
  return w;
}

std::vector<float> random_x(int64_t M, int64_t K, std::mt19937& rng) {
  std::normal_distribution<float> nd;
  std::vector<float> x(size_t(M * K));
  for (auto& v : x) v = nd(rng);
  return x;
}

std::vector<float> run(Isa isa, Type t, const std::vector<float>& x, int64_t M, int64_t K,
                       const std::vector<uint8_t>& w, int64_t N) {
  std::vector<float> out(size_t(M * N), std::nanf(""));
  quantized_matmul(isa, t, x.data(), M, K, w.data(), N, out.data());
  return out;
}

struct Shape {
  int64_t M, K, N;
};

// M = 1 and 2: matvec; 7, 13, 64: packed tiles with partial row groups; N never a multiple
// of the tile width (8 or 16) in one case per K.
const Shape kShapes[] = {{1, 256, 67}, {2, 512, 40}, {7, 256, 33}, {13, 1024, 21}, {64, 4096, 19}, {64, 2048, 64}};
// Q4_0 and Q8_0 (32-element blocks) also: M = 3 and block counts that are not a multiple of the
// 8 blocks whose scales the matvec converts at once (K = 96: 3 blocks; 800: 25; 4064: 127).
const Shape kShapes32[] = {{3, 96, 37}, {1, 800, 29}, {2, 4064, 11}, {3, 2048, 50}, {5, 160, 9}};

// The shapes a weight type is tested on.
std::vector<Shape> shapes_for(Type t) {
  std::vector<Shape> v(std::begin(kShapes), std::end(kShapes));
  if (aq::format(t).block_size == 32) v.insert(v.end(), std::begin(kShapes32), std::end(kShapes32));
  return v;
}

TEST(QuantDot, EveryPathMatchesScalar) {
  std::mt19937 rng(7);
  int paths = 0;
  for (Isa isa : {Isa::avx2, Isa::avx512}) {
    if (!isa_supported(isa)) {
      std::printf("[ quant    ] %s path not supported on this CPU: not compared\n", isa_name(isa));
      continue;
    }
    ++paths;
    for (Type t : kTypes) {
      for (const Shape& s : shapes_for(t)) {
        auto w = random_weights(t, s.N, s.K, rng);
        auto x = random_x(s.M, s.K, rng);
        auto ref = run(Isa::scalar, t, x, s.M, s.K, w, s.N);
        auto out = run(isa, t, x, s.M, s.K, w, s.N);
        double max_ref = 0;
        for (float v : ref) max_ref = std::max(max_ref, double(std::fabs(v)));
        ASSERT_GT(max_ref, 0);
        // Same integers, different float summation order: a few ulps of the largest term.
        const double tol = 1e-5 * max_ref;
        for (size_t i = 0; i < out.size(); ++i)
          ASSERT_NEAR(out[i], ref[i], tol) << isa_name(isa) << " " << aq::name(t) << " M=" << s.M << " K=" << s.K
                                           << " N=" << s.N << " at (" << i / s.N << ", " << i % s.N << ")";
      }
    }
  }
  if (paths == 0) GTEST_SKIP() << "no vector path on this CPU";
}

// ||out - ref|| / ||ref|| for the scalar path against float math on dequantized weights. The
// 8-bit activations (absmax scaling per block) err by step / sqrt(12) per element, step =
// max|x| / 127: for Gaussian x that is 5.0e-3 of sigma with Q8_0's 32-element blocks (max ~2.2
// sigma) and 6.6e-3 with Q8_K's 256 (max ~2.9 sigma), and the normalized error of the products
// follows (measured: 4.7-5.7e-3 and 3.8e-3-1.1e-2). Bounds: 1e-2 and 1.4e-2, about twice that.
TEST(QuantDot, ScalarMatchesDequantizedFloat) {
  std::mt19937 rng(11);
  for (Type t : kTypes)
    for (const Shape& s : shapes_for(t)) {
      auto w = random_weights(t, s.N, s.K, rng);
      auto x = random_x(s.M, s.K, rng);
      auto out = run(Isa::scalar, t, x, s.M, s.K, w, s.N);
      std::vector<float> wf(size_t(s.K));
      double err = 0, norm = 0;
      for (int64_t n = 0; n < s.N; ++n) {
        aq::dequantize_row(t, w.data() + n * aq::row_bytes(t, s.K), wf.data(), s.K);
        for (int64_t m = 0; m < s.M; ++m) {
          double ref = 0;
          for (int64_t k = 0; k < s.K; ++k) ref += double(x[m * s.K + k]) * wf[k];
          double e = out[m * s.N + n] - ref;
          err += e * e;
          norm += ref * ref;
        }
      }
      double rel = std::sqrt(err / norm);
      EXPECT_LT(rel, activation_type(t) == Type::Q8_0 ? 1e-2 : 1.4e-2) << aq::name(t) << " M=" << s.M << " K=" << s.K << " N=" << s.N;
      EXPECT_GT(norm, 0);
    }
}

// The default path is a supported one, and ALLOY_QUANT_ISA picks it where set.
TEST(QuantDot, DefaultPathAndEnvironment) {
  EXPECT_TRUE(isa_supported(Isa::scalar));
  Isa isa = default_isa();
  EXPECT_TRUE(isa_supported(isa));
  if (const char* env = std::getenv("ALLOY_QUANT_ISA")) {
    EXPECT_STREQ(isa_name(isa), env);
  }
}

TEST(QuantDot, RejectsBadShapesAndTypes) {
  std::vector<float> x(64), out(4);
  std::vector<uint8_t> w(1024);
  EXPECT_THROW(quantized_matmul(Type::Q4_K, x.data(), 1, 64, w.data(), 1, out.data()), std::invalid_argument);
  EXPECT_THROW(quantized_matmul(Type::Q4_0, x.data(), 1, 48, w.data(), 1, out.data()), std::invalid_argument);
  EXPECT_THROW(quantized_matmul(Type::Q4_1, x.data(), 1, 64, w.data(), 1, out.data()), std::invalid_argument);
  EXPECT_EQ(activation_type(Type::Q4_0), Type::Q8_0);
  EXPECT_EQ(activation_type(Type::Q6_K), Type::Q8_K);
}

// The activations follow ggml's quantizers: Q8_K maps the element of largest magnitude to -127
// and keeps ggml's bsums; Q8_0 rounds its scale to fp16.
TEST(QuantDot, ActivationQuantization) {
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[i] = float(i % 17) - 8.f;
  x[100] = 20.f;
  Activations a = quantize_activations(Type::Q4_K, x.data(), 1, 256);
  EXPECT_EQ(a.q[100], -127);
  EXPECT_FLOAT_EQ(a.d[0], -20.f / 127.f);
  for (int j = 0; j < 16; ++j) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) sum += a.q[j * 16 + i];
    EXPECT_EQ(a.s16[j], sum);
  }
  Activations b = quantize_activations(Type::Q4_0, x.data(), 1, 256);
  EXPECT_EQ(b.q[100], 127);
  uint16_t h = alloy::detail::float_to_half_bits(20.f / 127.f);
  EXPECT_EQ(b.d[3], alloy::detail::half_bits_to_float(h));
  EXPECT_EQ(b.q[101], int8_t(std::lround((float(101 % 17) - 8.f) * 127.f / 20.f)));
}

}  // namespace
