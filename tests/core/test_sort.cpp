// sort, argsort, partition, argpartition and topk against NumPy 1.24 values (computed once with
// /usr/bin/python3, kind='stable' for argsort) on contiguous, transposed, sliced and broadcast
// inputs; partitions by their defining property; gradients by central differences in float64.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <random>
#include <stdexcept>

#include "alloy/alloy.h"
#include "test_util.h"

using namespace alloy;

namespace {
using test::expect_array;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Equal element by element, NaN matching NaN.
void expect_floats(array a, const Shape& shape, const std::vector<float>& expected) {
  ASSERT_EQ(a.shape(), shape);
  auto v = a.to_vector<float>();
  ASSERT_EQ(v.size(), expected.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (std::isnan(expected[i])) EXPECT_TRUE(std::isnan(v[i])) << "element " << i;
    else EXPECT_EQ(v[i], expected[i]) << "element " << i;
  }
}


// x = [[3, nan, 1, 2, -0.5], [-1, 5, -inf, 0, inf]]
array sample_x() { return array({3.0f, kNaN, 1.0f, 2.0f, -0.5f, -1.0f, 5.0f, -kInf, 0.0f, kInf}, {2, 5}); }

// Checks grad(sum(f(x) * w)) against central differences.
void check_grad(const std::function<array(const array&)>& f, const array& x0, double tol = 1e-6) {
  array y0 = f(x0);
  std::vector<double> wv(y0.size());
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = 0.5 + double((i * 7) % 11) / 11.0;
  array w(wv, y0.shape());
  std::function<array(const array&)> loss = [&](const array& x) { return sum(multiply(f(x), w)); };
  array g = grad(loss)(x0);
  std::vector<double> base = x0.to_vector<double>();
  std::vector<double> gv = g.to_vector<double>();
  ASSERT_EQ(gv.size(), base.size());
  const double eps = 1e-6;
  for (size_t i = 0; i < base.size(); ++i) {
    std::vector<double> p = base, m = base;
    p[i] += eps;
    m[i] -= eps;
    double numeric = (loss(array(p, x0.shape())).item<double>() - loss(array(m, x0.shape())).item<double>()) / (2 * eps);
    EXPECT_NEAR(gv[i], numeric, tol * std::max(1.0, std::abs(numeric))) << "gradient element " << i;
  }
  // Forward mode along one direction.
  std::vector<double> tv(base.size());
  for (size_t i = 0; i < tv.size(); ++i) tv[i] = double(int(i % 5) - 2) * 0.3 + 0.1;
  auto [out, tan] = jvp(f, x0, array(tv, x0.shape()));
  std::vector<double> p = base, m = base;
  for (size_t i = 0; i < base.size(); ++i) {
    p[i] += eps * tv[i];
    m[i] -= eps * tv[i];
  }
  auto fp = f(array(p, x0.shape())).to_vector<double>();
  auto fm = f(array(m, x0.shape())).to_vector<double>();
  auto jt = tan.to_vector<double>();
  ASSERT_EQ(jt.size(), fp.size());
  for (size_t i = 0; i < jt.size(); ++i) {
    double numeric = (fp[i] - fm[i]) / (2 * eps);
    EXPECT_NEAR(jt[i], numeric, tol * std::max(1.0, std::abs(numeric))) << "jvp element " << i;
  }
}

}  // namespace

// ---------------- sort / argsort ----------------
TEST(SortValues, FloatNaNsLast) {
  array x = sample_x();
  array s = sort(x);
  EXPECT_EQ(s.dtype(), float32);
  expect_floats(s, {2, 5}, {-0.5, 1, 2, 3, kNaN, -kInf, -1, 0, 5, kInf});
  expect_floats(sort(x, 0), {2, 5}, {-1, 5, -kInf, 0, -0.5, 3, kNaN, 1, 2, kInf});
  expect_floats(sort(transpose(x), 1), {5, 2}, {-1, 3, 5, kNaN, -kInf, 1, 0, 2, -0.5, kInf});
}

TEST(SortArg, FloatNaNsLast) {
  array x = sample_x();
  array i1 = argsort(x, 1);
  EXPECT_EQ(i1.dtype(), uint32);
  expect_array<uint32_t>(i1, {2, 5}, {4, 2, 3, 0, 1, 2, 0, 3, 1, 4});
  expect_array<uint32_t>(argsort(x, 0), {2, 5}, {1, 1, 1, 1, 0, 0, 0, 0, 0, 1});
}

TEST(SortArg, StableWithTies) {
  array y = array({2, 1, 2, 1, 0, 3, 1}, {7}, int16);
  expect_array<uint32_t>(argsort(y), {7}, {4, 1, 3, 6, 0, 2, 5});
  expect_array<int16_t>(sort(y), {7}, {0, 1, 1, 1, 2, 2, 3});
}

TEST(SortValues, SlicedInt) {
  std::vector<int32_t> v{-6, -1, 4, -4, 1, 6, -2, 3, -5, 0, 5, -3, 2, -6, -1, 4, -4, 1, 6, -2, 3, -5, 0, 5};
  array m(v, {4, 6});
  array sl = slice(m, {0, -1}, {4, -7}, {2, -2});  // m[::2, ::-2]
  expect_array<int32_t>(sl, {2, 3}, {6, -4, -1, 1, 4, -6});
  expect_array<int32_t>(sort(sl, 1), {2, 3}, {-4, -1, 6, -6, 1, 4});
  expect_array<uint32_t>(argsort(sl, 0), {2, 3}, {1, 0, 1, 0, 1, 0});
}

TEST(SortValues, OtherDtypes) {
  expect_array<uint8_t>(sort(array({200, 3, 255, 0, 17}, {5}, uint8)), {5}, {0, 3, 17, 200, 255});
  expect_floats(sort(array({3.5f, -1.0f, 2.0f, kNaN, 0.5f}, {5}, float16)), {5}, {-1, 0.5, 2, 3.5, kNaN});
  expect_floats(sort(array({3.5f, -1.0f, 2.0f, 0.5f}, {4}, bfloat16)), {4}, {-1, 0.5, 2, 3.5});
  array b = sort(array({true, false, true, false}));
  EXPECT_EQ(b.dtype(), bool_);
  EXPECT_EQ(astype(b, int32).to_vector<int32_t>(), (std::vector<int32_t>{0, 0, 1, 1}));
  expect_array<uint32_t>(argsort(array({5, -3, 5, 1}, {4}, int64)), {4}, {1, 3, 0, 2});
}

TEST(SortValues, BroadcastInput) {
  array b = broadcast_to(array({3.0, 1.0, 2.0}, {3, 1}), {3, 4});
  expect_array<double>(sort(b, 0), {3, 4}, {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3});
  expect_array<uint32_t>(argsort(b, 0), {3, 4}, {1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 0});
  expect_array<uint32_t>(argsort(b, 1), {3, 4}, {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3});  // all ties: stable
}

TEST(SortValues, LargeParallelRows) {
  // 300 rows of 517 (many ties) against std::sort / std::stable_sort per row.
  std::mt19937 gen(11);
  std::vector<float> v(300 * 517);
  for (auto& x : v) x = float(gen() % 50) * 0.5f - 7.0f;
  array a(v, {300, 517});
  auto s = sort(a, 1).to_vector<float>();
  auto idx = argsort(a, 1).to_vector<uint32_t>();
  auto s0 = sort(transpose(a), 0).to_vector<float>();  // (517, 300): the same rows as columns
  bool ok_sort = true, ok_arg = true, ok_t = true;
  for (int r = 0; r < 300; ++r) {
    std::vector<float> row(v.begin() + r * 517, v.begin() + (r + 1) * 517);
    std::vector<uint32_t> order(517);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t p, uint32_t q) { return row[p] < row[q]; });
    std::sort(row.begin(), row.end());
    for (int j = 0; j < 517; ++j) {
      ok_sort = ok_sort && s[r * 517 + j] == row[j];
      ok_arg = ok_arg && idx[r * 517 + j] == order[j];
      ok_t = ok_t && s0[j * 300 + r] == row[j];
    }
  }
  EXPECT_TRUE(ok_sort);
  EXPECT_TRUE(ok_arg);
  EXPECT_TRUE(ok_t);
}

// ---------------- partition ----------------
TEST(SortPartition, Property) {
  std::mt19937 gen(2);
  std::vector<float> v(8 * 37);
  for (auto& x : v) x = float(int(gen() % 41) - 20);
  array a(v, {8, 37});
  for (int kth : {0, 5, 36, -1, -20}) {
    int k = kth < 0 ? kth + 37 : kth;
    auto p = partition(a, kth, 1).to_vector<float>();
    array ip = argpartition(a, kth, 1);
    EXPECT_EQ(ip.dtype(), uint32);
    auto pi = ip.to_vector<uint32_t>();
    auto via = take_along_axis(a, ip, 1).to_vector<float>();
    for (int r = 0; r < 8; ++r) {
      std::vector<float> row(v.begin() + r * 37, v.begin() + (r + 1) * 37);
      std::vector<float> sorted = row;
      std::sort(sorted.begin(), sorted.end());
      for (const auto* out : {&p, &via}) {
        const float* q = out->data() + r * 37;
        ASSERT_EQ((*out)[r * 37 + k], sorted[k]) << "kth " << kth << " row " << r;
        for (int j = 0; j < 37; ++j) {
          if (j < k) {
            EXPECT_LE(q[j], q[k]);
          } else if (j > k) {
            EXPECT_GE(q[j], q[k]);
          }
        }
        std::vector<float> perm(q, q + 37);
        std::sort(perm.begin(), perm.end());
        EXPECT_EQ(perm, sorted);  // a permutation of the row
      }
      std::vector<uint32_t> ids(pi.begin() + r * 37, pi.begin() + (r + 1) * 37);
      std::sort(ids.begin(), ids.end());
      for (uint32_t j = 0; j < 37; ++j) EXPECT_EQ(ids[j], j);
    }
  }
}

TEST(SortPartition, TransposedAxis0WithNaN) {
  // Columns of x.T are the rows of x: kth = 3 of [3, nan, 1, 2, -0.5] is 3, NaN after it.
  array p = partition(transpose(sample_x()), 3, 0);
  auto v = p.to_vector<float>();  // (5, 2)
  EXPECT_EQ(v[3 * 2 + 0], 3.0f);
  EXPECT_TRUE(std::isnan(v[4 * 2 + 0]));
  EXPECT_EQ(v[3 * 2 + 1], 5.0f);
  EXPECT_EQ(v[4 * 2 + 1], kInf);
}

// ---------------- topk ----------------
TEST(SortTopk, LargestDescending) {
  expect_array<float>(topk(array({3.0f, 1.0f, 4.0f, 1.0f, 5.0f, 9.0f, 2.0f, 6.0f}), 3), {3}, {9, 6, 5});
  array w = array({3, 8, 1, 9, 2, 7, 4, 6, 5, 0, 11, 10}, {4, 3});
  expect_array<int32_t>(topk(w, 2, 0), {2, 3}, {9, 11, 10, 4, 8, 7});
  expect_array<int32_t>(topk(transpose(w), 2, 1), {3, 2}, {9, 4, 11, 8, 10, 7});
  expect_array<int32_t>(topk(w, 4, 0), {4, 3}, {9, 11, 10, 4, 8, 7, 3, 6, 5, 0, 2, 1});
  EXPECT_EQ(topk(w, 0, 1).shape(), (Shape{4, 0}));
  expect_floats(topk(sample_x(), 2), {2, 2}, {kNaN, 3, kInf, 5});  // NaN counts as largest
}

// ---------------- gradients ----------------
TEST(SortGrad, SortPartitionTopk) {
  array x(std::vector<double>{0.3, -1.2, 2.5, 0.7, -0.4, 1.9, 3.1, -2.2, 0.05, 1.1, -0.8, 0.6}, {3, 4});
  check_grad([](const array& a) { return sort(a, 1); }, x);
  check_grad([](const array& a) { return sort(a, 0); }, x);
  check_grad([](const array& a) { return sort(transpose(a), 1); }, x);
  check_grad([](const array& a) { return partition(a, 2, 1); }, x);
  check_grad([](const array& a) { return topk(a, 2, 1); }, x);
  check_grad([](const array& a) { return topk(reshape(a, {12}), 5); }, x);
  // Indices carry no gradient.
  std::function<array(const array&)> f = [](const array& a) { return sum(astype(argsort(a, 1), float64) * a); };
  expect_array<double>(grad(f)(array(std::vector<double>{1.0, 3.0, 2.0}, {1, 3})), {1, 3}, {0, 2, 1});
}

// ---------------- errors ----------------
TEST(SortErrors, BadArguments) {
  array x = sample_x();
  EXPECT_THROW(sort(array(1.0f)), std::invalid_argument);
  EXPECT_THROW(sort(x, 2), std::invalid_argument);
  EXPECT_THROW(argsort(x, -3), std::invalid_argument);
  EXPECT_THROW(partition(x, 5, 1), std::invalid_argument);
  EXPECT_THROW(argpartition(x, -6, 1), std::invalid_argument);
  EXPECT_THROW(topk(x, 6, 1), std::invalid_argument);
  EXPECT_THROW(topk(x, -1, 1), std::invalid_argument);
  try {
    partition(x, 7, 1);
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "[partition] kth 7 is out of range for axis 1 of size 5");
  }
}
