// Gradient checks by central finite differences (float64) for every differentiable op, and the
// transforms: grad of grad, value_and_grad with argnums and auxiliary outputs, custom_vjp,
// stop_gradient.
#include "gradcheck.h"

namespace alloy::test {
namespace {

struct GradCase {
  std::string name;
  MultiFn f;
  std::vector<Shape> shapes;
  double lo = -2, hi = 2;
};

std::vector<array> make_inputs(const GradCase& c) {
  std::vector<array> xs;
  uint32_t seed = 1;
  for (auto& s : c.shapes) xs.push_back(random_f64(s, c.lo, c.hi, seed++));
  return xs;
}

#define U(NAME, LO, HI) GradCase{#NAME, [](const std::vector<array>& x) { return NAME(x[0]); }, {{2, 3}}, LO, HI}
#define B(NAME, LO, HI) \
  GradCase{#NAME, [](const std::vector<array>& x) { return NAME(x[0], x[1]); }, {{2, 3}, {2, 3}}, LO, HI}
#define F(NAME, BODY, SHAPES) GradCase{NAME, [](const std::vector<array>& x) { return BODY; }, SHAPES}

std::vector<GradCase> cases() {
  return {
      U(abs, 0.2, 2), U(negative, -2, 2), U(exp, -2, 2), U(expm1, -2, 2), U(log, 0.3, 3), U(log1p, -0.5, 2),
      U(log2, 0.3, 3), U(log10, 0.3, 3), U(sqrt, 0.3, 3), U(rsqrt, 0.3, 3), U(square, -2, 2),
      U(reciprocal, 0.3, 3), U(sin, -2, 2), U(cos, -2, 2), U(tan, -1, 1), U(arcsin, -0.8, 0.8),
      U(arccos, -0.8, 0.8), U(arctan, -2, 2), U(sinh, -2, 2), U(cosh, -2, 2), U(tanh, -2, 2),
      U(arcsinh, -2, 2), U(arccosh, 1.2, 3), U(arctanh, -0.8, 0.8), U(sigmoid, -3, 3), U(erf, -2, 2),
      U(erfinv, -0.8, 0.8),
      B(add, -2, 2), B(subtract, -2, 2), B(multiply, -2, 2), B(divide, 0.5, 2), B(power, 0.5, 2),
      B(maximum, -2, 2), B(minimum, -2, 2), B(logaddexp, -2, 2), B(arctan2, 0.3, 2), B(remainder, 0.3, 2),
      F("broadcast_add", add(x[0], x[1]), (std::vector<Shape>{{2, 1, 3}, {4, 3}})),
      F("where", where(greater(x[0], array(0.0)), x[0], multiply(x[1], x[1])), (std::vector<Shape>{{3, 4}, {1, 4}})),
      F("clip", clip(x[0], array(-0.5), array(0.7)), (std::vector<Shape>{{3, 4}})),
      F("sum_axes", sum(x[0], Axes{0, 2}), (std::vector<Shape>{{2, 3, 4}})),
      F("sum_keep", sum(x[0], Axes{1}, true), (std::vector<Shape>{{2, 3, 4}})),
      F("prod", prod(x[0], Axes{1}), (std::vector<Shape>{{3, 4}})),
      F("prod_all", prod(x[0]), (std::vector<Shape>{{2, 3}})),
      F("max", max(x[0], Axes{1}), (std::vector<Shape>{{3, 4}})),
      F("min", min(x[0], Axes{0}), (std::vector<Shape>{{3, 4}})),
      F("mean", mean(x[0], Axes{0}), (std::vector<Shape>{{3, 4}})),
      F("var", var(x[0], Axes{1}, false, 1), (std::vector<Shape>{{3, 4}})),
      F("std", alloy::std(x[0], Axes{1}), (std::vector<Shape>{{3, 4}})),
      F("logsumexp", logsumexp(x[0], Axes{1}), (std::vector<Shape>{{3, 4}})),
      F("cumsum", cumsum(x[0], 1), (std::vector<Shape>{{3, 4}})),
      F("cumsum_rev_excl", cumsum(x[0], 0, true, false), (std::vector<Shape>{{3, 4}})),
      F("cumprod", cumprod(x[0], 1), (std::vector<Shape>{{3, 4}})),
      F("cummax", cummax(x[0], 1), (std::vector<Shape>{{3, 4}})),
      F("cummin", cummin(x[0], 0, true), (std::vector<Shape>{{3, 4}})),
      F("softmax", softmax(x[0], 1), (std::vector<Shape>{{3, 4}})),
      F("softmax_axis0", softmax(x[0], 0), (std::vector<Shape>{{3, 4}})),
      F("log_softmax", log_softmax(x[0], -1), (std::vector<Shape>{{3, 4}})),
      F("matmul", matmul(x[0], x[1]), (std::vector<Shape>{{3, 4}, {4, 2}})),
      F("matmul_batched", matmul(x[0], x[1]), (std::vector<Shape>{{2, 1, 3, 4}, {3, 4, 2}})),
      F("matmul_vec", matmul(x[0], x[1]), (std::vector<Shape>{{4}, {4, 2}})),
      F("addmm", addmm(x[2], x[0], x[1], 0.5f, 2.0f), (std::vector<Shape>{{3, 4}, {4, 2}, {2}})),
      F("inner", inner(x[0], x[1]), (std::vector<Shape>{{2, 3}, {4, 3}})),
      F("outer", outer(x[0], x[1]), (std::vector<Shape>{{3}, {4}})),
      F("tensordot", tensordot(x[0], x[1], Axes{0, 2}, Axes{1, 0}), (std::vector<Shape>{{2, 3, 4}, {4, 2, 2}})),
      F("norm2", linalg::norm(x[0]), (std::vector<Shape>{{3, 4}})),
      F("norm1", linalg::norm(x[0], 1.0, Axes{1}), (std::vector<Shape>{{3, 4}})),
      F("reshape", reshape(x[0], {4, 3}), (std::vector<Shape>{{2, 6}})),
      F("reshape_copy", reshape(transpose(x[0]), {12}), (std::vector<Shape>{{3, 4}})),
      F("transpose", transpose(x[0], Axes{2, 0, 1}), (std::vector<Shape>{{2, 3, 4}})),
      F("slice_neg", slice(x[0], {3, 0}, {-5, 4}, {-2, 3}), (std::vector<Shape>{{4, 5}})),
      F("broadcast_to", broadcast_to(x[0], {3, 2, 4}), (std::vector<Shape>{{2, 1}})),
      F("squeeze_expand", expand_dims(squeeze(x[0]), 0), (std::vector<Shape>{{3, 1, 2}})),
      F("slice_update", slice_update(x[0], x[1], {1, 0}, {3, 4}, {1, 2}), (std::vector<Shape>{{3, 4}, {2, 2}})),
      F("concatenate", concatenate({x[0], x[1]}, 1), (std::vector<Shape>{{2, 3}, {2, 2}})),
      F("stack", stack({x[0], x[1]}, 1), (std::vector<Shape>{{2, 3}, {2, 3}})),
      F("split", multiply(split(x[0], 2, 1)[0], split(x[0], 2, 1)[1]), (std::vector<Shape>{{3, 4}})),
      F("tile", tile(x[0], {2, 1, 2}), (std::vector<Shape>{{2, 3}})),
      F("repeat", repeat(x[0], 2, 0), (std::vector<Shape>{{2, 3}})),
      F("pad_constant", pad(x[0], {{1, 0}, {2, 1}}, array(3.0)), (std::vector<Shape>{{2, 3}})),
      F("pad_edge", pad(x[0], {{1, 2}, {2, 1}}, array(0.0), PadMode::edge), (std::vector<Shape>{{2, 3}})),
      F("flip", flip(x[0], Axes{1}), (std::vector<Shape>{{2, 3}})),
      F("roll", roll(x[0], 2, 1), (std::vector<Shape>{{2, 3}})),
      F("tril", tril(x[0], 0), (std::vector<Shape>{{3, 3}})),
      F("triu", triu(x[0], 1), (std::vector<Shape>{{3, 4}})),
      F("full", multiply(full({2, 3}, sum(x[0])), x[0]), (std::vector<Shape>{{2, 3}})),
      F("astype", astype(astype(x[0], float32), float64), (std::vector<Shape>{{2, 3}})),
  };
}

TEST(GradCheck, EveryDifferentiableOp) {
  for (const auto& c : cases()) {
    std::string err;
    try {
      // astype rounds through float32: a larger step keeps the rounding out of the difference.
      bool rounds = c.name == "astype";
      err = gradcheck(c.f, make_inputs(c), rounds ? 1e-4 : 1e-6, rounds ? 1e-3 : 1e-6);
    } catch (const std::exception& e) {
      err = std::string("threw: ") + e.what();
    }
    EXPECT_EQ(err, "") << c.name;
  }
}

TEST(Transforms, SecondDerivative) {
  auto d1 = grad([](const array& x) { return sum(sin(x)); });
  auto d2 = grad([&](const array& x) { return sum(d1(x)); });
  array x = array({0.3, 1.1, -0.7});
  EXPECT_TRUE(allclose(d2(x), negative(sin(x)), 1e-12, 1e-12));
  // d^2/dx^2 of x^3 = 6x, through multiply's vjp.
  auto cube = [](const array& v) { return sum(multiply(multiply(v, v), v)); };
  auto cube_d1 = grad(cube);
  auto cube_d2 = grad([&](const array& v) { return sum(cube_d1(v)); });
  EXPECT_TRUE(allclose(cube_d2(x), multiply(array(6.0), x), 1e-12, 1e-12));
}

TEST(Transforms, ValueAndGradArgnumsAndAux) {
  auto f = [](const std::vector<array>& a) {
    array loss = sum(multiply(a[0], a[1]));
    return std::vector<array>{loss, multiply(a[0], array(2.0))};
  };
  auto vg = value_and_grad(Fn(f), {1});
  array a = array({1.0, 2.0}), b = array({3.0, 4.0});
  auto [outs, grads] = vg({a, b});
  EXPECT_DOUBLE_EQ(outs[0].item<double>(), 11.0);
  EXPECT_EQ(outs[1].to_vector<double>(), (std::vector<double>{2.0, 4.0}));
  ASSERT_EQ(grads.size(), 1u);
  EXPECT_EQ(grads[0].to_vector<double>(), (std::vector<double>{1.0, 2.0}));
  EXPECT_THROW(value_and_grad(Fn(f), {3})({a, b}), std::invalid_argument);
  auto not_scalar = value_and_grad(ScalarFn([](const std::vector<array>& x) { return x[0]; }));
  EXPECT_THROW(not_scalar({a}), std::invalid_argument);
}

TEST(Transforms, CustomVjpAndStopGradient) {
  // A function whose vjp is replaced: gradient 10 * cotangent instead of cos(x).
  auto f = custom_vjp([](const std::vector<array>& x) { return std::vector<array>{sin(x[0])}; },
                      [](const std::vector<array>&, const std::vector<array>& cot, const std::vector<array>&) {
                        return std::vector<array>{multiply(array(10.0), cot[0])};
                      });
  array x = array({0.5, 1.0});
  auto g = grad(ScalarFn([&](const std::vector<array>& v) { return sum(f(v)[0]); }))({x});
  EXPECT_EQ(g[0].to_vector<double>(), (std::vector<double>{10.0, 10.0}));
  EXPECT_TRUE(allclose(f({x})[0], sin(x)));
  auto h = grad([](const array& v) { return sum(multiply(stop_gradient(v), v)); });
  EXPECT_TRUE(allclose(h(x), x));
}

TEST(Transforms, CustomVjpWithADroppedOutput) {
  // Two outputs of different dtypes; only the first is kept, the second is recreated at eval.
  auto f = custom_vjp(
      [](const std::vector<array>& x) { return std::vector<array>{exp(x[0]), astype(x[0], int32)}; },
      [](const std::vector<array>&, const std::vector<array>& cot, const std::vector<array>&) {
        return std::vector<array>{cot[0]};
      });
  array y = f({array({0.0f, 1.0f})})[0];
  EXPECT_TRUE(allclose(y, array({1.0f, std::exp(1.0f)})));
}

TEST(Transforms, VjpAndJvpOfMultipleOutputs) {
  auto f = [](const std::vector<array>& x) {
    return std::vector<array>{multiply(x[0], x[1]), add(x[0], x[1])};
  };
  array a = array({2.0}), b = array({5.0});
  auto [outs, cots] = vjp(f, {a, b}, {array({1.0}), array({3.0})});
  EXPECT_DOUBLE_EQ(cots[0].item<double>(), 5.0 + 3.0);
  EXPECT_DOUBLE_EQ(cots[1].item<double>(), 2.0 + 3.0);
  auto [outs2, tans] = jvp(f, {a, b}, {array({1.0}), array({0.0})});
  EXPECT_DOUBLE_EQ(tans[0].item<double>(), 5.0);
  EXPECT_DOUBLE_EQ(tans[1].item<double>(), 1.0);
  EXPECT_THROW(vjp(f, {a, b}, {array({1.0})}), std::invalid_argument);
}

}  // namespace
}  // namespace alloy::test
