// fast::cross_entropy against its composition from plain ops (values and gradients) in every
// float dtype, with ignore_index, label smoothing, odd class counts and large logits; its
// gradient by finite differences, gradients of the gradient, and the error paths.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "alloy/alloy.h"
#include "gradcheck.h"
#include "test_util.h"

namespace alloy {
namespace {

// Loss values are float32 for 16-bit logits too (the same float32 math on the same values);
// gradients are stored in the logits' dtype.
double loss_tol(Dtype t) { return t == float64 ? 1e-12 : 2e-5; }
double grad_tol(Dtype t) { return test::fused_tolerance(t); }
using test::expect_close_to_composition;

// Targets in [0, C) with every third row set to ignore_index.
array make_targets(int64_t rows, int64_t classes, int64_t ignore_index, uint64_t seed) {
  array t = astype(random::uniform({rows}, float32, 0.0, double(classes) - 0.01, random::key(seed)), int32);
  array third = equal(remainder(arange(double(rows), int32), array(3)), array(1));
  return where(third, array(int32_t(ignore_index)), t);
}

using CeFn = array (*)(const array&, const array&, int64_t, double, StreamOrDevice);

// The loss and the gradient of sum(loss * w) (w random per row, so every row's cotangent differs).
std::pair<array, array> loss_and_grad(CeFn ce, const array& x, const array& t, int64_t ignore, double eps) {
  array w = random::uniform({x.shape(0)}, float32, 0.5, 1.5, random::key(77));
  auto g = grad(ScalarFn([&](const std::vector<array>& a) {
    return sum(multiply(ce(a[0], t, ignore, eps, {}), w));
  }));
  return {ce(x, t, ignore, eps, {}), g({x})[0]};
}

void expect_matches_composition(const array& x, const array& t, int64_t ignore, double eps, const std::string& what) {
  Dtype dt = x.dtype();
  auto [loss, dx] = loss_and_grad(fast::cross_entropy, x, t, ignore, eps);
  auto [loss_c, dx_c] = loss_and_grad(fast::composed::cross_entropy, x, t, ignore, eps);
  std::string tag = what + " " + dtype_name(dt) + " eps " + std::to_string(eps);
  EXPECT_EQ(loss.dtype(), dt == float64 ? float64 : float32) << tag;
  EXPECT_EQ(dx.dtype(), dt) << tag;
  expect_close_to_composition(loss, loss_c, loss_tol(dt), tag + " loss");
  expect_close_to_composition(dx, dx_c, grad_tol(dt), tag + " gradient");
}

const Dtype kFloats[] = {float32, float64, bfloat16, float16};

TEST(FastCrossEntropy, MatchesCompositionInEveryDtype) {
  for (Dtype dt : kFloats) {
    for (double eps : {0.0, 0.1}) {
      // C = 7: shorter than a vector lane group; C = 50257 (GPT-2's vocabulary): odd and long.
      for (auto [rows, classes] : {std::pair<int64_t, int64_t>{13, 7}, {5, 50257}, {9, 1000}}) {
        array x = astype(random::normal({rows, classes}, float32, 0.0, 3.0, random::key(1)), dt);
        array t = make_targets(rows, classes, -100, 2);
        expect_matches_composition(x, t, -100, eps, shape_to_string(x.shape()));
      }
    }
  }
}

TEST(FastCrossEntropy, IgnoredRowsAndTargetDtypes) {
  array x = random::normal({6, 5}, float32, 0.0, 1.0, random::key(3));
  array t = array({0, 2, 4, 2, 1, 2}, {6});
  // ignore_index inside [0, C): every row of class 2 gives 0 and a zero gradient row.
  auto [loss, dx] = loss_and_grad(fast::cross_entropy, x, t, 2, 0.2);
  auto l = loss.to_vector<float>();
  for (int r : {1, 3, 5}) EXPECT_EQ(l[r], 0.0f) << r;
  for (int r : {0, 2, 4}) EXPECT_GT(l[r], 0.0f) << r;
  array zero_rows = take(dx, array({1, 3, 5}, {3}), 0);
  EXPECT_TRUE(array_equal(zero_rows, zeros({3, 5}))) << dx;
  expect_matches_composition(x, t, 2, 0.2, "ignore_index 2");
  // Any integer dtype of class indices gives the same loss.
  for (Dtype it : {uint8, int16, int64, uint32}) {
    EXPECT_TRUE(array_equal(fast::cross_entropy(x, astype(t, it), 2, 0.2), loss)) << dtype_name(it);
  }
  // Every row ignored: all zeros.
  array all_ignored = full({6}, array(-100));
  EXPECT_TRUE(array_equal(fast::cross_entropy(x, all_ignored), zeros({6})));
}

TEST(FastCrossEntropy, HandComputedValues) {
  // Row (0, ln 2, ln 3): lse = ln 6; target 1 -> ln 6 - ln 2 = ln 3; mean x = ln 6 / 3.
  array x = array({0.0f, std::log(2.0f), std::log(3.0f)}, {1, 3});
  array t = array({1}, {1});
  EXPECT_NEAR(fast::cross_entropy(x, t).item<float>(), std::log(3.0f), 1e-6);
  const double eps = 0.3, lse = std::log(6.0), mean_x = std::log(6.0) / 3;
  double want = (1 - eps) * (lse - std::log(2.0)) + eps * (lse - mean_x);
  EXPECT_NEAR(fast::cross_entropy(x, t, -100, eps).item<float>(), want, 1e-6);
  // Gradient: softmax (1/6, 2/6, 3/6) - (1 - eps) onehot - eps / 3.
  array dx = grad([&](const array& a) { return sum(fast::cross_entropy(a, t, -100, eps)); })(x);
  auto d = dx.to_vector<float>();
  double p[3] = {1.0 / 6, 2.0 / 6, 3.0 / 6};
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(d[c], p[c] - (c == 1 ? 1 - eps : 0) - eps / 3, 1e-6) << c;
}

TEST(FastCrossEntropy, LargeLogitsDoNotOverflow) {
  // Logits of order 1e4: exp would overflow without the max shift.
  array x64 = multiply(random::normal({4, 301}, float64, 0.0, 1.0, random::key(4)), array(1e4));
  array t = array({3, 0, 300, 17}, {4});
  array x = astype(x64, float32);
  for (double eps : {0.0, 0.1}) {
    array loss = fast::cross_entropy(x, t, -100, eps);
    EXPECT_TRUE(all(isfinite(loss)).item<bool>()) << loss;
    // Against float64 math on the same float32 values: relative to the 1e4 scale.
    array want = astype(fast::composed::cross_entropy(astype(x, float64), t, -100, eps), float32);
    EXPECT_TRUE(allclose(loss, want, 1e-6, 1e-2)) << loss << want;
    array dx = grad([&](const array& a) { return sum(fast::cross_entropy(a, t, -100, eps)); })(x);
    EXPECT_TRUE(all(isfinite(dx)).item<bool>());
    expect_matches_composition(x, t, -100, eps, "large logits");
  }
}

TEST(FastCrossEntropy, LayoutsAndEmptyBatch) {
  // A transposed (non-contiguous) logits array and a broadcast target array.
  array xt = transpose(random::normal({11, 4}, float32, 0.0, 1.0, random::key(5)));
  array t = broadcast_to(array({3}, {1}), {4});
  expect_close_to_composition(fast::cross_entropy(xt, t), fast::composed::cross_entropy(xt, t), 2e-6, "transposed");
  array empty = fast::cross_entropy(zeros({0, 5}), zeros({0}, int32));
  EXPECT_EQ(empty.shape(), Shape{0});
  empty.eval();
  array de = grad([](const array& a) { return sum(fast::cross_entropy(a, zeros({0}, int32))); })(zeros({0, 5}));
  EXPECT_EQ(de.shape(), (Shape{0, 5}));
}

TEST(FastCrossEntropy, GradientReadsTheForwardLogsumexp) {
  // The gradient node reads the forward node's logsumexp output, relinked as the loss's sibling,
  // so the forward kernel runs once and writes it.
  array x = random::normal({3, 8}, float32, 0.0, 1.0, random::key(6));
  array t = array({1, 2, 3}, {3});
  array loss = fast::cross_entropy(x, t);
  auto [outs, grads] = vjp([&](const std::vector<array>& a) { return std::vector<array>{fast::cross_entropy(a[0], t)}; },
                           {x}, {ones({3})});
  const array& dx = grads[0];
  ASSERT_TRUE(dx.has_primitive());
  EXPECT_EQ(dx.primitive().name(), "cross_entropy_grad");
  const array& lse = dx.inputs()[2];
  ASSERT_TRUE(lse.has_primitive());
  EXPECT_EQ(lse.primitive().name(), "cross_entropy");
  EXPECT_EQ(&lse.primitive(), &outs[0].primitive());
  ASSERT_EQ(outs[0].siblings().size(), 1u);
  EXPECT_EQ(outs[0].siblings()[0].id(), lse.id());
  EXPECT_TRUE(allclose(lse, logsumexp(x, -1), 1e-6, 1e-6));
}

TEST(FastCrossEntropy, GradientInPlaceOfIntermediateLogits) {
  // Logits computed inside the function (read by nothing after the gradient) and a transposed
  // input's row-contiguous copy: the gradient kernel overwrites their buffer.
  array x = random::normal({6, 33}, float32, 0.0, 2.0, random::key(8));
  array xt = transpose(random::normal({33, 6}, float32, 0.0, 2.0, random::key(9)));
  array t = array({0, 32, 5, -100, 17, 1}, {6});
  for (double eps : {0.0, 0.3}) {
    auto dlogits = [&](CeFn ce, const array& at) {
      return grad([&, ce](const array& a) { return sum(ce(multiply(a, array(2.0f)), t, -100, eps, {})); })(at);
    };
    expect_close_to_composition(dlogits(fast::cross_entropy, x), dlogits(fast::composed::cross_entropy, x), 2e-5, "intermediate");
    expect_close_to_composition(dlogits(fast::cross_entropy, xt), dlogits(fast::composed::cross_entropy, xt), 2e-5, "transposed");
  }
}

TEST(FastCrossEntropy, GradientsByFiniteDifferences) {
  array x = test::random_f64({4, 6}, -2, 2, 1);
  array t = array({5, -100, 0, 3}, {4});
  for (double eps : {0.0, 0.25}) {
    EXPECT_EQ(test::gradcheck([&](const std::vector<array>& a) { return fast::cross_entropy(a[0], t, -100, eps); },
                              {x}),
              "")
        << "eps " << eps;
  }
}

TEST(FastCrossEntropy, GradientOfTheGradient) {
  // The gradient node's own vjp comes from its composition: d/dx sum(dL/dx * v) as the composition's.
  array x = test::random_f64({3, 5}, -2, 2, 2);
  array v = test::random_f64({3, 5}, -1, 1, 3);
  array t = array({4, 1, -100}, {3});
  for (double eps : {0.0, 0.2}) {
    auto second = [&](CeFn ce) {
      auto inner = grad([&, ce](const array& a) { return sum(ce(a, t, -100, eps, {})); });
      return grad([&](const array& a) { return sum(multiply(inner(a), v)); })(x);
    };
    array got = second(fast::cross_entropy), want = second(fast::composed::cross_entropy);
    EXPECT_TRUE(allclose(got, want, 1e-10, 1e-12)) << got << want;
    EXPECT_GT(max(abs(want)).item<double>(), 1e-3);  // not trivially zero
    EXPECT_EQ(test::gradcheck(
                  [&](const std::vector<array>& a) {
                    return grad([&](const array& y) { return sum(fast::cross_entropy(y, t, -100, eps)); })(a[0]);
                  },
                  {x}),
              "")
        << "eps " << eps;
  }
}

TEST(FastCrossEntropy, OutOfRangeTargetIsAnErrorWhenEvaluated) {
  array x = zeros({3, 4});
  for (int bad : {4, -1, 1000}) {
    array t = array({0, bad, 2}, {3});
    array loss = fast::cross_entropy(x, t);  // building the graph is fine
    try {
      loss.eval();
      ADD_FAILURE() << "no exception for target " << bad;
    } catch (const std::out_of_range& e) {
      EXPECT_EQ(std::string(e.what()),
                "[cross_entropy] target " + std::to_string(bad) + " is out of range for 4 classes");
    }
    EXPECT_THROW(grad([&](const array& a) { return sum(fast::cross_entropy(a, t)); })(x).eval(), std::out_of_range);
  }
}

// Expects std::invalid_argument whose message starts with "[cross_entropy]".
template <typename F>
void expect_error(F&& f, const char* what) {
  try {
    f();
    ADD_FAILURE() << what << ": no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).rfind("[cross_entropy]", 0), 0u) << e.what();
  }
}

TEST(FastCrossEntropy, BadArguments) {
  array x = zeros({4, 5}), t = zeros({4}, int32);
  expect_error([&] { fast::cross_entropy(x, zeros({3}, int32)); }, "targets of the wrong length");
  expect_error([&] { fast::cross_entropy(x, zeros({4, 1}, int32)); }, "2-D targets");
  expect_error([&] { fast::cross_entropy(x, zeros({4})); }, "float targets");
  expect_error([&] { fast::cross_entropy(x, zeros({4}, bool_)); }, "bool targets");
  expect_error([&] { fast::cross_entropy(zeros({5}), zeros({}, int32)); }, "1-D logits");
  expect_error([&] { fast::cross_entropy(zeros({2, 3, 5}), zeros({2, 3}, int32)); }, "3-D logits");
  expect_error([&] { fast::cross_entropy(zeros({4, 5}, int32), t); }, "integer logits");
  expect_error([&] { fast::cross_entropy(zeros({4, 0}), t); }, "no classes");
  expect_error([&] { fast::cross_entropy(x, t, -100, 1.5); }, "label_smoothing > 1");
  expect_error([&] { fast::cross_entropy(x, t, -100, -0.1); }, "label_smoothing < 0");
  expect_error([&] { fast::cross_entropy(x, t, -100, std::nan("")); }, "NaN label_smoothing");
}

}  // namespace
}  // namespace alloy
