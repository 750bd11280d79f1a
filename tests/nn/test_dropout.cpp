// Dropout and Dropout2d: the fraction kept, the exact scaling of kept values, gradients through
// kept elements only, whole-channel masks, evaluation-mode identity and argument errors.
#include <gtest/gtest.h>

#include <cmath>

#include "alloy/alloy.h"
#include "alloy/nn/nn.h"

namespace alloy {
namespace {

TEST(Dropout, KeepsTheRightFractionScaledExactly) {
  random::seed(11);
  for (double p : {0.1, 0.5, 0.8}) {
    nn::Dropout d(p);
    const int64_t n = 100000;
    array x = random::uniform({n}, float32, 0.5, 1.5, random::key(1));  // no zeros
    array y = d(x);
    std::vector<float> xv = x.to_vector<float>(), yv = y.to_vector<float>();
    const float scale = float(1.0 / (1.0 - p));
    int64_t kept = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (yv[i] != 0.0f) {
        ++kept;
        ASSERT_EQ(yv[i], xv[i] * scale) << "p " << p << " element " << i;
      }
    }
    // Binomial(n, 1 - p): 5 standard deviations.
    const double expected = n * (1 - p), sd = std::sqrt(n * p * (1 - p));
    EXPECT_NEAR(double(kept), expected, 5 * sd) << "p " << p;
    // The mean is preserved.
    EXPECT_NEAR(mean(y).item<float>(), mean(x).item<float>(), 0.02) << "p " << p;
  }
}

TEST(Dropout, GradientFlowsOnlyThroughKeptElements) {
  random::seed(12);
  nn::Dropout d(0.3);
  array x = random::uniform({1000}, float32, 1, 2, random::key(2));
  array cot = random::normal({1000}, float32, 0, 1, random::key(3));
  auto [y, g] = vjp([&](const array& a) { return d(a); }, x, cot);
  std::vector<float> yv = y.to_vector<float>(), gv = g.to_vector<float>(), cv = cot.to_vector<float>();
  int64_t kept = 0;
  for (size_t i = 0; i < yv.size(); ++i) {
    if (yv[i] == 0.0f) {
      EXPECT_EQ(gv[i], 0.0f) << i;
    } else {
      ++kept;
      EXPECT_EQ(gv[i], cv[i] * float(1.0 / 0.7)) << i;
    }
  }
  EXPECT_GT(kept, 600);
  EXPECT_LT(kept, 800);
}

TEST(Dropout, MasksDifferBetweenCallsAndFollowTheSeed) {
  nn::Dropout d(0.5);
  array x = ones({256});
  random::seed(5);
  array a = d(x), b = d(x);
  random::seed(5);
  array c = d(x);
  EXPECT_FALSE(array_equal(a, b));
  EXPECT_TRUE(array_equal(a, c));
}

TEST(Dropout, IdentityInEvalModeAndForZeroP) {
  array x = random::normal({4, 5}, float32, 0, 1, random::key(4));
  nn::Dropout d(0.9);
  d.eval();
  EXPECT_EQ(d(x).id(), x.id());
  nn::Dropout zero(0.0);
  EXPECT_EQ(zero(x).id(), x.id());
  nn::Dropout2d d2(0.5);
  d2.eval();
  array x4 = ones({2, 3, 3, 4});
  EXPECT_EQ(d2(x4).id(), x4.id());
  // Sequential's eval reaches the dropout.
  nn::Sequential seq(std::make_unique<nn::Linear>(5, 5), std::make_unique<nn::Dropout>(0.5));
  seq.eval();
  EXPECT_TRUE(array_equal(seq(x), seq[0](x)));
}

TEST(Dropout, Dropout2dDropsWholeChannels) {
  random::seed(13);
  nn::Dropout2d d(0.5);
  const int64_t n = 64, c = 32;
  array x = ones({n, 3, 4, c});
  std::vector<float> y = d(x).to_vector<float>();
  int64_t kept = 0;
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      float first = y[((b * 3 + 0) * 4 + 0) * c + ch];
      ASSERT_TRUE(first == 0.0f || first == 2.0f) << first;
      kept += first != 0.0f;
      for (int64_t h = 0; h < 3; ++h) {
        for (int64_t w = 0; w < 4; ++w) ASSERT_EQ(y[((b * 3 + h) * 4 + w) * c + ch], first);
      }
    }
  }
  // Binomial(2048, 0.5): sd 22.6.
  EXPECT_NEAR(double(kept), 1024.0, 5 * 22.6);
  // Unbatched (H, W, C): one mask per channel.
  std::vector<float> u = d(ones({5, 5, 64})).to_vector<float>();
  for (int64_t i = 64; i < int64_t(u.size()); ++i) ASSERT_EQ(u[i], u[i % 64]);
}

TEST(Dropout, Errors) {
  EXPECT_THROW(nn::Dropout(1.0), std::invalid_argument);
  EXPECT_THROW(nn::Dropout(-0.1), std::invalid_argument);
  EXPECT_THROW(nn::Dropout(NAN), std::invalid_argument);
  EXPECT_THROW(nn::Dropout2d(1.5), std::invalid_argument);
  EXPECT_THROW(nn::Dropout2d(0.5)(ones({4, 4})), std::invalid_argument);
  EXPECT_THROW(nn::Dropout2d(0.5)(ones({1, 2, 3, 4, 5})), std::invalid_argument);
  EXPECT_THROW(nn::Dropout(0.5)(ones({4}, int32)), std::invalid_argument);
  EXPECT_EQ(nn::Dropout(0.25).describe(), "Dropout(p=0.25)");
  EXPECT_EQ(nn::Dropout2d().describe(), "Dropout2d(p=0.5)");
}

// nn::dropout, the function Dropout and MultiHeadAttention share: the same masks as Dropout
// from the same seed, in any mode, and p = 1 (PyTorch's F.dropout takes it) gives zeros.
TEST(Dropout, FunctionalDropout) {
  array x = random::uniform({4, 500}, float32, 0.5, 1.5, random::key(20));
  nn::Dropout d(0.3);
  random::seed(21);
  array by_module = d(x);
  random::seed(21);
  array by_function = nn::dropout(x, 0.3);
  EXPECT_TRUE(array_equal(by_function, by_module));
  std::vector<float> xv = x.to_vector<float>(), yv = by_function.to_vector<float>();
  int64_t kept = 0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (yv[i] == 0.0f) continue;
    ++kept;
    ASSERT_EQ(yv[i], xv[i] * float(1.0 / 0.7)) << i;
  }
  EXPECT_NEAR(double(kept), 1400.0, 5 * std::sqrt(2000 * 0.3 * 0.7));  // Binomial(2000, 0.7)
  d.eval();  // the module stops dropping, the function does not
  EXPECT_TRUE(array_equal(d(x), x));
  EXPECT_FALSE(array_equal(nn::dropout(x, 0.3), x));
  EXPECT_TRUE(array_equal(nn::dropout(x, 0.0), x));
  EXPECT_TRUE(array_equal(nn::dropout(x, 1.0), zeros({4, 500})));
  EXPECT_EQ(nn::dropout(astype(x, bfloat16), 0.5).dtype(), bfloat16);
  EXPECT_THROW(nn::dropout(x, -0.1), std::invalid_argument);
  EXPECT_THROW(nn::dropout(x, 1.5), std::invalid_argument);
  EXPECT_THROW(nn::dropout(x, NAN), std::invalid_argument);
  EXPECT_THROW(nn::dropout(ones({3}, int32), 0.5), std::invalid_argument);
}

}  // namespace
}  // namespace alloy
