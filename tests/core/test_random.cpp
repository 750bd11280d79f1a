// Random numbers: Threefry-2x32 known-answer vectors (Random123 / JAX), reproducibility per key,
// independence of keys, and statistics of 10^6 samples with bounds of about 5 standard errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <set>
#include <thread>

#include "alloy/alloy.h"
#include "test_util.h"

using namespace alloy;

namespace {
using test::expect_error;

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size()); }

double var_of(const std::vector<double>& v) {
  double m = mean_of(v), acc = 0;
  for (double x : v) acc += (x - m) * (x - m);
  return acc / double(v.size());
}

std::vector<double> as_doubles(const array& a) { return astype(a, float64).to_vector<double>(); }

}  // namespace

TEST(Random, ThreefryKnownAnswers) {
  // Random123's kat_vectors for threefry2x32_20 (also JAX's tests).
  auto a = random::threefry2x32({0, 0}, {0, 0});
  EXPECT_EQ(a[0], 0x6b200159u);
  EXPECT_EQ(a[1], 0x99ba4efeu);
  auto b = random::threefry2x32({0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu});
  EXPECT_EQ(b[0], 0x1cb996fcu);
  EXPECT_EQ(b[1], 0xbb002be7u);
  auto c = random::threefry2x32({0x13198a2eu, 0x03707344u}, {0x243f6a88u, 0x85a308d3u});
  EXPECT_EQ(c[0], 0xc4923a9cu);
  EXPECT_EQ(c[1], 0x483df7a0u);
  // Through the RandomBits kernel: word 2b + j of bits() is output j of block b = (b, 0).
  array k0 = array({0u, 0u});
  auto bits = random::bits({5}, 4, k0).to_vector<uint32_t>();
  EXPECT_EQ(bits[0], 0x6b200159u);
  EXPECT_EQ(bits[1], 0x99ba4efeu);
  auto b1 = random::threefry2x32({0, 0}, {1, 0}), b2 = random::threefry2x32({0, 0}, {2, 0});
  EXPECT_EQ(bits[2], b1[0]);
  EXPECT_EQ(bits[3], b1[1]);
  EXPECT_EQ(bits[4], b2[0]);  // odd count: the first word of the last block
  // A large draw splits into tiles across threads: spot-check against the scalar function.
  array kb = array({0x13198a2eu, 0x03707344u});
  auto big = random::bits({1000001}, 4, kb).to_vector<uint32_t>();
  for (uint32_t blk : {0u, 1023u, 1024u, 4097u, 499999u}) {
    auto r = random::threefry2x32({0x13198a2eu, 0x03707344u}, {blk, 0});
    EXPECT_EQ(big[2 * blk], r[0]);
    EXPECT_EQ(big[2 * blk + 1], r[1]);
  }
  EXPECT_EQ(big.back(), random::threefry2x32({0x13198a2eu, 0x03707344u}, {500000u, 0})[0]);
}

TEST(Random, KeysAndSplit) {
  EXPECT_EQ(random::key(0x0000000500000007ull).to_vector<uint32_t>(), (std::vector<uint32_t>{5, 7}));
  EXPECT_EQ(random::key(42).dtype(), uint32);
  array k = random::key(42);
  array ks = random::split(k, 4);
  ASSERT_EQ(ks.shape(), (Shape{4, 2}));
  auto v = ks.to_vector<uint32_t>();
  std::set<std::pair<uint32_t, uint32_t>> distinct;
  for (int i = 0; i < 4; ++i) {
    auto want = random::threefry2x32({0, 42}, {uint32_t(i), 0});
    EXPECT_EQ(v[2 * i], want[0]);
    EXPECT_EQ(v[2 * i + 1], want[1]);
    distinct.insert({v[2 * i], v[2 * i + 1]});
  }
  EXPECT_EQ(distinct.size(), 4u);
  EXPECT_EQ(random::split(k).shape(), (Shape{2, 2}));
  // Subkeys give different streams.
  array k1 = reshape(slice(ks, {0, 0}, {1, 2}), {2}), k2 = reshape(slice(ks, {1, 0}, {2, 2}), {2});
  EXPECT_FALSE(array_equal(random::uniform({100}, float32, 0.0, 1.0, k1), random::uniform({100}, float32, 0.0, 1.0, k2)));
  // Batched keys: one stream per key, each equal to the unbatched draw.
  array batched = random::bits({3}, 4, ks);
  ASSERT_EQ(batched.shape(), (Shape{4, 3}));
  EXPECT_TRUE(array_equal(reshape(slice(batched, {1, 0}, {2, 3}), {3}), random::bits({3}, 4, k2)));
}

TEST(Random, ReproducibleAndKeyDependent) {
  array k = random::key(7);
  EXPECT_TRUE(array_equal(random::uniform({1000}, float32, 0.0, 1.0, k), random::uniform({1000}, float32, 0.0, 1.0, k)));
  EXPECT_TRUE(array_equal(random::normal({1000}, float32, 0.0, 1.0, k), random::normal({1000}, float32, 0.0, 1.0, k)));
  EXPECT_FALSE(array_equal(random::uniform({1000}, float32, 0.0, 1.0, random::key(8)),
                           random::uniform({1000}, float32, 0.0, 1.0, k)));
  // Position-only dependence: a longer draw starts with the shorter one.
  auto shorter = random::bits({10}, 4, k).to_vector<uint32_t>();
  auto longer = random::bits({2, 10}, 4, k).to_vector<uint32_t>();
  EXPECT_TRUE(std::equal(shorter.begin(), shorter.end(), longer.begin()));
  // The global key: seed() makes draws reproducible; successive draws differ.
  random::seed(123);
  array a1 = random::uniform({64}), a2 = random::uniform({64});
  random::seed(123);
  array b1 = random::uniform({64}), b2 = random::uniform({64});
  EXPECT_TRUE(array_equal(a1, b1));
  EXPECT_TRUE(array_equal(a2, b2));
  EXPECT_FALSE(array_equal(a1, a2));
}

TEST(Random, GlobalKeyIsThreadSafe) {
  // Concurrent draws without a key each get a distinct subkey.
  random::seed(5);
  std::vector<std::vector<array>> got(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) got[t].push_back(random::bits({2}));
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::pair<uint32_t, uint32_t>> seen;
  for (auto& g : got) {
    for (auto& a : g) {
      auto v = a.to_vector<uint32_t>();
      seen.insert({v[0], v[1]});
    }
  }
  EXPECT_EQ(seen.size(), 400u);
}

TEST(Random, BitsWidths) {
  array k = random::key(3);
  array w4 = random::bits({1000}, 4, k);
  EXPECT_EQ(random::bits({1000}, 1, k).dtype(), uint8);
  EXPECT_EQ(random::bits({1000}, 2, k).dtype(), uint16);
  // Narrow widths keep the low bits of the same words.
  EXPECT_TRUE(array_equal(random::bits({1000}, 2, k), astype(bitwise_and(w4, array(0xffffu)), uint16)));
  array w8 = random::bits({3}, 8, k);
  EXPECT_EQ(w8.dtype(), uint64);
  auto words = random::bits({6}, 4, k).to_vector<uint32_t>();
  auto wide = w8.to_vector<uint64_t>();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(wide[i], (uint64_t(words[2 * i]) << 32) | words[2 * i + 1]);
  // Every bit position is fair.
  auto v = random::bits({100000}, 4, k).to_vector<uint32_t>();
  for (int bit = 0; bit < 32; ++bit) {
    int64_t ones = 0;
    for (uint32_t x : v) ones += (x >> bit) & 1;
    EXPECT_NEAR(double(ones) / 1e5, 0.5, 0.008) << "bit " << bit;
  }
}

TEST(Random, UniformStatistics) {
  auto u = as_doubles(random::uniform({1000000}, float32, 0.0, 1.0, random::key(11)));
  EXPECT_NEAR(mean_of(u), 0.5, 1.5e-3);
  EXPECT_NEAR(var_of(u), 1.0 / 12.0, 4e-4);
  EXPECT_GE(*std::min_element(u.begin(), u.end()), 0.0);
  EXPECT_LT(*std::max_element(u.begin(), u.end()), 1.0);
  // Deciles are flat.
  std::vector<int> bins(10, 0);
  for (double x : u) bins[std::min(9, int(x * 10))]++;
  for (int b : bins) EXPECT_NEAR(b / 1e6, 0.1, 1.5e-3);
  // Other ranges and dtypes.
  auto r = as_doubles(random::uniform({200000}, float64, -3.0, 5.0, random::key(12)));
  EXPECT_NEAR(mean_of(r), 1.0, 0.03);
  EXPECT_GE(*std::min_element(r.begin(), r.end()), -3.0);
  EXPECT_LT(*std::max_element(r.begin(), r.end()), 5.0);
  for (Dtype t : {float16, bfloat16}) {
    array h = random::uniform({100000}, t, 0.0, 1.0, random::key(13));
    EXPECT_EQ(h.dtype(), t);
    auto hv = as_doubles(h);
    EXPECT_GE(*std::min_element(hv.begin(), hv.end()), 0.0);
    EXPECT_LT(*std::max_element(hv.begin(), hv.end()), 1.0);
    EXPECT_NEAR(mean_of(hv), 0.5, 0.01);
  }
  // Array bounds broadcast: column j in [j, j + 1).
  array lo = reshape(arange(4.0), {1, 4});
  auto m = as_doubles(random::uniform(lo, add(lo, array(1.0f)), {1000, 4}, float32, random::key(14)));
  for (size_t i = 0; i < m.size(); ++i) {
    double j = double(i % 4);
    ASSERT_GE(m[i], j);
    ASSERT_LT(m[i], j + 1);
  }
}

TEST(Random, NormalStatistics) {
  auto z = as_doubles(random::normal({1000000}, float32, 0.0, 1.0, random::key(21)));
  EXPECT_NEAR(mean_of(z), 0.0, 5e-3);
  EXPECT_NEAR(var_of(z), 1.0, 7e-3);
  int64_t within1 = std::count_if(z.begin(), z.end(), [](double x) { return std::abs(x) < 1.0; });
  int64_t within2 = std::count_if(z.begin(), z.end(), [](double x) { return std::abs(x) < 2.0; });
  EXPECT_NEAR(within1 / 1e6, 0.682689, 2.5e-3);
  EXPECT_NEAR(within2 / 1e6, 0.954500, 1.2e-3);
  for (double x : z) ASSERT_TRUE(std::isfinite(x));
  // Skewness and kurtosis.
  double s3 = 0, s4 = 0;
  for (double x : z) {
    s3 += x * x * x;
    s4 += x * x * x * x;
  }
  EXPECT_NEAR(s3 / 1e6, 0.0, 0.02);
  EXPECT_NEAR(s4 / 1e6, 3.0, 0.05);
  // loc/scale and float64.
  auto w = as_doubles(random::normal({200000}, float64, 2.0, 3.0, random::key(22)));
  EXPECT_NEAR(mean_of(w), 2.0, 0.035);
  EXPECT_NEAR(std::sqrt(var_of(w)), 3.0, 0.025);
  EXPECT_EQ(random::normal({4}, float16).dtype(), float16);
}

TEST(Random, TruncatedNormal) {
  array lo(-1.0f), hi(2.0f);
  auto t = as_doubles(random::truncated_normal(lo, hi, {1000000}, float32, random::key(31)));
  EXPECT_GE(*std::min_element(t.begin(), t.end()), -1.0);
  EXPECT_LE(*std::max_element(t.begin(), t.end()), 2.0);
  // Mean of a standard normal truncated to [a, b]: (phi(a) - phi(b)) / (Phi(b) - Phi(a)).
  auto phi = [](double x) { return std::exp(-0.5 * x * x) / std::sqrt(2 * std::numbers::pi); };
  auto cdf = [](double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); };
  double want = (phi(-1) - phi(2)) / (cdf(2) - cdf(-1));
  EXPECT_NEAR(mean_of(t), want, 4e-3);
  // A tail interval and per-element bounds (shape from the bounds).
  auto tail = as_doubles(random::truncated_normal(array(3.0f), array(3.5f), {10000}, float32, random::key(32)));
  for (double x : tail) ASSERT_TRUE(x >= 3.0 && x <= 3.5) << x;
  array lows = array({-2.0f, 0.0f, 1.0f}), highs = array({-1.0f, 0.5f, 4.0f});
  array per = random::truncated_normal(lows, highs, float32, random::key(33));
  ASSERT_EQ(per.shape(), (Shape{3}));
  auto pv = as_doubles(per);
  EXPECT_TRUE(pv[0] >= -2 && pv[0] <= -1 && pv[1] >= 0 && pv[1] <= 0.5 && pv[2] >= 1 && pv[2] <= 4);
}

TEST(Random, Randint) {
  array r = random::randint(array(-3), array(7), {1000000}, int32, random::key(41));
  EXPECT_EQ(r.dtype(), int32);
  auto v = r.to_vector<int32_t>();
  std::vector<int64_t> counts(10, 0);
  for (int32_t x : v) {
    ASSERT_GE(x, -3);
    ASSERT_LT(x, 7);
    counts[x + 3]++;
  }
  for (auto c : counts) EXPECT_NEAR(c / 1e6, 0.1, 1.5e-3);
  // Per-element ranges, other integer dtypes, an empty range.
  auto p = random::randint(array({0, 100}), array({2, 103}), {1000, 2}, int64, random::key(42)).to_vector<int64_t>();
  for (size_t i = 0; i < p.size(); ++i) {
    if (i % 2 == 0) ASSERT_TRUE(p[i] == 0 || p[i] == 1);
    else ASSERT_TRUE(p[i] >= 100 && p[i] < 103);
  }
  EXPECT_EQ(random::randint(array(0), array(256), {10}, uint8, random::key(1)).dtype(), uint8);
  EXPECT_EQ(random::randint(array(5), array(5), {3}, int32, random::key(1)).to_vector<int32_t>(),
            (std::vector<int32_t>{5, 5, 5}));
  // A wide range still covers its top.
  auto wide = random::randint(array(int64_t(0)), array(int64_t(1) << 32), {100000}, int64, random::key(43)).to_vector<int64_t>();
  EXPECT_GT(*std::max_element(wide.begin(), wide.end()), (int64_t(1) << 32) - (int64_t(1) << 20));
}

TEST(Random, Bernoulli) {
  array b = random::bernoulli(array(0.3f), {1000000}, random::key(51));
  EXPECT_EQ(b.dtype(), bool_);
  EXPECT_NEAR(mean_of(as_doubles(b)), 0.3, 2.5e-3);
  // p per element, shape of p.
  array p = array({0.0f, 1.0f, 0.5f});
  auto v = as_doubles(random::bernoulli(broadcast_to(p, {100000, 3}), random::key(52)));
  double c0 = 0, c1 = 0, c2 = 0;
  for (size_t i = 0; i < v.size(); i += 3) {
    c0 += v[i];
    c1 += v[i + 1];
    c2 += v[i + 2];
  }
  EXPECT_EQ(c0, 0.0);
  EXPECT_EQ(c1, 1e5);
  EXPECT_NEAR(c2 / 1e5, 0.5, 8e-3);
  EXPECT_EQ(random::bernoulli().shape(), Shape{});
}

TEST(Random, GumbelAndCategorical) {
  auto g = as_doubles(random::gumbel({1000000}, float32, random::key(61)));
  EXPECT_NEAR(mean_of(g), 0.5772156649, 7e-3);         // Euler-Mascheroni
  EXPECT_NEAR(var_of(g), std::numbers::pi * std::numbers::pi / 6.0, 0.02);      // pi^2 / 6
  for (double x : g) ASSERT_TRUE(std::isfinite(x));

  std::vector<double> probs{0.1, 0.2, 0.3, 0.4};
  std::vector<float> logits;
  for (double q : probs) logits.push_back(float(std::log(q)));
  array l(logits, {4});
  array s = random::categorical(l, -1, 200000, random::key(62));
  ASSERT_EQ(s.shape(), (Shape{200000}));
  auto sv = s.to_vector<uint32_t>();
  std::vector<double> freq(4, 0);
  for (auto c : sv) freq[c] += 1.0 / 2e5;
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(freq[i], probs[i], 6e-3) << i;
  // Batched logits along axis 0: (V = 3, B = 2); column 1 always picks class 2.
  array lb = array({0.0f, -1e9f, 0.0f, -1e9f, 0.0f, 0.0f}, {3, 2});
  array one = random::categorical(lb, 0, std::nullopt, random::key(63));
  ASSERT_EQ(one.shape(), (Shape{2}));
  EXPECT_EQ(one.to_vector<uint32_t>()[1], 2u);
  array many = random::categorical(lb, 0, 1000, random::key(64));
  ASSERT_EQ(many.shape(), (Shape{2, 1000}));
  auto mv = many.to_vector<uint32_t>();
  std::set<uint32_t> col0(mv.begin(), mv.begin() + 1000), col1(mv.begin() + 1000, mv.end());
  EXPECT_EQ(col0, (std::set<uint32_t>{0, 1, 2}));
  EXPECT_EQ(col1, (std::set<uint32_t>{2}));
}

TEST(Random, Permutation) {
  array p = random::permutation(1000, random::key(71));
  EXPECT_EQ(p.dtype(), int32);
  auto v = p.to_vector<int32_t>();
  auto sorted = v;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int32_t> iota(1000);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_NE(v, iota);
  EXPECT_FALSE(array_equal(p, random::permutation(1000, random::key(72))));
  EXPECT_TRUE(array_equal(p, random::permutation(1000, random::key(71))));
  // Rows of a matrix along axis 0 stay intact.
  array x = reshape(arange(20.0), {5, 4});
  auto rows = random::permutation(x, 0, random::key(73)).to_vector<float>();
  std::set<float> firsts;
  for (int r = 0; r < 5; ++r) {
    for (int c = 1; c < 4; ++c) EXPECT_EQ(rows[r * 4 + c], rows[r * 4] + float(c));
    firsts.insert(rows[r * 4]);
  }
  EXPECT_EQ(firsts, (std::set<float>{0, 4, 8, 12, 16}));
  // Position of element 0 is uniform over 4 slots.
  std::vector<int> where0(4, 0);
  array keys = random::split(random::key(74), 4000);
  for (int i = 0; i < 4000; ++i) {
    array k = reshape(slice(keys, {i, 0}, {i + 1, 2}), {2});
    auto perm = random::permutation(4, k).to_vector<int32_t>();
    where0[std::find(perm.begin(), perm.end(), 0) - perm.begin()]++;
  }
  for (int c : where0) EXPECT_NEAR(c / 4000.0, 0.25, 0.04);
}

TEST(Random, UniformIsDifferentiableInBounds) {
  array k = random::key(81);
  auto f = [&](const std::vector<array>& a) { return sum(random::uniform(a[0], a[1], {100}, float64, k)); };
  auto g = grad(ScalarFn(f), {0, 1})({array(1.0), array(3.0)});
  // d/dlow sum(low + (high - low) u) = sum(1 - u), d/dhigh = sum(u).
  double su = sum(random::uniform({100}, float64, 0.0, 1.0, k)).item<double>();
  EXPECT_NEAR(g[0].item<double>(), 100.0 - su, 1e-9);
  EXPECT_NEAR(g[1].item<double>(), su, 1e-9);
}

TEST(Random, Errors) {
  expect_error([] { random::uniform({3}, int32); }, "random::uniform", "floating-point dtype");
  expect_error([] { random::normal({-1}); }, "random::normal", "negative dimension");
  expect_error([] { random::bits({3}, 3); }, "random::bits", "width must be");
  expect_error([] { random::bits({3}, 4, array({1, 2})); }, "random::bits", "uint32");
  expect_error([] { random::uniform({3}, float32, 0.0, 1.0, array({1u, 2u, 3u})); }, "random::uniform", "(2,)");
  expect_error([] { random::split(random::key(0), 0); }, "random::split", "num must be >= 1");
  expect_error([] { random::randint(array(0), array(5), {3}, float32); }, "random::randint", "integer dtype");
  expect_error([] { random::uniform(zeros({3}), ones({3}), {4}); }, "random::uniform", "does not broadcast");
  expect_error([] { random::categorical(array(1.0f)); }, "random::categorical", "at least 1 dimension");
  expect_error([] { random::categorical(zeros({3}), 2); }, "random::categorical", "out of range");
  expect_error([] { random::permutation(-1); }, "random::permutation", "n must be >= 0");
}
