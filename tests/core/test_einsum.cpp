// einsum against NumPy (values pasted from numpy.einsum on the same inputs), its gradients by
// central differences, integer operands, and the errors for bad subscripts.
#include <gtest/gtest.h>

#include <cmath>

#include "alloy/alloy.h"

using namespace alloy;

namespace {

// NumPy: ((((arange(n) + seed) * 7) % 11) - 5) / 4, reshaped.
array val(const Shape& shape, int seed, Dtype dtype = float32) {
  std::vector<double> v(shape_size(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = double((((int64_t(i) + seed) * 7) % 11) - 5) / 4.0;
  return astype(array(v, shape), dtype);
}

struct Case {
  std::string subscripts;
  std::vector<Shape> shapes;
  Shape out_shape;
  std::vector<double> want;
};

// numpy.einsum(subscripts, *[val(shape, i) for i, shape in enumerate(shapes)])
const std::vector<Case>& cases() {
  static const std::vector<Case> c{
  {"ij,jk->ik", {{3, 4}, {4, 5}}, {3, 5},
     {-0.4375, 1.625, -1.8125, -1.8125, 1.625, -1.875, 0.375, 0.5625, 0.75, 0.25, 1.5, -0.875, -1.875,
     1.25, -0.4375}},
  {"bij,bjk->bik", {{2, 3, 4}, {2, 4, 2}}, {2, 3, 2},
     {0.375, -1.0, -1.5625, 0.6875, 0.625, 1.6875, 0.4375, 1.0, -2.0625, 1.4375, 1.625, -2.25}},
  {"i,j->ij", {{3}, {4}}, {3, 4},
     {-0.625, 0.625, -1.5625, -0.3125, 0.25, -0.25, 0.625, 0.125, -0.25, 0.25, -0.625, -0.125}},
  {"ii->", {{4, 4}}, {}, {-2.0}},
  {"ii", {{4, 4}}, {}, {-2.0}},
  {"ii->i", {{4, 4}}, {4}, {-1.25, -0.75, -0.25, 0.25}},
  {"ij->ji", {{3, 4}}, {4, 3}, {-1.25, 0.25, -1.0, 0.5, -0.75, 0.75, -0.5, 1.0, -0.25, 1.25, 0.0, -1.25}},
  {"ij->", {{3, 4}}, {}, {-1.25}},
  {"ijk->j", {{2, 3, 4}}, {3}, {1.5, -0.25, -2.0}},
  {"...ij,...jk->...ik", {{2, 1, 3, 4}, {3, 4, 2}}, {2, 3, 3, 2},
     {0.375, -1.0, -1.5625, 0.6875, 0.625, 1.6875, -1.0, -1.0, 0.625, 0.8125, -1.875, 1.25, -1.0, 0.375,
     0.75, -1.8125, -2.3125, 1.5, -1.3125, 0.625, 0.875, 1.625, 1.0, -2.1875, 0.4375, 1.0, -2.0625,
     1.4375, 1.625, -2.25, 0.8125, -2.0625, -2.25, 1.25, 1.5625, 1.125}},
  {"...ij,...jk", {{2, 1, 3, 4}, {3, 4, 2}}, {2, 3, 3, 2},
     {0.375, -1.0, -1.5625, 0.6875, 0.625, 1.6875, -1.0, -1.0, 0.625, 0.8125, -1.875, 1.25, -1.0, 0.375,
     0.75, -1.8125, -2.3125, 1.5, -1.3125, 0.625, 0.875, 1.625, 1.0, -2.1875, 0.4375, 1.0, -2.0625,
     1.4375, 1.625, -2.25, 0.8125, -2.0625, -2.25, 1.25, 1.5625, 1.125}},
  {"ij,jk,kl->il", {{2, 3}, {3, 4}, {4, 5}}, {2, 5},
     {-0.84375, -2.5, 0.484375, -0.3125, -1.96875, 1.0, -1.21875, 3.265625, 0.53125, -1.6875}},
  {"ij,jk", {{3, 4}, {4, 5}}, {3, 5},
     {-0.4375, 1.625, -1.8125, -1.8125, 1.625, -1.875, 0.375, 0.5625, 0.75, 0.25, 1.5, -0.875, -1.875,
     1.25, -0.4375}},
  {"ba", {{3, 4}}, {4, 3}, {-1.25, 0.25, -1.0, 0.5, -0.75, 0.75, -0.5, 1.0, -0.25, 1.25, 0.0, -1.25}},
  {"i,i", {{5}, {5}}, {}, {-1.375}},
  {"ij,ij->ij", {{3, 4}, {3, 4}}, {3, 4},
     {-0.625, -0.25, -0.625, 0.3125, -0.1875, -0.75, 0.0, 0.0, -0.75, -0.1875, 0.3125, -0.625}},
  {"iij->ji", {{3, 3, 2}}, {2, 3}, {-1.25, -1.0, -0.75, 0.5, 0.75, 1.0}},
  {"ijk,ikl->jl", {{2, 3, 4}, {2, 4, 3}}, {3, 3},
     {-2.25, 0.375, -1.125, 0.8125, -1.0, 0.625, 0.4375, 1.75, -1.0625}},
  {"bhqd,bhkd->bhqk", {{2, 2, 3, 4}, {2, 2, 5, 4}}, {2, 2, 3, 5},
     {-1.1875, 0.1875, 0.1875, 0.1875, 0.1875, 1.75, -0.9375, -0.875, -0.8125, -0.75, -1.5, 2.75, -1.25,
     2.3125, -1.6875, 1.0, -0.1875, 1.375, -1.1875, 1.75, -0.5625, -1.6875, -0.75, 0.1875, -0.9375,
     -0.75, 2.3125, -0.8125, 0.1875, -0.875, 2.3125, -0.75, 2.375, -1.375, 2.4375, -1.6875, -0.5625,
     -1.5, 2.375, -1.3125, -0.1875, 1.0, -0.5625, -0.75, -0.9375, 2.75, -1.5, 3.1875, -1.0625, 0.1875,
     -0.9375, 1.75, -1.0625, 1.625, -1.1875, 0.1875, -1.1875, 0.1875, -1.1875, 3.625}},
  {"i...->...", {{3, 2, 2}}, {2, 2}, {-2.0, 0.5, 0.25, 0.0}},
  {"ij,j->i", {{3, 4}, {4}}, {3}, {-1.1875, 1.75, -1.5}},
  {",ij->ij", {{}, {2, 3}}, {2, 3}, {-0.625, 0.625, -1.5625, -0.3125, 0.9375, -1.25}},
  {"ab,cd,bd->ac", {{2, 3}, {4, 5}, {3, 5}}, {2, 4},
     {1.6875, 1.828125, -0.609375, -3.90625, -3.3125, -1.828125, 1.203125, 4.75}},
  };
  return c;
}

void expect_error(const std::function<void()>& fn, const std::string& text) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing: " << text;
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind("[einsum]", 0), 0u) << msg;
    EXPECT_NE(msg.find(text), std::string::npos) << msg;
  }
}

}  // namespace

TEST(Einsum, AgainstNumpy) {
  for (const auto& c : cases()) {
    for (Dtype t : {float32, float64}) {
      std::vector<array> ops;
      for (size_t i = 0; i < c.shapes.size(); ++i) ops.push_back(val(c.shapes[i], int(i), t));
      array y = einsum(c.subscripts, ops);
      ASSERT_EQ(y.shape(), c.out_shape) << c.subscripts;
      EXPECT_EQ(y.dtype(), t) << c.subscripts;
      auto got = astype(y, float64).to_vector<double>();
      ASSERT_EQ(got.size(), c.want.size()) << c.subscripts;
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], c.want[i], 1e-5) << c.subscripts << " at " << i;
    }
  }
}

TEST(Einsum, MatchesOps) {
  array a = val({3, 4}, 0), b = val({4, 5}, 1), m = val({4, 4}, 2);
  EXPECT_TRUE(allclose(einsum("ij,jk->ik", {a, b}), matmul(a, b), 1e-6, 1e-6));
  EXPECT_TRUE(allclose(einsum("ij->ji", {a}), transpose(a), 0, 0));
  EXPECT_TRUE(allclose(einsum("ii->", {m}), trace(m), 1e-6, 1e-6));
  EXPECT_TRUE(allclose(einsum("ii->i", {m}), diagonal(m), 0, 0));
  // Whitespace is ignored; a transposed (non-contiguous) operand works.
  EXPECT_TRUE(allclose(einsum(" ij , jk -> ik ", {transpose(val({4, 3}, 3)), b}), matmul(transpose(val({4, 3}, 3)), b),
                       1e-6, 1e-6));
  // Size-1 dims broadcast against labels, as in NumPy.
  EXPECT_TRUE(allclose(einsum("ij,jk->ik", {val({3, 1}, 0), b}), matmul(broadcast_to(val({3, 1}, 0), {3, 4}), b),
                       1e-6, 1e-6));
}

TEST(Einsum, IntegerOperands) {
  array a = astype(arange(6.0), int32), b = astype(arange(12.0), int32);
  array y = einsum("ij,jk->ik", {reshape(a, {2, 3}), reshape(b, {3, 4})});
  EXPECT_EQ(y.dtype(), int32);
  EXPECT_EQ(y.to_vector<int32_t>(), (std::vector<int32_t>{20, 23, 26, 29, 56, 68, 80, 92}));
  EXPECT_EQ(einsum("i,i", {a, a}).item<int32_t>(), 55);
}

TEST(Einsum, Gradients) {
  // d/dA and d/dB of sum(einsum(...) * R) against central differences, float64.
  struct G {
    std::string sub;
    std::vector<Shape> shapes;
  };
  std::vector<G> gs{{"ij,jk->ik", {{3, 4}, {4, 2}}},
                    {"bij,bjk->bik", {{2, 2, 3}, {2, 3, 2}}},
                    {"ij,jk,kl->il", {{2, 3}, {3, 2}, {2, 2}}},
                    {"...ij,...j->...i", {{2, 3, 2}, {2}}},
                    {"ii->i", {{3, 3}}},
                    {"iij->j", {{2, 2, 3}}}};
  for (auto& g : gs) {
    std::vector<array> x;
    for (size_t i = 0; i < g.shapes.size(); ++i) x.push_back(add(val(g.shapes[i], int(i), float64), array(0.1 * double(i + 1))));
    array r = add(val(einsum(g.sub, x).shape(), 7, float64), array(0.3));
    auto loss = [&](const std::vector<array>& a) { return sum(multiply(einsum(g.sub, a), r)); };
    std::vector<int> argnums(x.size());
    for (size_t i = 0; i < x.size(); ++i) argnums[i] = int(i);
    auto grads = grad(ScalarFn(loss), argnums)(x);
    for (size_t k = 0; k < x.size(); ++k) {
      auto base = x[k].to_vector<double>();
      auto gv = grads[k].to_vector<double>();
      ASSERT_EQ(gv.size(), base.size()) << g.sub;
      for (size_t i = 0; i < base.size(); ++i) {
        auto at = [&](double d) {
          auto v = base;
          v[i] += d;
          auto xs = x;
          xs[k] = array(v, x[k].shape());
          return loss(xs).item<double>();
        };
        EXPECT_NEAR(gv[i], (at(1e-6) - at(-1e-6)) / 2e-6, 1e-6) << g.sub << " operand " << k << " element " << i;
      }
    }
  }
}

TEST(Einsum, Errors) {
  array a = zeros({2, 3}), b = zeros({3, 4}), m = zeros({2, 3});
  expect_error([&] { einsum("ij,jk->ik", {a}); }, "name 2 operands, got 1");
  expect_error([&] { einsum("ijk->i", {a}); }, "name 3 dimensions");
  expect_error([&] { einsum("ij,kl->ij", {a, zeros({2})}); }, "name 2 dimensions");
  expect_error([&] { einsum("ij,jk->ik", {a, zeros({4, 4})}); }, "label 'j' of sizes 3 and 4");
  expect_error([&] { einsum("ii->i", {m}); }, "sizes 2 and 3");
  expect_error([&] { einsum("ij->iz", {a}); }, "'z' does not appear");
  expect_error([&] { einsum("ij->ii", {a}); }, "'i' appears more than once");
  expect_error([&] { einsum("i1,jk", {a, b}); }, "invalid character '1'");
  expect_error([&] { einsum("i..j", {a}); }, "ellipsis");
  expect_error([&] { einsum("...i...->i", {a}); }, "more than one ellipsis");
  expect_error([&] { einsum("ij->i->j", {a}); }, "more than one \"->\"");
  expect_error([&] { einsum("...j->j", {zeros({2, 2, 3})}); }, "output has no \"...\"");
  expect_error([&] { einsum("ij", {}); }, "at least one operand");
  expect_error([&] { einsum("...ij,...jk", {zeros({2, 3, 3}), zeros({4, 3, 3})}); }, "ellipsis dimensions of sizes 2 and 4");
}
