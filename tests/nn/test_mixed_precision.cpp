// Mixed precision: bfloat16/float16 compute with float32 master weights, and dynamic loss
// scaling for float16.
#include <gtest/gtest.h>

#include "alloy/alloy.h"
#include "alloy/nn/mixed_precision.h"
#include "alloy/nn/nn.h"
#include "torch_reference.h"

namespace alloy {
namespace {

struct Net : nn::Module {
  nn::Linear fc1{16, 32}, fc2{32, 4};
  Net() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  array forward(const array& x) { return fc2(nn::gelu(fc1(x))); }
};

// Max |a - b| / max |b|.
double relative_error(const array& a, const array& b) {
  return max(abs(astype(a, float32) - astype(b, float32))).item<float>() / max(abs(astype(b, float32))).item<float>();
}

TEST(MixedPrecision, LowPrecisionComputeWithFloat32Masters) {
  random::seed(11);
  Net model;
  array x = random::normal({64, 16});
  array y = random::normal({64, 4});
  Dtype seen = float32;
  auto loss_fn = [&](const array& in, const array& target) {
    array out = model.forward(in);
    seen = out.dtype();
    return mean(square(astype(out, float32) - astype(target, float32)));
  };
  auto [loss32, grads32] = nn::value_and_grad(model, loss_fn)(x, y);
  EXPECT_EQ(seen, float32);
  for (Dtype compute : {bfloat16, float16}) {
    auto [loss, grads] = nn::value_and_grad(model, loss_fn, compute)(x, y);
    EXPECT_EQ(seen, compute) << "the forward pass ran in " << seen;
    EXPECT_EQ(model.fc1.weight.dtype(), float32);  // the master weights are untouched
    for (const auto& [name, g] : grads) {
      EXPECT_EQ(g.dtype(), float32) << name;
      EXPECT_LT(relative_error(g, grads32.at(name)), compute == bfloat16 ? 3e-2 : 4e-3) << name << " in " << compute;
    }
    EXPECT_NEAR(loss.item<float>(), loss32.item<float>(), 2e-2 * loss32.item<float>());
  }
  EXPECT_THROW(nn::value_and_grad(model, loss_fn, int32)(x, y), std::invalid_argument);
}

TEST(MixedPrecision, LossScalingKeepsSmallFloat16Gradients) {
  random::seed(12);
  Net model;
  array x = random::normal({64, 16});
  // A loss this small has float16 gradients below the smallest subnormal (6e-8) unless scaled.
  auto loss_fn = [&](const array& in) { return multiply(mean(square(astype(model.forward(in), float32))), array(1e-9f)); };
  auto [l32, reference] = nn::value_and_grad(model, loss_fn)(x);
  auto [l16, unscaled] = nn::value_and_grad(model, loss_fn, float16)(x);
  EXPECT_GT(relative_error(unscaled.at("fc1.weight"), reference.at("fc1.weight")), 0.5);  // lost

  const double too_large = 1125899906842624.0;  // 2^50: scale * 1e-9 overflows float16
  nn::LossScaler scaler(too_large, 2.0, 0.5, 3);
  int steps = 0;
  nn::NamedArrays grads;
  while (true) {
    auto [scaled, g] = nn::value_and_grad(model, [&](const array& in) { return scaler.scale(loss_fn(in)); }, float16)(x);
    bool ok = scaler.unscale(g);
    scaler.update();
    ++steps;
    if (ok) {
      grads = g;
      break;
    }
    ASSERT_LT(steps, 40) << "the scale never backed off far enough";
  }
  EXPECT_GT(scaler.skipped_steps(), 0);
  EXPECT_LT(scaler.scale_value(), too_large);
  for (const auto& [name, g] : grads) EXPECT_LT(relative_error(g, reference.at(name)), 1e-2) << name;
  // Growth after growth_interval clean steps.
  double s = scaler.scale_value();
  for (int i = 0; i < 3; ++i) {
    nn::NamedArrays ok_grads{{"g", ones({2})}};
    ASSERT_TRUE(scaler.unscale(ok_grads));
    scaler.update();
  }
  EXPECT_EQ(scaler.scale_value(), 2 * s);
  EXPECT_THROW(nn::LossScaler(0.0), std::invalid_argument);
}

}  // namespace
}  // namespace alloy
