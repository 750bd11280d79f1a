// Fused max pooling against its composition (strided slices and maximum) in every float dtype,
// with ties and NaNs, its gradient routing on hand-checked windows and by finite differences,
// and its errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "alloy/alloy.h"
#include "gradcheck.h"
#include "test_util.h"

namespace alloy {
namespace {

struct PoolCase {
  Shape shape;  // (..., S_1..S_d, C)
  std::vector<int> kernel, stride;
};

// Values in {0, 1, 2, 3} (many ties), about 5% NaN when asked.
array tie_rich(const Shape& shape, Dtype t, bool with_nan, uint64_t seed) {
  array x = floor(random::uniform(shape, float32, 0.0, 4.0, random::key(seed)));
  if (with_nan) {
    array hole = less(random::uniform(shape, float32, 0.0, 1.0, random::key(seed + 1)), array(0.05f));
    x = where(hole, array(std::numeric_limits<float>::quiet_NaN()), x);
  }
  return astype(x, t);
}

std::vector<array> pool_vjp(bool fused, const PoolCase& c, const array& x, const array& cot) {
  return vjp([&](const std::vector<array>& a) {
               return std::vector<array>{fused ? fast::max_pool(a[0], c.kernel, c.stride)
                                               : fast::composed::max_pool(a[0], c.kernel, c.stride)};
             },
             {x}, {cot})
      .second;
}

bool overlapping(const PoolCase& c) {
  for (size_t i = 0; i < c.kernel.size(); ++i) {
    if (c.kernel[i] > c.stride[i]) return true;
  }
  return false;
}

TEST(FastPooling, MaxPoolMatchesCompositionWithTiesAndNaNs) {
  const PoolCase cases[] = {
      {{2, 9, 3}, {3}, {2}},                      // 1-d, overlapping
      {{4, 8, 8, 5}, {2, 2}, {2, 2}},             // the CNN's 2x2 / 2
      {{2, 7, 9, 3}, {3, 2}, {1, 2}},             // overlapping rows, remainder columns
      {{6, 5, 33}, {2, 2}, {3, 2}},               // unbatched (H, W, C), stride past the kernel
      {{1, 4, 5, 6, 2}, {2, 3, 2}, {2, 1, 2}},    // 3-d
      {{2, 3, 4, 5, 7, 2}, {3, 2}, {1, 1}},       // two leading axes
  };
  for (Dtype t : {float32, float64, bfloat16, float16}) {
    for (bool with_nan : {false, true}) {
      uint64_t seed = 10;
      for (const PoolCase& c : cases) {
        std::string what = std::string(dtype_name(t)) + " " + shape_to_string(c.shape) + (with_nan ? " NaN" : "");
        array x = tie_rich(c.shape, t, with_nan, seed++);
        array got = fast::max_pool(x, c.kernel, c.stride), want = fast::composed::max_pool(x, c.kernel, c.stride);
        ASSERT_EQ(got.shape(), want.shape()) << what;
        EXPECT_EQ(got.primitive().name(), "max_pool") << what;
        EXPECT_TRUE(array_equal(got, want, /*equal_nan=*/true)) << what;
        array cot = astype(random::uniform(want.shape(), float32, -1.0, 1.0, random::key(seed++)), t);
        auto g = pool_vjp(true, c, x, cot), w = pool_vjp(false, c, x, cot);
        EXPECT_EQ(g[0].primitive().name(), "max_pool_grad") << what;
        if (!overlapping(c)) {
          EXPECT_TRUE(array_equal(g[0], w[0])) << what;  // one cotangent per input at most: exact
        } else {
          // Overlapping windows add: in float32 here, in the dtype by the composition.
          double tol = t == float64 ? 1e-12 : t == float32 ? 1e-6 : 2e-2;
          EXPECT_TRUE(allclose(g[0], w[0], tol, tol)) << what;
        }
      }
    }
  }
}

// The routing by hand: the last axis is folded first, ties keep the first element, and after a
// NaN the window's later elements take the gradient, as the composition's vjp gives it.
TEST(FastPooling, MaxPoolGradientGoesWhereTheCompositionSendsIt) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto grad_of = [](std::vector<float> v, Shape shape, std::vector<int> k) {
    array x(v, shape);
    auto f = [&](const std::vector<array>& a) { return std::vector<array>{fast::max_pool(a[0], k, k)}; };
    array cot = ones(fast::max_pool(x, k, k).shape());
    return vjp(f, {x}, {cot}).second[0].to_vector<float>();
  };
  // 2x2 window [[1, 3], [3, 2]] (one channel): rows give 3 (column 1) and 3 (column 0); the
  // first row's 3 is kept.
  EXPECT_EQ(grad_of({1, 3, 3, 2}, {2, 2, 1}, {2, 2}), (std::vector<float>{0, 1, 0, 0}));
  // 1-d windows of 4: ties go to the first; a NaN sends the gradient to the last element.
  EXPECT_EQ(grad_of({2, 5, 5, 1}, {4, 1}, {4}), (std::vector<float>{0, 1, 0, 0}));
  EXPECT_EQ(grad_of({2, nan, 5, 1}, {4, 1}, {4}), (std::vector<float>{0, 0, 0, 1}));
  array y = fast::max_pool(array(std::vector<float>{2, nan, 5, 1}, {4, 1}), {4}, {4});
  EXPECT_TRUE(std::isnan(y.item<float>()));
  // Two channels pool independently.
  EXPECT_EQ(grad_of({1, 9, 4, 2}, {2, 2}, {2}), (std::vector<float>{0, 1, 1, 0}));
}

TEST(FastPooling, MaxPoolGradientByFiniteDifferences) {
  // Random values are distinct, so each window's maximum is unique and smooth around x.
  array x = test::random_f64({2, 7, 6, 3}, -1, 1, 3);
  EXPECT_EQ(test::gradcheck([](const std::vector<array>& a) { return fast::max_pool(a[0], {3, 2}, {2, 2}); }, {x}), "");
  EXPECT_EQ(test::gradcheck([](const std::vector<array>& a) { return fast::max_pool(a[0], {2}, {1}); }, {x}), "");
}

TEST(FastPooling, MaxPoolRejectsBadInput) {
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  array x = zeros({2, 4, 4, 3});
  EXPECT_NE(message([&] { fast::max_pool(x, {5, 2}, {1, 1}); }).find("smaller than the kernel (5, 2)"),
            std::string::npos);
  EXPECT_NE(message([&] { fast::max_pool(x, {2, 2}, {0, 1}); }).find("must be >= 1"), std::string::npos);
  EXPECT_NE(message([&] { fast::max_pool(x, {2, 2}, {2}); }).find("the same length"), std::string::npos);
  EXPECT_NE(message([&] { fast::max_pool(x, {2, 2, 2, 2}, {1, 1, 1, 1}); }).find("pools 1 to 3 axes"),
            std::string::npos);
  EXPECT_NE(message([&] { fast::max_pool(zeros({4, 4}), {2, 2}, {2, 2}); }).find("needs an input"),
            std::string::npos);
  EXPECT_NE(message([&] { fast::max_pool(zeros({4, 4, 2}, int32), {2, 2}, {2, 2}); }).find("floating-point"),
            std::string::npos);
}

}  // namespace
}  // namespace alloy
