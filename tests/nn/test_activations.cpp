// Activations (src/alloy/nn/activations.h) against PyTorch on inputs that cover negative, zero and
// positive values, every kink and softplus's thresholds; finite gradients where exp overflows;
// argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <memory>

#include "alloy/nn/nn.h"
#include "torch_reference.h"

namespace alloy {
namespace {

using Make = std::function<std::unique_ptr<nn::UnaryModule>()>;

template <typename M, typename... Args>
Make make(Args... args) {
  return [=] { return std::make_unique<M>(args...); };
}

TEST(Activations, MatchTorch) {
  ALLOY_REQUIRE_TORCH();
  const std::vector<std::pair<std::string, Make>> cases = {
      {"relu", make<nn::ReLU>()},
      {"relu6", make<nn::ReLU6>()},
      {"leaky_relu", make<nn::LeakyReLU>()},
      {"leaky_relu_0.2", make<nn::LeakyReLU>(0.2)},
      {"leaky_relu_1.5", make<nn::LeakyReLU>(1.5)},
      {"elu", make<nn::ELU>()},
      {"elu_0.7", make<nn::ELU>(0.7)},
      {"selu", make<nn::SELU>()},
      {"celu", make<nn::CELU>()},
      {"celu_1.5", make<nn::CELU>(1.5)},
      {"gelu", make<nn::GELU>()},
      {"gelu_tanh", make<nn::GELU>("tanh")},
      {"silu", make<nn::SiLU>()},
      {"mish", make<nn::Mish>()},
      {"softplus", make<nn::Softplus>()},
      {"softplus_beta2_t5", make<nn::Softplus>(2.0, 5.0)},
      {"softsign", make<nn::Softsign>()},
      {"hardswish", make<nn::Hardswish>()},
      {"hardtanh", make<nn::Hardtanh>()},
      {"hardtanh_-2_1.5", make<nn::Hardtanh>(-2.0, 1.5)},
      {"glu", make<nn::GLU>()},
      {"glu_axis0", make<nn::GLU>(0)},
      {"tanh", make<nn::Tanh>()},
      {"sigmoid", make<nn::Sigmoid>()},
      {"softmax", make<nn::Softmax>()},
      {"log_softmax", make<nn::LogSoftmax>()},
      {"prelu", make<nn::PReLU>()},
      {"prelu_channels", make<nn::PReLU>(10)},
      {"prelu_channels_last", make<nn::PReLU>(3)},
  };
  for (const auto& [name, factory] : cases) {
    SCOPED_TRACE(name);
    auto m = factory();
    test::expect_matches_torch(*m, "act_" + name);
  }
}

TEST(Activations, FunctionsEqualModules) {
  array x = random::normal({3, 8}, float32, 0, 2, random::key(1));
  EXPECT_TRUE(array_equal(nn::gelu(x, "tanh"), nn::GELU("tanh")(x)));
  EXPECT_TRUE(array_equal(nn::softplus(x, 2.0, 5.0), nn::Softplus(2.0, 5.0)(x)));
  EXPECT_TRUE(array_equal(nn::hard_tanh(x, -0.5, 0.5), nn::Hardtanh(-0.5, 0.5)(x)));
  EXPECT_TRUE(array_equal(nn::relu6(x), nn::hard_tanh(x, 0.0, 6.0)));
  // Exact values at the kinks.
  array k = array(std::vector<float>{-3, -1, 0, 1, 3, 6}, {6});
  EXPECT_EQ(nn::relu(k).to_vector<float>(), (std::vector<float>{0, 0, 0, 1, 3, 6}));
  EXPECT_EQ(nn::hardswish(k).to_vector<float>(), (std::vector<float>{0, -1.0f / 3, 0, 2.0f / 3, 3, 6}));
  EXPECT_EQ(nn::hard_tanh(k).to_vector<float>(), (std::vector<float>{-1, -1, 0, 1, 1, 1}));
  // hardswish's gradient at its kinks (PyTorch versions disagree there; these are subgradients).
  std::function<array(const array&)> total = [](const array& a) { return sum(nn::hardswish(a)); };
  auto hardswish_grad = grad(total);
  std::vector<float> g = hardswish_grad(array({-3.0f, 3.0f})).to_vector<float>();
  std::printf("hardswish gradient at -3 and 3: %g %g\n", g[0], g[1]);
  EXPECT_TRUE(g[0] == 0.0f || g[0] == -0.5f) << g[0];
  EXPECT_TRUE(g[1] == 1.0f || g[1] == 1.5f) << g[1];
  // leaky_relu with slopes above 1 or below 0.
  EXPECT_EQ(nn::leaky_relu(k, 2.0).to_vector<float>(), (std::vector<float>{-6, -2, 0, 1, 3, 6}));
  EXPECT_EQ(nn::leaky_relu(k, -0.5).to_vector<float>(), (std::vector<float>{1.5f, 0.5f, 0, 1, 3, 6}));
  // Softplus's linear region is x itself.
  array big = array(std::vector<float>{20.5f, 33.3f, 1e6f}, {3});
  EXPECT_EQ(nn::softplus(big).to_vector<float>(), big.to_vector<float>());
}

// exp overflows float32 beyond x = 88: the branch not taken must not turn the gradient into NaN.
TEST(Activations, FiniteGradientsForLargeInputs) {
  array x = array(std::vector<float>{-1e4f, -200, -90, -30, 0, 30, 90, 200, 1e4f}, {9});
  const std::vector<std::pair<std::string, std::function<array(const array&)>>> fns = {
      {"relu", [](const array& a) { return nn::relu(a); }},
      {"elu", [](const array& a) { return nn::elu(a, 0.5); }},
      {"selu", [](const array& a) { return nn::selu(a); }},
      {"celu", [](const array& a) { return nn::celu(a, 0.5); }},
      {"gelu", [](const array& a) { return nn::gelu(a); }},
      {"gelu_tanh", [](const array& a) { return nn::gelu(a, "tanh"); }},
      {"silu", [](const array& a) { return nn::silu(a); }},
      {"mish", [](const array& a) { return nn::mish(a); }},
      {"softplus", [](const array& a) { return nn::softplus(a); }},
      {"softplus_no_threshold", [](const array& a) { return nn::softplus(a, 1.0, 1e30); }},
      {"softsign", [](const array& a) { return nn::softsign(a); }},
      {"hardswish", [](const array& a) { return nn::hardswish(a); }},
      {"sigmoid", [](const array& a) { return sigmoid(a); }},
  };
  for (const auto& [name, f] : fns) {
    auto [y, g] = vjp(f, x, ones_like(x));
    EXPECT_TRUE(all(isfinite(y)).item<bool>()) << name << " output";
    EXPECT_TRUE(all(isfinite(g)).item<bool>()) << name << " gradient " << g;
  }
  // softplus without a threshold is still x for large x, and its slope 1.
  auto [y, g] = vjp([](const array& a) { return nn::softplus(a, 1.0, 1e30); }, x, ones_like(x));
  EXPECT_FLOAT_EQ(y.to_vector<float>()[8], 1e4f);
  EXPECT_FLOAT_EQ(g.to_vector<float>()[8], 1.0f);
  EXPECT_FLOAT_EQ(g.to_vector<float>()[4], 0.5f);  // sigmoid(0)
}

TEST(Activations, NaNPropagates) {
  // (relu, relu6 and hard_tanh follow maximum(0, x), which the core op gives as 0 for x = NaN.)
  array x = array(std::vector<float>{NAN}, {1});
  for (const auto& y : {nn::hardswish(x), nn::elu(x), nn::selu(x), nn::celu(x), nn::leaky_relu(x),
                        nn::leaky_relu(x, 2.0), nn::softplus(x), nn::mish(x), nn::gelu(x),
                        nn::prelu(x, array(std::vector<float>{0.25f}, {1}))}) {
    EXPECT_TRUE(std::isnan(y.to_vector<float>()[0])) << y;
  }
}

TEST(Activations, Errors) {
  array x = ones({2, 3});
  EXPECT_THROW(nn::GELU("fast"), std::invalid_argument);
  EXPECT_THROW(nn::gelu(x, "erf"), std::invalid_argument);
  EXPECT_THROW(nn::celu(x, 0.0), std::invalid_argument);
  EXPECT_THROW(nn::hard_tanh(x, 1.0, -1.0), std::invalid_argument);
  EXPECT_THROW(nn::glu(x), std::invalid_argument);     // odd last axis
  EXPECT_THROW(nn::glu(x, 2), std::invalid_argument);  // no such axis
  EXPECT_THROW(nn::prelu(x, ones({2})), std::invalid_argument);
  EXPECT_THROW(nn::prelu(x, ones({1, 3})), std::invalid_argument);
  EXPECT_NO_THROW(nn::prelu(x, ones({3})));
  EXPECT_THROW(nn::PReLU(3)(ones({2, 4})), std::invalid_argument);
}

}  // namespace
}  // namespace alloy
