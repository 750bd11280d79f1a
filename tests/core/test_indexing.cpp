// Indexing ops against NumPy 1.24 values (computed once with /usr/bin/python3 and pasted here), on
// contiguous, transposed, sliced and broadcast inputs; gradients by central differences in
// float64; argument errors at build time and out-of-range indices at eval time.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>

#include "alloy/alloy.h"
#include "test_util.h"

using namespace alloy;

namespace {
using test::expect_array;

// The message of the exception `fn` throws (fails when it does not throw `E`).
template <typename E>
std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception of the expected type";
  return "";
}

// Checks grad(sum(f(x) * w)) against central differences, and jvp along a direction.
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
  auto loss_at = [&](size_t i, double d) {
    std::vector<double> v = base;
    v[i] += d;
    return loss(array(v, x0.shape())).item<double>();
  };
  for (size_t i = 0; i < base.size(); ++i) {
    double numeric = (loss_at(i, eps) - loss_at(i, -eps)) / (2 * eps);
    EXPECT_NEAR(gv[i], numeric, tol * std::max(1.0, std::abs(numeric))) << "gradient element " << i;
  }
  // Forward mode: the directional derivative along t.
  std::vector<double> tv(base.size());
  for (size_t i = 0; i < tv.size(); ++i) tv[i] = double(int(i % 5) - 2) * 0.3 + 0.1;
  array t(tv, x0.shape());
  auto [out, tan] = jvp(f, x0, t);
  std::vector<double> plus = base, minus = base;
  for (size_t i = 0; i < base.size(); ++i) {
    plus[i] += eps * tv[i];
    minus[i] -= eps * tv[i];
  }
  std::vector<double> fp = f(array(plus, x0.shape())).to_vector<double>();
  std::vector<double> fm = f(array(minus, x0.shape())).to_vector<double>();
  std::vector<double> jt = tan.to_vector<double>();
  ASSERT_EQ(jt.size(), fp.size());
  for (size_t i = 0; i < jt.size(); ++i) {
    double numeric = (fp[i] - fm[i]) / (2 * eps);
    EXPECT_NEAR(jt[i], numeric, tol * std::max(1.0, std::abs(numeric))) << "jvp element " << i;
  }
}

array f64(const std::vector<double>& v, const Shape& shape) { return array(v, shape); }

// a = arange(12).reshape(3, 4) * 1.5 - 4 (float32).
array sample_a() { return arange(12.0, float32) * 1.5f - 4.0f; }

}  // namespace

// ---------------- take ----------------
TEST(IndexTake, Axis0Float) {
  array a = reshape(sample_a(), {3, 4});
  expect_array<float>(take(a, array({2, 0, -1, 1}), 0), {4, 4},
                      {8.0, 9.5, 11.0, 12.5, -4.0, -2.5, -1.0, 0.5, 8.0, 9.5, 11.0, 12.5, 2.0, 3.5, 5.0, 6.5});
}

TEST(IndexTake, Axis1With2dIndices) {
  array a = reshape(sample_a(), {3, 4});
  array idx = array({0, 3, 1, -2}, {2, 2}, int64);
  expect_array<float>(take(a, idx, 1), {3, 2, 2}, {-4.0, 0.5, -2.5, -1.0, 2.0, 6.5, 3.5, 5.0, 8.0, 12.5, 9.5, 11.0});
}

TEST(IndexTake, FlattenedWithUint8Indices) {
  array a = reshape(sample_a(), {3, 4});
  expect_array<float>(take(a, array({11, 0, 5}, {3}, uint8)), {3}, {12.5, -4.0, 3.5});
}

TEST(IndexTake, TransposedInput) {
  array a = transpose(reshape(sample_a(), {3, 4}));  // (4, 3)
  expect_array<float>(take(a, array({2, 0}), 1), {4, 2}, {8.0, -4.0, 9.5, -2.5, 11.0, -1.0, 12.5, 0.5});
}

TEST(IndexTake, SlicedInput) {
  array a = slice(reshape(sample_a(), {3, 4}), {0, 0}, {3, 4}, {2, 2});  // a[::2, ::2]
  expect_array<float>(a, {2, 2}, {-4.0, -1.0, 8.0, 11.0});
  expect_array<float>(take(a, array({1, 1, 0}, {3}, int16), 0), {3, 2}, {8.0, 11.0, 8.0, 11.0, -4.0, -1.0});
}

TEST(IndexTake, BroadcastInputInt32) {
  array b = broadcast_to(array({1, 2, 3}), {4, 3});
  expect_array<int32_t>(take(b, array({3, 0}), 0), {2, 3}, {1, 2, 3, 1, 2, 3});
  expect_array<int32_t>(take(b, array({2, 2, 0}), 1), {4, 3}, {3, 3, 1, 3, 3, 1, 3, 3, 1, 3, 3, 1});
}

TEST(IndexTake, ThreeDimsInt) {
  std::vector<int32_t> v{-5, 2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5, 2, -2, 5, 1, -3, 4, 0, -4, 3, -1, -5, 2};
  array a(v, {2, 3, 4});
  expect_array<int32_t>(take(a, array({2, 0, 1, 1}, {2, 2}), 1), {2, 2, 2, 4},
                        {-4, 3, -1, -5, -5, 2, -2, 5, 1, -3, 4, 0, 1, -3, 4, 0,
                         3, -1, -5, 2, 2, -2, 5, 1, -3, 4, 0, -4, -3, 4, 0, -4});
  expect_array<int32_t>(take(a, array({-1, 0}, {2}, int8), 2), {2, 3, 2}, {5, -5, 0, 1, -5, -4, 1, 2, -4, -3, 2, 3});
  // Transposed index array and a 0-d index.
  array idx_t = transpose(array({2, 1, 0, 1}, {2, 2}));  // [[2, 0], [1, 1]]
  expect_array<int32_t>(take(a, idx_t, 1), {2, 2, 2, 4},
                        {-4, 3, -1, -5, -5, 2, -2, 5, 1, -3, 4, 0, 1, -3, 4, 0,
                         3, -1, -5, 2, 2, -2, 5, 1, -3, 4, 0, -4, -3, 4, 0, -4});
  expect_array<int32_t>(take(a, array(2), 1), {2, 4}, {-4, 3, -1, -5, 3, -1, -5, 2});
}

TEST(IndexTake, EmptyIndices) {
  array a = reshape(sample_a(), {3, 4});
  array r = take(a, array(std::vector<int32_t>{}, {0}), 1);
  EXPECT_EQ(r.shape(), (Shape{3, 0}));
  EXPECT_EQ(r.to_vector<float>().size(), 0u);
}

TEST(IndexTake, LargeParallel) {
  // 1000 x 200 table, 5000 random rows (exercises the threaded copy).
  array a = reshape(arange(200000.0, float32), {1000, 200});
  std::mt19937 gen(3);
  std::vector<int32_t> rows(5000);
  for (auto& r : rows) r = int32_t(gen() % 1000);
  auto out = take(a, array(rows, {5000}), 0).to_vector<float>();
  ASSERT_EQ(out.size(), 5000u * 200u);
  bool ok = true;
  for (size_t i = 0; i < rows.size() && ok; ++i) {
    for (int j = 0; j < 200 && ok; ++j) ok = out[i * 200 + j] == float(rows[i] * 200 + j);
  }
  EXPECT_TRUE(ok);
  // Along axis 1 too (the result is a transposed view).
  auto cols = take(a, array({199, 0, 7}), 1).to_vector<float>();
  ASSERT_EQ(cols.size(), 3000u);
  EXPECT_EQ(cols[0], 199.0f);
  EXPECT_EQ(cols[1], 0.0f);
  EXPECT_EQ(cols[3 * 999 + 2], float(999 * 200 + 7));
}

// ---------------- take_along_axis / put_along_axis ----------------
TEST(IndexAlongAxis, TakeAlongAxis) {
  array x = array({4.0f, 1.0f, 3.0f, 2.0f, 9.0f, 0.0f, 7.0f, 5.0f, 6.0f}, {3, 3});
  expect_array<float>(take_along_axis(x, argsort(x, 1), 1), {3, 3}, {1, 3, 4, 0, 2, 9, 5, 6, 7});
  // Indices broadcast along the other axis.
  expect_array<float>(take_along_axis(x, array({2, 0}, {1, 2}), 1), {3, 2}, {3, 4, 0, 2, 6, 7});
  expect_array<float>(take_along_axis(x, array({2, 0, 1, -1, 1, 0}, {2, 3}, int64), 0), {2, 3}, {7, 1, 0, 7, 9, 3});
  // Transposed source: x.T[i, idx[i, j]].
  array xt = transpose(x);  // [[4, 2, 7], [1, 9, 5], [3, 0, 6]]
  expect_array<float>(take_along_axis(xt, array({2, 0, 1, 1, 0, 2}, {3, 2}), 1), {3, 2}, {7, 4, 9, 9, 3, 6});
  // Broadcast source (int): every row is [10, 20, 30].
  array b = broadcast_to(array({10, 20, 30}, {1, 3}), {2, 3});
  expect_array<int32_t>(take_along_axis(b, array({2, 2, 0, 1}, {2, 2}, uint16), 1), {2, 2}, {30, 30, 10, 20});
}

TEST(IndexAlongAxis, PutAlongAxis) {
  array z = zeros({3, 4});
  expect_array<float>(put_along_axis(z, array({1, 3, 0}, {3, 1}), array(9.0f), 1), {3, 4},
                      {0, 9, 0, 0, 0, 0, 0, 9, 9, 0, 0, 0});
  // Duplicates along the axis: the last write wins.
  array a = reshape(arange(12.0, float32), {3, 4});
  array idx = array({0, 2, 0, 1, 0, 0, 2, 1}, {2, 4});
  array vals = array({10, 20, 30, 40, 50, 60, 70, 80}, {2, 4});
  expect_array<float>(put_along_axis(a, idx, vals, 0), {3, 4}, {50, 60, 30, 3, 4, 5, 6, 80, 8, 20, 70, 11});
  // a unchanged (functional).
  expect_array<float>(a, {3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  // Transposed int destination.
  array at = transpose(reshape(arange(6.0, int32), {2, 3}));  // [[0, 3], [1, 4], [2, 5]]
  expect_array<int32_t>(put_along_axis(at, array({-1, 0, 1}, {3, 1}), array(-7), 1), {3, 2}, {0, -7, -7, 4, 2, -7});
}

// ---------------- gather ----------------
TEST(IndexGather, Points) {
  std::vector<double> v{-2, 1, 4, 0, 3, -1, 2, -2, 1, 4, 0, 3, -1, 2, -2, 1, 4, 0, 3, -1};
  array a(v, {4, 5});
  // Index arrays (3,) and (2, 1) broadcast to (2, 3).
  array g = gather(a, {array({3, 0, -1}), array({4, 1}, {2, 1})}, {0, 1}, {1, 1});
  expect_array<double>(g, {2, 3, 1, 1}, {-1, 3, -1, 4, 1, 4});
}

TEST(IndexGather, Windows) {
  std::vector<double> v{-2, 1, 4, 0, 3, -1, 2, -2, 1, 4, 0, 3, -1, 2, -2, 1, 4, 0, 3, -1};
  array a(v, {4, 5});
  // a[:, s:s+3] for s in (2, 0).
  expect_array<double>(gather(a, {array({2, 0})}, {1}, {4, 3}), {2, 4, 3},
                       {4, 0, 3, -2, 1, 4, -1, 2, -2, 0, 3, -1, -2, 1, 4, -1, 2, -2, 0, 3, -1, 1, 4, 0});
  // The same windows read from a transposed copy of a (a = at.T).
  array at = contiguous(transpose(a));
  expect_array<double>(gather(transpose(at), {array({2, 0})}, {1}, {4, 3}), {2, 4, 3},
                       {4, 0, 3, -2, 1, 4, -1, 2, -2, 0, 3, -1, -2, 1, 4, -1, 2, -2, 0, 3, -1, 1, 4, 0});
  // No index arrays: one slice.
  expect_array<double>(gather(a, {}, {}, {1, 2}), {1, 2}, {-2, 1});
}

// ---------------- scatter ----------------
TEST(IndexScatter, DuplicatesAccumulate) {
  array idx = array({0, 2, 0, 4});
  array upd = array({1.0, 5.0, 3.0, -1.0}, {4, 1});
  array base = full({5}, array(2.0));
  expect_array<double>(scatter_add(zeros({5}, float64), {array({0, 2, 0})}, array({1.0, 2.0, 3.0}, {3, 1}), {0}), {5},
                       {4, 0, 2, 0, 0});
  expect_array<double>(scatter_max(base, {idx}, upd, {0}), {5}, {3, 2, 5, 2, 2});
  expect_array<double>(scatter_min(base, {idx}, upd, {0}), {5}, {1, 2, 2, 2, -1});
  expect_array<double>(scatter_prod(base, {idx}, upd, {0}), {5}, {6, 2, 10, 2, -2});
  // Plain scatter: the last write in index order wins.
  expect_array<double>(scatter(base, {idx}, upd, {0}), {5}, {3, 2, 5, 2, -1});
}

TEST(IndexScatter, RowsIntAndLayouts) {
  array a = reshape(arange(12.0, int32), {3, 4});
  array rows = array({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 4});
  expect_array<int32_t>(scatter(a, {array({0, 2})}, rows, {0}), {3, 4}, {1, 2, 3, 4, 4, 5, 6, 7, 5, 6, 7, 8});
  // Transposed destination, duplicate rows added.
  array at = transpose(a);  // (4, 3)
  array upd = array({1, 1, 1, 2, 2, 2, 10, 20, 30}, {3, 1, 3});
  expect_array<int32_t>(scatter_add(at, {array({3, 0, 3}, {3}, int64)}, upd, {0}), {4, 3},
                        {2, 6, 10, 1, 5, 9, 2, 6, 10, 14, 28, 42});
  // Broadcast updates (one row for every index) and sliced destination a[::2] (rows 0 and 2).
  array sl = slice(a, {0, 0}, {3, 4}, {2, 1});
  expect_array<int32_t>(scatter_add(sl, {array({1, 1})}, broadcast_to(array({1, 0, 0, 1}, {1, 1, 4}), {2, 1, 4}), {0}),
                        {2, 4}, {0, 1, 2, 3, 10, 9, 10, 13});
}

TEST(IndexScatter, OverlappingWindows) {
  // Slices of size 3 on the indexed axis overlap: z[s:s+3] += (1, 10, 100) for s in (0, 1, 3).
  array upd = broadcast_to(array({1.0f, 10.0f, 100.0f}, {1, 3}), {3, 3});
  expect_array<float>(scatter_add(zeros({6}), {array({0, 1, 3})}, upd, {0}), {6}, {1, 11, 110, 101, 10, 100});
}

TEST(IndexScatter, LargeWithDuplicates) {
  // Rows of a (64, 300) table updated from 2000 random (duplicated) row indices.
  std::mt19937 gen(5);
  std::vector<int32_t> rows(2000);
  for (auto& r : rows) r = int32_t(gen() % 64);
  std::vector<double> expect(64 * 300, 0.0);
  std::vector<double> last(64 * 300, -1.0);
  std::vector<double> upd(2000 * 300);
  for (size_t i = 0; i < rows.size(); ++i) {
    for (int j = 0; j < 300; ++j) {
      upd[i * 300 + j] = double(i % 13) + 0.25 * j;
      expect[rows[i] * 300 + j] += upd[i * 300 + j];
      last[rows[i] * 300 + j] = upd[i * 300 + j];
    }
  }
  array u(upd, {2000, 1, 300});
  array idx(rows, {2000});
  EXPECT_EQ(scatter_add(zeros({64, 300}, float64), {idx}, u, {0}).to_vector<double>(), expect);
  EXPECT_EQ(scatter(full({64, 300}, array(-1.0), float64), {idx}, u, {0}).to_vector<double>(), last);
}

TEST(IndexScatter, TwoIndexedAxes) {
  // a[i, j] += u for pairs (0, 1), (2, 3), (0, 1).
  array r = scatter_add(zeros({3, 4}), {array({0, 2, 0}), array({1, 3, 1})}, array({1.0f, 2.0f, 4.0f}, {3, 1, 1}),
                        {0, 1});
  expect_array<float>(r, {3, 4}, {0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
}

// ---------------- boolean_mask / flatnonzero ----------------
TEST(IndexMask, BooleanMask) {
  array a = reshape(arange(6.0, float32) * 2.5f, {2, 3});
  array m = array({true, false, true, false, true, true}, {2, 3});
  expect_array<float>(boolean_mask(a, m), {4}, {0, 5, 10, 12.5});
  expect_array<float>(boolean_mask(a, array({true, false, true})), {4}, {0, 5, 7.5, 12.5});
  array mt = array({true, false, true, true, false, true}, {3, 2});
  expect_array<float>(boolean_mask(transpose(a), mt), {4}, {0, 2.5, 10, 12.5});
  EXPECT_EQ(boolean_mask(a, array(false)).size(), 0u);
}

TEST(IndexMask, FlatNonzero) {
  array r = flatnonzero(array({0.0f, 1.5f, 0.0f, -2.0f, std::nanf("")}));
  EXPECT_EQ(r.dtype(), int64);
  expect_array<int64_t>(r, {3}, {1, 3, 4});
  expect_array<int64_t>(flatnonzero(transpose(array({1, 2, 0, 0}, {2, 2}))), {2}, {0, 2});
}

// ---------------- errors ----------------
TEST(IndexErrors, BadArguments) {
  array a = reshape(sample_a(), {3, 4});
  std::string msg = error_of<std::invalid_argument>([&] { take(a, array({true, false}), 0); });
  EXPECT_NE(msg.find("[take]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bool"), std::string::npos) << msg;
  EXPECT_THROW(take(a, array({0.5f}), 0), std::invalid_argument);
  EXPECT_THROW(take(a, array({0}), 2), std::invalid_argument);
  EXPECT_THROW(take(a, array({0}), -3), std::invalid_argument);
  EXPECT_THROW(take_along_axis(a, array({0, 1}), 1), std::invalid_argument);             // ndim mismatch
  EXPECT_THROW(take_along_axis(a, array({0, 1, 0, 1}, {2, 2}), 1), std::invalid_argument);  // 2 vs 3 rows
  EXPECT_THROW(put_along_axis(a, array({0, 1, 2}, {3, 1}), array({1.0f, 2.0f}), 1), std::invalid_argument);
  EXPECT_THROW(gather(a, {array({0})}, {0, 1}, {1, 1}), std::invalid_argument);  // 1 index array, 2 axes
  EXPECT_THROW(gather(a, {array({0})}, {0}, {1}), std::invalid_argument);        // slice_sizes rank
  EXPECT_THROW(gather(a, {array({0})}, {0}, {1, 5}), std::invalid_argument);     // slice too large
  EXPECT_THROW(gather(a, {array({0}), array({0})}, {1, -1}, {1, 1}), std::invalid_argument);  // axis twice
  EXPECT_THROW(gather(a, {array({0, 1}), array({0, 1, 2})}, {0, 1}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(scatter_add(a, {array({0})}, array({1.0f, 2.0f, 3.0f, 4.0f}, {1, 4}), {0}), std::invalid_argument);
  EXPECT_THROW(scatter(a, {array({0})}, zeros({1, 1, 5}), {0}), std::invalid_argument);
  EXPECT_THROW(scatter(a, {array({0.0f})}, zeros({1, 1, 4}), {0}), std::invalid_argument);
  EXPECT_THROW(boolean_mask(a, array({1, 0, 1})), std::invalid_argument);
  EXPECT_THROW(boolean_mask(a, array({true, false})), std::invalid_argument);
}

TEST(IndexErrors, OutOfRangeAtEval) {
  array a = arange(5.0, float32);
  array r = take(a, array({0, 7}), 0);
  std::string msg = error_of<std::out_of_range>([&] { r.eval(); });
  EXPECT_EQ(msg, "[take] index 7 is out of range for axis 0 of size 5");
  msg = error_of<std::out_of_range>([&] { take(a, array(-6), 0).item<float>(); });
  EXPECT_EQ(msg, "[take] index -6 is out of range for axis 0 of size 5");
  msg = error_of<std::out_of_range>([&] { take(a, array({200}, {1}, uint8), 0).eval(); });
  EXPECT_EQ(msg, "[take] index 200 is out of range for axis 0 of size 5");
  // The error reaches later readers of the result too.
  EXPECT_THROW(sum(take(a, array({5}), 0)).item<float>(), std::out_of_range);

  array m = reshape(arange(6.0, float32), {2, 3});
  EXPECT_THROW(take_along_axis(m, array({0, 3}, {1, 2}), 1).eval(), std::out_of_range);
  EXPECT_THROW(put_along_axis(m, array({2}, {1, 1}), array(1.0f), 0).eval(), std::out_of_range);
  msg = error_of<std::out_of_range>([&] { gather(m, {array({2})}, {1}, {2, 2}).eval(); });
  EXPECT_EQ(msg, "[gather] index 2 is out of range for axis 1 of size 3 with a slice of size 2");
  EXPECT_THROW(scatter_add(m, {array({-3})}, zeros({1, 1, 3}), {0}).eval(), std::out_of_range);
  EXPECT_THROW(scatter(m, {array({0}), array({3})}, zeros({1, 1, 1}), {0, 1}).eval(), std::out_of_range);
  // A good take on the same data still works afterwards.
  EXPECT_EQ(take(a, array({4}), 0).item<float>(), 4.0f);
}

// ---------------- gradients ----------------
TEST(IndexGrad, Take) {
  array x = f64({0.3, -1.2, 2.5, 0.7, -0.4, 1.9, 3.1, -2.2, 0.05, 1.1, -0.8, 0.6}, {3, 4});
  array idx = array({2, 0, 2, -1}, {2, 2});  // repeated indices accumulate
  check_grad([&](const array& a) { return take(a, idx, 1); }, x);
  check_grad([&](const array& a) { return take(a, idx, 0); }, x);
  check_grad([&](const array& a) { return take(transpose(a), array({1, 1, 3}), 0); }, x);
  check_grad([&](const array& a) { return take(a, array({11, 0, 11})); }, x);
}

TEST(IndexGrad, TakeAlongAxisAndPut) {
  array x = f64({0.3, -1.2, 2.5, 0.7, -0.4, 1.9, 3.1, -2.2, 0.05, 1.1, -0.8, 0.6}, {3, 4});
  array idx = array({3, 0, 0, 1, 2, 2, 1, 0, 3}, {3, 3});
  check_grad([&](const array& a) { return take_along_axis(a, idx, 1); }, x);
  check_grad([&](const array& a) { return take_along_axis(a, array({0, 2, 1, 0}, {1, 4}), 0); }, x);
  // put_along_axis: with respect to the destination and to the values (duplicates: last wins).
  array vals = f64({1.5, -0.5, 2.0, 0.25, -1.0, 3.0}, {3, 2});
  array pidx = array({1, 1, 3, 0, 2, 0}, {3, 2});
  check_grad([&](const array& a) { return put_along_axis(a, pidx, vals, 1); }, x);
  check_grad([&](const array& v) { return put_along_axis(x, pidx, v, 1); }, vals);
}

TEST(IndexGrad, Gather) {
  array x = f64({0.3, -1.2, 2.5, 0.7, -0.4, 1.9, 3.1, -2.2, 0.05, 1.1, -0.8, 0.6}, {3, 4});
  check_grad([&](const array& a) { return gather(a, {array({0, 2, 0}), array({1, 3, 1})}, {0, 1}, {1, 1}); }, x);
  check_grad([&](const array& a) { return gather(a, {array({2, 0, 1})}, {1}, {2, 2}); }, x);  // overlapping windows
}

TEST(IndexGrad, Scatter) {
  array x = f64({0.3, -1.2, 2.5, 0.7, -0.4, 1.9, 3.1, -2.2, 0.05, 1.1, -0.8, 0.6}, {3, 4});
  array u = f64({1.5, -0.5, 2.0, 0.25, -1.0, 3.0, 0.4, -0.9}, {2, 1, 4});
  array u3 = f64({1.5, -0.5, 2.0, 0.25, -1.0, 3.0, 0.4, -0.9, 0.1, 0.2, 0.3, 0.45}, {3, 1, 4});
  array rows = array({2, 0, 2});
  check_grad([&](const array& a) { return scatter_add(a, {array({2, 2})}, u, {0}); }, x);
  check_grad([&](const array& v) { return scatter_add(x, {array({2, 2})}, v, {0}); }, u);
  check_grad([&](const array& a) { return scatter(a, {rows}, u3, {0}); }, x);
  check_grad([&](const array& v) { return scatter(x, {rows}, v, {0}); }, u3);  // row 2: the last write wins
  check_grad([&](const array& a) { return scatter_max(a, {rows}, u3, {0}); }, x);
  check_grad([&](const array& v) { return scatter_min(x, {rows}, v, {0}); }, u3);
  EXPECT_THROW(grad(std::function<array(const array&)>([&](const array& a) {
                 return sum(scatter_prod(a, {rows}, u3, {0}));
               }))(x),
               std::invalid_argument);
}

TEST(IndexGrad, AsStridedThroughScatterAdd) {
  array x = f64({0.3, -1.2, 2.5, 0.7, -0.4, 1.9, 3.1, -2.2, 0.05, 1.1, -0.8, 0.6}, {3, 4});
  check_grad([](const array& a) { return diagonal(a); }, x);
  check_grad([](const array& a) { return diagonal(a, 1); }, x);
  check_grad([](const array& a) { return diagonal(transpose(a), -1); }, x);
  // Overlapping sliding windows: each element feeds several outputs.
  check_grad([](const array& a) { return as_strided(a, {5, 4}, {2, 1}); }, x);
}

TEST(IndexGrad, BooleanMask) {
  array x = f64({0.3, -1.2, 2.5, 0.7, -0.4, 1.9}, {2, 3});
  array m = array({true, false, true, false, true, true}, {2, 3});
  std::function<array(const array&)> loss = [&](const array& a) { return sum(square(boolean_mask(a, m))); };
  expect_array<double>(grad(loss)(x), {2, 3}, {0.6, 0, 5.0, 0, -0.8, 3.8});
}

namespace alloy {
namespace {

// slice_update_at writes where slice_update with the same (clamped) start would, for every
// element size, one or two dynamic axes, and leaves a still-referenced input unchanged.
TEST(SliceUpdateAt, MatchesSliceUpdateAndClampsTheStart) {
  for (Dtype t : {float32, float16, int32, uint8, float64}) {
    array a = astype(reshape(arange(0.0, 2 * 3 * 8 * 4, 1.0), {2, 3, 8, 4}), t);
    array upd = astype(add(reshape(arange(0.0, 2 * 3 * 4, 1.0), {2, 3, 1, 4}), array(200.0)), t);
    a.eval();
    for (auto [given, used] : {std::pair{0, 0}, {5, 5}, {7, 7}, {10, 7}, {-3, 0}}) {
      array got = slice_update_at(a, upd, array({given}, {1}), {2});
      array want = slice_update(a, upd, {0, 0, used, 0}, {2, 3, used + 1, 4});
      EXPECT_TRUE(array_equal(got, want)) << dtype_name(t) << " start " << given;
    }
    EXPECT_EQ(a.to_vector<double>()[0], 0.0) << "the input is unchanged while referenced";
  }
  array a = zeros({3, 4, 8});
  array upd = ones({2, 4, 3});
  array got = slice_update_at(a, upd, array({int64_t(1), int64_t(5)}, {2}), {0, -1});
  array want = slice_update(a, upd, {1, 0, 5}, {3, 4, 8});
  EXPECT_TRUE(array_equal(got, want));
}

TEST(SliceUpdateAt, BadInputsNameTheProblem) {
  array a = zeros({2, 8, 4});
  array start = array({1}, {1});
  EXPECT_THROW(slice_update_at(a, ones({8, 4}), start, {1}), std::invalid_argument);        // rank
  EXPECT_THROW(slice_update_at(a, ones({2, 9, 4}), start, {1}), std::invalid_argument);     // too long
  EXPECT_THROW(slice_update_at(a, ones({2, 1, 4}), array({1, 2}, {2}), {1}), std::invalid_argument);
  EXPECT_THROW(slice_update_at(a, ones({2, 1, 4}), array({1, 2}, {2}), {1, 1}), std::invalid_argument);
  EXPECT_THROW(slice_update_at(a, ones({2, 1, 4}), start, {3}), std::invalid_argument);
  EXPECT_THROW(slice_update_at(a, ones({2, 1, 4}), array({1.0f}, {1}), {1}), std::invalid_argument);
  try {
    slice_update_at(a, ones({2, 9, 4}), start, {1});
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[slice_update_at]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace alloy
