// quantized_matmul_swiglu on the CPU: bitwise fast::swiglu of quantized_matmul's two halves (the
// same kernels, the products rounded to x's dtype first), for leading batch dims and every float
// dtype; its vjp and jvp in x are the composition's; bad weights are named. (The GPU's fused
// single-row kernel is checked against the GPU's own composition in tests/gpu.)
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "alloy/alloy.h"
#include "alloy/core/quantized.h"

namespace alloy {
namespace {

using quant::Type;

// (rows, K) normal values as rows of type t.
array quantized_rows(Type t, int64_t rows, int64_t K, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> v(size_t(rows * K));
  for (auto& x : v) x = nd(rng);
  const size_t rb = quant::row_bytes(t, K);
  std::vector<uint8_t> bytes(rb * size_t(rows));
  for (int64_t r = 0; r < rows; ++r) quant::quantize_row(t, v.data() + r * K, bytes.data() + size_t(r) * rb, K);
  return array(bytes, {rows, int64_t(rb)});
}

array composed(const array& x, const array& w, Type t) {
  array gu = quantized_matmul(x, w, t, Device::cpu);
  const int64_t F = w.shape(0) / 2;
  Shape start(size_t(gu.ndim()), 0), mid = gu.shape(), stop = gu.shape();
  mid.back() = F;
  array gate = slice(gu, start, mid, Device::cpu);
  start.back() = F;
  return fast::swiglu(gate, slice(gu, start, stop, Device::cpu), Device::cpu);
}

TEST(QuantizedSwiGLU, IsSwiGLUOfTheMatmulHalves) {
  for (Type t : {Type::Q4_0, Type::Q8_0, Type::Q4_K}) {
    for (Dtype dt : {float32, float16, bfloat16}) {
      for (const Shape& xs : {Shape{1, 256}, Shape{3, 512}, Shape{2, 3, 256}}) {
        const int64_t K = xs.back(), F = 40;
        array w = quantized_rows(t, 2 * F, K, uint32_t(K + int(t)));
        array x = astype(random::normal(xs, float32, 0, 1, random::key(uint64_t(K)), Device::cpu), dt, Device::cpu);
        array fused = quantized_matmul_swiglu(x, w, t, Device::cpu);
        array want = composed(x, w, t);
        const std::string what = std::string(quant::name(t)) + " " + dtype_name(dt) + " x " + shape_to_string(xs);
        Shape out_shape = xs;
        out_shape.back() = F;
        ASSERT_EQ(fused.shape(), out_shape) << what;
        ASSERT_EQ(fused.dtype(), dt) << what;
        EXPECT_TRUE(array_equal(fused, want)) << what;
        // Not a trivial output: SwiGLU of products of unit-variance rows.
        EXPECT_GT(max(abs(astype(fused, float32, Device::cpu), Device::cpu), false, Device::cpu).item<float>(), 0.1f);
      }
    }
  }
}

TEST(QuantizedSwiGLU, GradientInXIsTheComposition) {
  const Type t = Type::Q8_0;
  const int64_t K = 256, F = 24;
  array w = quantized_rows(t, 2 * F, K, 7);
  array x = random::normal({2, K}, float32, 0, 1, random::key(3), Device::cpu);
  array cot = random::normal({2, F}, float32, 0, 1, random::key(4), Device::cpu);
  auto fused = [&](const std::vector<array>& in) {
    return std::vector<array>{quantized_matmul_swiglu(in[0], w, t, Device::cpu)};
  };
  auto plain = [&](const std::vector<array>& in) { return std::vector<array>{composed(in[0], w, t)}; };
  array g_fused = vjp(fused, {x}, {cot}).second[0], g_plain = vjp(plain, {x}, {cot}).second[0];
  EXPECT_TRUE(allclose(g_fused, g_plain, 1e-6, 1e-6));
  EXPECT_GT(max(abs(g_fused), false, Device::cpu).item<float>(), 0.1f);
  array tangent = random::normal({2, K}, float32, 0, 1, random::key(5), Device::cpu);
  EXPECT_TRUE(allclose(jvp(fused, {x}, {tangent}).second[0], jvp(plain, {x}, {tangent}).second[0], 1e-6, 1e-6));
}

TEST(QuantizedSwiGLU, BadWeightsAreNamed) {
  array x = ones({1, 256}, float32, Device::cpu);
  try {
    quantized_matmul_swiglu(x, quantized_rows(Type::Q8_0, 3, 256, 1), Type::Q8_0, Device::cpu);
    FAIL() << "odd rows accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("gate rows then the up rows (an even count), got 3 rows"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(quantized_matmul_swiglu(ones({1, 128}, float32, Device::cpu), quantized_rows(Type::Q8_0, 4, 256, 1),
                                       Type::Q8_0, Device::cpu),
               std::invalid_argument);  // 128 features against rows of 256
}

}  // namespace
}  // namespace alloy
