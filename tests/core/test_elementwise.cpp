// The elementwise kernels beyond the NumPy reference cases: the float32 expm1, log1p, erf and
// logaddexp polynomials (backend/common/fast_math.h) against libm in float64, in ulp, over a
// sample of every float; their special values in every float dtype; NaN from either argument of
// maximum/minimum (and nn::relu); where() and the strided row walk on rows long enough to be cut
// into pieces across threads (backend/cpu/strided.h), in every element size.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "alloy/alloy.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/nn/activations.h"

namespace alloy {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
const Dtype kFloats[] = {float32, float16, bfloat16, float64};

// Every 4093rd float bit pattern (about a million values: both signs, subnormals, infinities,
// NaNs) and dense sweeps where the polynomials change piece, saturate or overflow.
std::vector<float> sample_floats() {
  std::vector<float> v;
  for (uint64_t b = 0; b < (uint64_t(1) << 32); b += 4093) v.push_back(std::bit_cast<float>(uint32_t(b)));
  auto sweep = [&](float lo, float hi, int n) {
    for (int i = 0; i <= n; ++i) v.push_back(lo + (hi - lo) * float(i) / float(n));
  };
  sweep(-1e-3f, 1e-3f, 20000);
  sweep(-1.5f, 1.5f, 300000);
  sweep(0.85f, 0.95f, 20000);   // erf's two pieces meet at 0.9
  sweep(-0.95f, -0.85f, 20000);
  sweep(3.9f, 4.1f, 10000);     // erf reaches 1
  sweep(87.0f, 89.0f, 20000);   // expm1 overflows past 88.7228
  sweep(-90.0f, -80.0f, 10000);  // expm1 reaches -1
  sweep(-1.0f, -0.99f, 10000);  // log1p's pole
  for (float x = 88.7228f; x < 88.72285f; x = std::nextafter(x, kInf)) v.push_back(x);
  for (float x = -1.0f; x < -0.99999f; x = std::nextafter(x, kInf)) v.push_back(x);
  return v;
}

// |got - want| in units of the float ulp of want's binade; exact agreement for NaN and for values
// that are infinite in float.
double ulp_error(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : INFINITY;
  if (std::isinf(float(want))) return got == float(want) ? 0 : INFINITY;
  if (!std::isfinite(got)) return INFINITY;
  int e = 0;
  std::frexp(std::abs(want), &e);
  double ulp = std::ldexp(1.0, std::max(e - 24, -149));
  return std::abs(double(got) - want) / ulp;
}

void expect_ulp(const char* name, const std::function<array(const array&)>& op, double (*ref)(double),
                double bound) {
  std::vector<float> xs = sample_floats();
  std::vector<float> got = op(array(xs, {int64_t(xs.size())})).to_vector<float>();
  ASSERT_EQ(got.size(), xs.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    double e = ulp_error(got[i], ref(double(xs[i])));
    if (e > worst) worst = e, at = i;
  }
  EXPECT_LE(worst, bound) << name << ": worst at x = " << xs[at] << ", got " << got[at] << ", want "
                          << ref(double(xs[at]));
  EXPECT_GT(worst, 0.0) << name << " never differs from libm in float64: is it computed in float32?";
}

TEST(ElementwiseMath, Float32WithinTwoUlpOfLibm) {
  expect_ulp("expm1", [](const array& x) { return expm1(x); }, [](double x) { return std::expm1(x); }, 2.0);
  expect_ulp("log1p", [](const array& x) { return log1p(x); }, [](double x) { return std::log1p(x); }, 2.0);
  expect_ulp("erf", [](const array& x) { return erf(x); }, [](double x) { return std::erf(x); }, 2.0);
}

TEST(ElementwiseMath, LogAddExpFloat32) {
  // Random pairs, near and far apart, tiny and large. The error counts in ulp of the larger of
  // max(a, b) and log1p(exp(-|a - b|)) (the sum may cancel), against float64 applied to a - b
  // as rounded in float, which any float32 formula starts from.
  std::vector<float> a, b;
  uint64_t s = 12345;
  auto next = [&] {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return float(s >> 40) / float(1 << 24) - 0.5f;  // [-0.5, 0.5)
  };
  for (int i = 0; i < 300000; ++i) {
    float x = next() * 200;
    float y = i % 3 == 0 ? x + next() * 2 : next() * 200;
    float scale = i % 7 == 0 ? 1e-4f : (i % 11 == 0 ? 1e6f : 1.0f);
    a.push_back(x * scale);
    b.push_back(y * scale);
  }
  int64_t n = int64_t(a.size());
  std::vector<float> got = logaddexp(array(a, {n}), array(b, {n})).to_vector<float>();
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double m = std::max(a[i], b[i]);
    double l = std::log1p(std::exp(-std::abs(double(a[i] - b[i]))));
    int e = 0;
    std::frexp(std::max(std::abs(m), l), &e);
    worst = std::max(worst, std::abs(got[i] - (m + l)) / std::ldexp(1.0, std::max(e - 24, -149)));
  }
  EXPECT_LE(worst, 3.0);
  EXPECT_GT(worst, 0.0);
  // Infinities and NaN, as NumPy gives them.
  array x({-kInf, -kInf, kInf, kInf, 1.0f, kNaN, 2.0f, -kInf}, {8});
  array y({-kInf, 3.0f, -kInf, kInf, kNaN, 1.0f, kInf, -100.0f}, {8});
  std::vector<float> r = logaddexp(x, y).to_vector<float>();
  EXPECT_EQ(r[0], -kInf);
  EXPECT_EQ(r[1], 3.0f);
  EXPECT_EQ(r[2], kInf);
  EXPECT_EQ(r[3], kInf);
  EXPECT_TRUE(std::isnan(r[4]));
  EXPECT_TRUE(std::isnan(r[5]));
  EXPECT_EQ(r[6], kInf);
  EXPECT_EQ(r[7], -100.0f);
}

TEST(ElementwiseMath, SpecialValuesInEveryFloatDtype) {
  for (Dtype t : kFloats) {
    SCOPED_TRACE(dtype_name(t));
    array x = astype(array({0.0f, -0.0f, kInf, -kInf, kNaN, -1.0f, -2.0f, 1e-30f}, {8}), t);
    std::vector<double> e = expm1(x).to_vector<double>();
    std::vector<double> l = log1p(x).to_vector<double>();
    std::vector<double> f = erf(x).to_vector<double>();
    EXPECT_EQ(e[0], 0.0);
    EXPECT_TRUE(std::signbit(e[1]) && e[1] == 0.0);
    EXPECT_EQ(e[2], INFINITY);
    EXPECT_EQ(e[3], -1.0);
    EXPECT_TRUE(std::isnan(e[4]));
    EXPECT_NEAR(e[5], std::expm1(-1.0), 4e-3);
    EXPECT_TRUE(std::signbit(l[1]) && l[1] == 0.0);
    EXPECT_EQ(l[2], INFINITY);
    EXPECT_TRUE(std::isnan(l[3]));
    EXPECT_TRUE(std::isnan(l[4]));
    EXPECT_EQ(l[5], -INFINITY);
    EXPECT_TRUE(std::isnan(l[6]));
    EXPECT_TRUE(std::signbit(f[1]) && f[1] == 0.0);
    EXPECT_EQ(f[2], 1.0);
    EXPECT_EQ(f[3], -1.0);
    EXPECT_TRUE(std::isnan(f[4]));
    if (t == float32 || t == float64) {
      // Tiny arguments keep full relative accuracy (exp(x) - 1 or log(1 + x) would give 0).
      EXPECT_NEAR(e[7] / 1e-30, 1.0, 1e-6);
      EXPECT_NEAR(l[7] / 1e-30, 1.0, 1e-6);
      EXPECT_NEAR(f[7] / 1e-30, 2.0 / std::sqrt(M_PI), 1e-6);
    }
  }
  // Overflow exactly where float's exp overflows.
  array big({88.7228317f, 88.7228394f}, {2});
  std::vector<float> eb = expm1(big).to_vector<float>();
  EXPECT_TRUE(std::isfinite(eb[0]));
  EXPECT_NEAR(eb[0] / 3.4028e38f, 1.0, 1e-4);
  EXPECT_EQ(eb[1], kInf);
}

// ---------------- maximum / minimum ----------------

TEST(ElementwiseNaN, MaximumMinimumPropagateNaNFromEitherArgument) {
  // NumPy: np.maximum([1, nan, nan, -2, 3, -inf], [nan, 2, nan, -3, inf, nan]).
  std::vector<float> av = {1.0f, kNaN, kNaN, -2.0f, 3.0f, -kInf};
  std::vector<float> bv = {kNaN, 2.0f, kNaN, -3.0f, kInf, kNaN};
  std::vector<double> want_max = {NAN, NAN, NAN, -2.0, INFINITY, NAN};
  std::vector<double> want_min = {NAN, NAN, NAN, -3.0, 3.0, NAN};
  auto expect_same = [](const array& got, const std::vector<double>& want, const char* what) {
    std::vector<double> g = got.to_vector<double>();
    ASSERT_EQ(g.size(), want.size()) << what;
    for (size_t i = 0; i < want.size(); ++i) {
      if (std::isnan(want[i])) EXPECT_TRUE(std::isnan(g[i])) << what << " element " << i << " is " << g[i];
      else EXPECT_EQ(g[i], want[i]) << what << " element " << i;
    }
  };
  for (Dtype t : kFloats) {
    SCOPED_TRACE(dtype_name(t));
    array a = astype(array(av, {6}), t), b = astype(array(bv, {6}), t);
    expect_same(maximum(a, b), want_max, "maximum(a, b)");
    expect_same(maximum(b, a), want_max, "maximum(b, a)");
    expect_same(minimum(a, b), want_min, "minimum(a, b)");
    expect_same(minimum(b, a), want_min, "minimum(b, a)");
    // A broadcast NaN scalar on either side, and NaN inside a long dense row (the vector loop).
    expect_same(maximum(array(kNaN), a), std::vector<double>(6, NAN), "maximum(nan, a)");
    expect_same(minimum(a, array(kNaN)), std::vector<double>(6, NAN), "minimum(a, nan)");
    std::vector<float> longv(1000);
    for (size_t i = 0; i < longv.size(); ++i) longv[i] = i % 37 == 5 ? kNaN : float(int(i % 13) - 6);
    std::vector<double> want_relu(longv.size());
    for (size_t i = 0; i < longv.size(); ++i) want_relu[i] = std::isnan(longv[i]) ? NAN : std::max(0.0f, longv[i]);
    array x = astype(array(longv, {1000}), t);
    expect_same(maximum(array(0.0), x), want_relu, "maximum(0, x)");
    expect_same(maximum(x, array(0.0)), want_relu, "maximum(x, 0)");
    expect_same(nn::relu(x), want_relu, "nn::relu");
    expect_same(clip(x, array(0.0), array(100.0)), want_relu, "clip(x, 0, 100)");
  }
  // Integers are untouched by the NaN test.
  expect_same(maximum(array({3, -7, 0}, {3}), array({-1, 2, 0}, {3})), {3, 2, 0}, "maximum int32");
  expect_same(minimum(array({3, -7, 0}, {3}), array({-1, 2, 0}, {3})), {-1, -7, 0}, "minimum int32");
}

// ---------------- where and long strided rows ----------------

// A row long enough to be cut into pieces (more than 2 * kRowPiece) that do not divide it evenly.
constexpr int64_t kLong = 3 * cpu::kRowPiece + 17;

std::vector<double> host_where(const array& c, const array& x, const array& y, const Shape& shape) {
  std::vector<double> cv = broadcast_to(c, shape).to_vector<double>();
  std::vector<double> xv = broadcast_to(x, shape).to_vector<double>();
  std::vector<double> yv = broadcast_to(y, shape).to_vector<double>();
  std::vector<double> out(cv.size());
  for (size_t i = 0; i < cv.size(); ++i) out[i] = cv[i] != 0 ? xv[i] : yv[i];
  return out;
}

void expect_values(const array& got, const std::vector<double>& want, const std::string& what) {
  std::vector<double> g = got.to_vector<double>();
  ASSERT_EQ(g.size(), want.size()) << what;
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    bool same = std::isnan(want[i]) ? std::isnan(g[i]) : g[i] == want[i];
    if (!same && bad++ == 0) first = i;
  }
  EXPECT_EQ(bad, 0u) << what << ": first mismatch at " << first << ", got " << g[first] << ", want " << want[first];
}

TEST(ElementwiseWhere, EveryElementSizeLayoutAndBroadcast) {
  const Shape shape = {3, kLong};
  array c = greater(random::uniform(shape, float32, -1, 1, random::key(1)), array(0.0f));
  array c_row = greater(random::uniform({1, kLong}, float32, -1, 1, random::key(2)), array(0.0f));
  array c_col = array({true, false, true}, {3, 1});
  for (Dtype t : {float32, float16, bfloat16, float64, int8, int64, uint16, bool_}) {
    SCOPED_TRACE(dtype_name(t));
    array x = astype(random::uniform(shape, float32, -50, 50, random::key(3)), t);
    array y = astype(random::uniform(shape, float32, -50, 50, random::key(4)), t);
    array y_col = astype(array({7.0f, -3.0f, 1.0f}, {3, 1}), t);
    array s = astype(array(5.0f), t);
    // (kLong, 3) in memory, viewed as (3, kLong): inner stride 3.
    array xt = transpose(astype(random::uniform({kLong, 3}, float32, -50, 50, random::key(5)), t));
    eval(x, y, xt);
    expect_values(where(c, x, y), host_where(c, x, y, shape), "dense");
    expect_values(where(c, x, s), host_where(c, x, s, shape), "scalar y");
    expect_values(where(c, s, y), host_where(c, s, y, shape), "scalar x");
    expect_values(where(c_row, x, y), host_where(c_row, x, y, shape), "row mask");
    expect_values(where(c_col, x, y_col), host_where(c_col, x, y_col, shape), "column mask and column y");
    expect_values(where(c, xt, y), host_where(c, xt, y, shape), "transposed x");
    expect_values(where(c_row, s, xt), host_where(c_row, s, xt, shape), "row mask, scalar x, transposed y");
    // An intermediate x is donated to the output.
    array x1 = t == bool_ ? logical_not(x) : negative(x);
    expect_values(where(c, t == bool_ ? logical_not(x) : negative(x), y), host_where(c, x1, y, shape), "donated x");
  }
  // NaN payloads pass through untouched (where copies words).
  array nan_x = full({1000}, array(kNaN));
  std::vector<float> r = where(greater(arange(1000.0), array(500.0)), nan_x, array(2.0f)).to_vector<float>();
  EXPECT_EQ(r[0], 2.0f);
  EXPECT_TRUE(std::isnan(r[999]));
  EXPECT_THROW(where(array({true, false}, {2}), array({1.0f, 2.0f, 3.0f}, {3}), array(0.0f)), std::invalid_argument);
}

TEST(ElementwiseStrided, LongRowsAcrossThreadsMatchTheDenseKernel) {
  // Unary over a sliced input (inner stride 2), binary with a broadcast scalar (one row after
  // collapsing) and with a transposed operand: each equals the contiguous kernel's result.
  array wide = random::uniform({3, 2 * kLong}, float32, -2, 2, random::key(6));
  array sliced = slice(wide, {0, 0}, {3, 2 * kLong}, {1, 2});
  array dense = copy(sliced);
  eval(wide, dense);
  expect_values(exp(sliced), exp(dense).to_vector<double>(), "exp of a strided view");
  expect_values(erf(sliced), erf(dense).to_vector<double>(), "erf of a strided view");
  array scalar_max = maximum(array(0.5f), dense);
  expect_values(scalar_max, maximum(dense, full(dense.shape(), array(0.5f))).to_vector<double>(),
                "maximum with a broadcast scalar");
  array t = transpose(copy(transpose(dense)));
  expect_values(add(t, dense), multiply(dense, array(2.0f)).to_vector<double>(), "add of a transposed view");
  // The walk itself: every element of a (2, kLong) space with a broadcast operand is visited once,
  // with the right offsets.
  std::vector<int64_t> seen(2 * kLong, 0);
  cpu::for_each_row<2>({2, kLong}, {Strides{kLong, 1}, Strides{0, 1}},
                       [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                         for (int64_t i = 0; i < n; ++i) seen[off[0] + i * st[0]] += 1 + (off[1] + i * st[1]);
                       });
  bool all_once = true;
  for (int64_t i = 0; i < 2 * kLong; ++i) all_once = all_once && seen[i] == 1 + i % kLong;
  EXPECT_TRUE(all_once);
}

}  // namespace
}  // namespace alloy
