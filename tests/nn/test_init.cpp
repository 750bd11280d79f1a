// nn::init on large draws (mean and standard deviation, bounds, orthonormality) and the default
// initialization of Linear, Conv and Embedding weights (PyTorch's bounds).
#include <gtest/gtest.h>

#include <cmath>

#include "alloy/alloy.h"
#include "alloy/nn/nn.h"

namespace alloy {
namespace {

struct Stats {
  double mean, std, min, max, max_abs;
};

Stats stats(const array& a) {
  std::vector<double> v = astype(a, float64).to_vector<double>();
  double s = 0, s2 = 0, lo = INFINITY, hi = -INFINITY, m = 0;
  for (double x : v) {
    s += x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
    m = std::max(m, std::abs(x));
  }
  const double mean = s / double(v.size());
  for (double x : v) s2 += (x - mean) * (x - mean);
  return {mean, std::sqrt(s2 / double(v.size())), lo, hi, m};
}

// The bound as a float32 draw can reach it: rounded to float32 (1/6 rounds up).
double f32(double bound) { return double(float(bound)); }

// A U(-bound, bound) draw: inside the bound, reaching close to it, std bound / sqrt(3).
void expect_uniform_bound(const array& w, double bound, const std::string& what) {
  Stats s = stats(w);
  EXPECT_LE(s.max_abs, f32(bound)) << what;
  EXPECT_GE(s.max_abs, 0.99 * bound) << what;
  EXPECT_NEAR(s.std, bound / std::sqrt(3.0), 0.03 * bound / std::sqrt(3.0)) << what;
  EXPECT_NEAR(s.mean, 0.0, 0.05 * bound) << what;
}

const double kPhiNorm = 1.0 / std::sqrt(2.0 * M_PI);
double phi(double x) { return kPhiNorm * std::exp(-0.5 * x * x); }
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

TEST(Init, FansAndGain) {
  EXPECT_EQ(nn::init::fans({5, 3}), (std::pair<int64_t, int64_t>{3, 5}));
  // (out, kh, kw, in): alloy keeps the input channels last.
  EXPECT_EQ(nn::init::fans({16, 3, 3, 8}), (std::pair<int64_t, int64_t>{72, 144}));
  EXPECT_THROW(nn::init::fans({5}), std::invalid_argument);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("linear"), 1.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("conv2d"), 1.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("sigmoid"), 1.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("tanh"), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("relu"), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("leaky_relu"), std::sqrt(2.0 / (1 + 0.01 * 0.01)));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("leaky_relu", std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
  EXPECT_DOUBLE_EQ(nn::init::calculate_gain("selu"), 0.75);
  EXPECT_THROW(nn::init::calculate_gain("swish"), std::invalid_argument);
}

TEST(Init, ConstantUniformNormal) {
  array c = nn::init::constant({3, 4}, 0.25, float64);
  EXPECT_EQ(c.dtype(), float64);
  EXPECT_TRUE(array_equal(c, full({3, 4}, array(0.25), float64)));
  Stats u = stats(nn::init::uniform({400, 500}, -1.0, 3.0, float32, random::key(1)));
  EXPECT_NEAR(u.mean, 1.0, 0.01);
  EXPECT_NEAR(u.std, 4.0 / std::sqrt(12.0), 0.01);
  EXPECT_GE(u.min, -1.0);
  EXPECT_LT(u.max, 3.0);
  Stats n = stats(nn::init::normal({400, 500}, 2.0, 0.5, float64, random::key(2)));
  EXPECT_NEAR(n.mean, 2.0, 0.005);
  EXPECT_NEAR(n.std, 0.5, 0.005);
  // A key makes the draw reproducible; the global key gives new draws.
  EXPECT_TRUE(array_equal(nn::init::normal({8, 8}, 0, 1, float32, random::key(3)),
                          nn::init::normal({8, 8}, 0, 1, float32, random::key(3))));
  EXPECT_FALSE(array_equal(nn::init::normal({8, 8}), nn::init::normal({8, 8})));
  EXPECT_EQ(nn::init::uniform({2, 2}, 0, 1, bfloat16).dtype(), bfloat16);
  EXPECT_THROW(nn::init::uniform({2, 2}, 0, 1, int32), std::invalid_argument);
  EXPECT_THROW(nn::init::normal({2, 2}, 0, 1, int64), std::invalid_argument);
}

TEST(Init, TruncatedNormal) {
  const double mu = 1.0, sd = 2.0, a = -1.0, b = 4.0;
  Stats t = stats(nn::init::truncated_normal({400, 500}, mu, sd, a, b, float32, random::key(4)));
  EXPECT_GE(t.min, a);
  EXPECT_LE(t.max, b);
  const double al = (a - mu) / sd, be = (b - mu) / sd, z = Phi(be) - Phi(al);
  const double m = mu + sd * (phi(al) - phi(be)) / z;
  const double v = sd * sd * (1 + (al * phi(al) - be * phi(be)) / z - std::pow((phi(al) - phi(be)) / z, 2));
  EXPECT_NEAR(t.mean, m, 0.015);
  EXPECT_NEAR(t.std, std::sqrt(v), 0.015);
  EXPECT_THROW(nn::init::truncated_normal({2, 2}, 0, 0), std::invalid_argument);
  EXPECT_THROW(nn::init::truncated_normal({2, 2}, 0, 1, 2, 1), std::invalid_argument);
}

TEST(Init, XavierAndKaiming) {
  // (300, 200): fan_in 200, fan_out 300.
  expect_uniform_bound(nn::init::xavier_uniform({300, 200}, 2.0, float32, random::key(5)),
                       2.0 * std::sqrt(6.0 / 500.0), "xavier_uniform");
  Stats xn = stats(nn::init::xavier_normal({300, 200}, 1.5, float32, random::key(6)));
  EXPECT_NEAR(xn.std, 1.5 * std::sqrt(2.0 / 500.0), 0.01 * 1.5 * std::sqrt(2.0 / 500.0));
  EXPECT_NEAR(xn.mean, 0.0, 0.003);
  // A conv weight (64, 3, 3, 32): fan_in 288, fan_out 576.
  const Shape conv{64, 3, 3, 32};
  expect_uniform_bound(nn::init::kaiming_uniform(conv, 0.0, "fan_in", "leaky_relu", float32, random::key(7)),
                       std::sqrt(6.0 / 288.0), "kaiming_uniform fan_in");
  expect_uniform_bound(nn::init::kaiming_uniform(conv, 0.0, "fan_out", "relu", float32, random::key(8)),
                       std::sqrt(6.0 / 576.0), "kaiming_uniform fan_out");
  // a = sqrt(5): PyTorch's Linear/Conv default, bound 1 / sqrt(fan_in).
  expect_uniform_bound(nn::init::kaiming_uniform(conv, std::sqrt(5.0), "fan_in", "leaky_relu", float32,
                                                 random::key(9)),
                       1.0 / std::sqrt(288.0), "kaiming_uniform a=sqrt(5)");
  Stats kn = stats(nn::init::kaiming_normal(conv, 0.0, "fan_out", "relu", float64, random::key(10)));
  EXPECT_NEAR(kn.std, std::sqrt(2.0 / 576.0), 0.02 * std::sqrt(2.0 / 576.0));
  Stats kt = stats(nn::init::kaiming_normal({400, 500}, 0.0, "fan_in", "tanh", float32, random::key(11)));
  EXPECT_NEAR(kt.std, 5.0 / 3.0 / std::sqrt(500.0), 0.01 * 5.0 / 3.0 / std::sqrt(500.0));
  EXPECT_THROW(nn::init::kaiming_uniform({4, 4}, 0, "fan_avg"), std::invalid_argument);
  EXPECT_THROW(nn::init::xavier_uniform({4}), std::invalid_argument);
}

// W W^T (rows <= cols) or W^T W (rows > cols) is gain^2 I.
void expect_orthogonal(const Shape& shape, double gain) {
  array w = nn::init::orthogonal(shape, gain, float64, random::key(12));
  EXPECT_EQ(w.shape(), shape);
  array m = reshape(w, {shape[0], -1});
  array g = m.shape(0) <= m.shape(1) ? matmul(m, transpose(m)) : matmul(transpose(m), m);
  array expected = multiply(eye(g.shape(0), float64), array(gain * gain));
  EXPECT_TRUE(allclose(g, expected, 0, 1e-10)) << shape_to_string(shape) << " " << max(abs(subtract(g, expected)));
}

TEST(Init, Orthogonal) {
  expect_orthogonal({30, 50}, 1.0);
  expect_orthogonal({50, 30}, 1.0);
  expect_orthogonal({40, 40}, 2.0);
  expect_orthogonal({20, 35}, 1.5);
  expect_orthogonal({35, 20}, 0.5);
  expect_orthogonal({8, 2, 3, 4}, 1.0);
  EXPECT_THROW(nn::init::orthogonal({5}), std::invalid_argument);
  EXPECT_THROW(nn::init::orthogonal({5, 5}, 1.0, int32), std::invalid_argument);
}

TEST(Init, LayerDefaultsHavePyTorchBounds) {
  nn::Linear lin(1000, 500);
  expect_uniform_bound(lin.weight, 1.0 / std::sqrt(1000.0), "Linear weight");
  EXPECT_LE(stats(*lin.bias).max_abs, f32(1.0 / std::sqrt(1000.0)));
  // Conv: fan_in = C_in / groups * prod(k).
  nn::Conv2d conv(16, 64, 3);
  expect_uniform_bound(conv.weight, 1.0 / 12.0, "Conv2d weight");
  EXPECT_LE(stats(*conv.bias).max_abs, f32(1.0 / 12.0));
  EXPECT_GE(stats(*conv.bias).max_abs, 0.5 / 12.0);
  nn::Conv2d grouped(16, 64, 3, 1, 0, 1, /*groups=*/4);
  expect_uniform_bound(grouped.weight, 1.0 / 6.0, "grouped Conv2d weight");
  nn::Conv1d conv1(8, 256, 5);
  expect_uniform_bound(conv1.weight, 1.0 / std::sqrt(40.0), "Conv1d weight");
  // Transposed: PyTorch's fan_in is C_out / groups * prod(k) (from its (C_in, C_out/g, k...) weight).
  nn::ConvTranspose2d tconv(16, 64, 3, 1, 0, 0, 1, /*groups=*/2);
  EXPECT_EQ(tconv.weight.shape(), (Shape{64, 3, 3, 8}));
  expect_uniform_bound(tconv.weight, 1.0 / std::sqrt(288.0), "ConvTranspose2d weight");
  EXPECT_LE(stats(*tconv.bias).max_abs, f32(1.0 / std::sqrt(288.0)));
  nn::ConvTranspose1d tconv1(128, 32, 4);
  expect_uniform_bound(tconv1.weight, 1.0 / std::sqrt(128.0), "ConvTranspose1d weight");
  // Embedding: N(0, 1).
  Stats e = stats(nn::Embedding(1000, 64).weight);
  EXPECT_NEAR(e.mean, 0.0, 0.02);
  EXPECT_NEAR(e.std, 1.0, 0.02);
  // Norm layers: weight ones, bias zeros.
  nn::GroupNorm gn(2, 6);
  EXPECT_TRUE(array_equal(*gn.weight, ones({6})));
  EXPECT_TRUE(array_equal(*gn.bias, zeros({6})));
  nn::BatchNorm bn(3);
  EXPECT_TRUE(array_equal(*bn.running_var, ones({3})));
  EXPECT_TRUE(array_equal(*bn.running_mean, zeros({3})));
}

}  // namespace
}  // namespace alloy
