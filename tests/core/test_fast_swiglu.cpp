// Fused SwiGLU against the composition evaluated in float64 (the fused op rounds once, so it is
// within an ulp or two of that in every dtype), its gradients likewise and by finite
// differences, strided inputs (the slices of a fused gate_up projection), and its errors.
#include <gtest/gtest.h>

#include "alloy/alloy.h"
#include "gradcheck.h"
#include "test_util.h"

namespace alloy {
namespace {

// Relative bound of one rounding to the dtype (plus the fast exp's ulps in float32).
double one_rounding(Dtype t) {
  switch (t) {
    case Dtype::float64: return 1e-14;
    case Dtype::float32: return 1e-6;
    case Dtype::float16: return 1e-3;
    default: return 8e-3;  // bfloat16
  }
}

std::vector<array> swiglu_vjp(bool fused, const array& gate, const array& up, const array& cot) {
  return vjp([&](const std::vector<array>& a) {
               return std::vector<array>{fused ? fast::swiglu(a[0], a[1]) : fast::composed::swiglu(a[0], a[1])};
             },
             {gate, up}, {cot})
      .second;
}

TEST(FastSwiGLU, MatchesTheCompositionInFloat64) {
  for (Dtype t : {float32, float16, bfloat16, float64}) {
    // Gates across sigmoid's range (saturated ends included), odd sizes for the vector tails.
    array gate = astype(random::uniform({3, 7, 131}, float32, -30.0, 30.0, random::key(1)), t);
    array up = astype(random::normal({3, 7, 131}, float32, 0.0, 2.0, random::key(2)), t);
    array cot = astype(random::normal({3, 7, 131}, float32, 0.0, 1.0, random::key(3)), t);
    const std::string what = dtype_name(t);
    array got = fast::swiglu(gate, up);
    EXPECT_EQ(got.primitive().name(), "swiglu");
    array want = astype(fast::composed::swiglu(astype(gate, float64), astype(up, float64)), t);
    const double tol = one_rounding(t);
    EXPECT_TRUE(allclose(got, want, tol, tol)) << what;
    auto g = swiglu_vjp(true, gate, up, cot);
    EXPECT_EQ(g[0].primitive().name(), "swiglu_grad");
    auto w = swiglu_vjp(false, astype(gate, float64), astype(up, float64), astype(cot, float64));
    for (int i = 0; i < 2; ++i) {
      ASSERT_EQ(g[i].dtype(), t);
      EXPECT_TRUE(allclose(g[i], astype(w[i], t), 4 * tol, 4 * tol)) << what << (i ? " d up" : " d gate");
    }
  }
}

TEST(FastSwiGLU, GradientByFiniteDifferences) {
  array gate = test::random_f64({4, 33}, -4, 4, 5), up = test::random_f64({4, 33}, -2, 2, 6);
  EXPECT_EQ(test::gradcheck([](const std::vector<array>& a) { return fast::swiglu(a[0], a[1]); }, {gate, up}), "");
}

TEST(FastSwiGLU, StridedInputs) {
  // gate and up as the two halves of one (B, T, 2F) projection, as phi3's gate_up gives them.
  array gu = random::normal({2, 5, 2 * 48}, float32, 0.0, 2.0, random::key(7));
  array gate = slice(gu, {0, 0, 0}, {2, 5, 48}), up = slice(gu, {0, 0, 48}, {2, 5, 96});
  array want = fast::composed::swiglu(contiguous(gate), contiguous(up));
  EXPECT_TRUE(allclose(fast::swiglu(gate, up), want, 1e-6, 1e-6));
}

TEST(FastSwiGLU, RejectsBadInput) {
  test::expect_error([] { fast::swiglu(zeros({2, 3}), zeros({3, 2})); }, "swiglu", "one shape");
  test::expect_error([] { fast::swiglu(zeros({2}), zeros({2}, float16)); }, "swiglu", "one floating-point dtype");
  test::expect_error([] { fast::swiglu(zeros({2}, int32), zeros({2}, int32)); }, "swiglu", "floating-point");
}

}  // namespace
}  // namespace alloy
