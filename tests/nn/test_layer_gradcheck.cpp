// Every layer's gradients by finite differences: test::module_gradcheck (module_gradcheck.h)
// checks the vjp and jvp of each layer family, for its inputs and every parameter, in float64.
#include <gtest/gtest.h>

#include "alloy/nn/nn.h"
#include "module_gradcheck.h"

namespace alloy {
namespace {

using test::module_gradcheck;
using test::random_f64;

TEST(LayerGradcheck, Embedding) {
  nn::Embedding e(6, 3);
  array idx = array(std::vector<int32_t>{1, 4, 4, 0, 5}, {5});  // repeated: gradients add up
  EXPECT_EQ(module_gradcheck(e, {idx}, [&](const std::vector<array>& in) { return e(in[0]); }), "");
  EXPECT_EQ(module_gradcheck(e, {random_f64({2, 3}, -1, 1, 1)},
                             [&](const std::vector<array>& in) { return e.as_linear(in[0]); }),
            "");
}

TEST(LayerGradcheck, Conv) {
  nn::Conv1d c1(4, 4, 3, 2, 1, 2, 2);
  EXPECT_EQ(module_gradcheck(c1, random_f64({2, 7, 4}, -1, 1, 2)), "");
  nn::Conv2d c2(2, 4, {2, 3}, {2, 1}, {1, 1}, 1, 2);
  EXPECT_EQ(module_gradcheck(c2, random_f64({1, 4, 5, 2}, -1, 1, 3)), "");
  nn::Conv2d unbatched(2, 3, 2);
  EXPECT_EQ(module_gradcheck(unbatched, random_f64({3, 3, 2}, -1, 1, 4)), "");
  nn::ConvTranspose1d t1(4, 2, 3, 2, 1, 1, 1, 2);
  EXPECT_EQ(module_gradcheck(t1, random_f64({2, 4, 4}, -1, 1, 5)), "");
  nn::ConvTranspose2d t2(2, 3, 2, {2, 1}, 0, {1, 0}, 1);
  EXPECT_EQ(module_gradcheck(t2, random_f64({1, 3, 3, 2}, -1, 1, 6)), "");
}

TEST(LayerGradcheck, Pooling) {
  // Distinct values (no ties), so the max is differentiable at every point.
  nn::MaxPool2d m(3, 2, 1);
  EXPECT_EQ(module_gradcheck(m, random_f64({2, 5, 6, 2}, -1, 1, 7)), "");
  nn::MaxPool1d m1(2, 1);
  EXPECT_EQ(module_gradcheck(m1, random_f64({7, 3}, -1, 1, 8)), "");
  nn::AvgPool2d a({2, 3}, nn::IntPair{1, 2}, {1, 1});
  EXPECT_EQ(module_gradcheck(a, random_f64({1, 4, 5, 2}, -1, 1, 9)), "");
  nn::AvgPool1d a1(3, 2, 1);
  EXPECT_EQ(module_gradcheck(a1, random_f64({2, 6, 2}, -1, 1, 10)), "");
}

// Norm layers with non-trivial affine parameters.
template <typename M>
void randomize(M& m) {
  m.set_dtype(float64);
  nn::NamedArrays values;
  uint32_t seed = 50;
  for (const auto& [name, p] : m.parameters()) values.insert(name, random_f64(p.shape(), 0.5, 1.5, seed++));
  m.update(values);
}

TEST(LayerGradcheck, Normalization) {
  nn::LayerNorm ln(Shape{2, 3});
  randomize(ln);
  EXPECT_EQ(module_gradcheck(ln, random_f64({3, 2, 3}, -2, 2, 11)), "");
  nn::RMSNorm rms(5);
  randomize(rms);
  EXPECT_EQ(module_gradcheck(rms, random_f64({3, 5}, -2, 2, 12)), "");
  nn::GroupNorm gn(2, 4);
  randomize(gn);
  EXPECT_EQ(module_gradcheck(gn, random_f64({2, 3, 4}, -2, 2, 13)), "");
  nn::InstanceNorm in(3, 1e-5, true);
  randomize(in);
  EXPECT_EQ(module_gradcheck(in, random_f64({2, 4, 3}, -2, 2, 14)), "");
  nn::BatchNorm bn(3);
  randomize(bn);
  EXPECT_EQ(module_gradcheck(bn, random_f64({4, 2, 3}, -2, 2, 15)), "");  // training: batch statistics
  bn.eval();
  EXPECT_EQ(module_gradcheck(bn, random_f64({4, 3}, -2, 2, 16)), "");  // running statistics
}

TEST(LayerGradcheck, Dropout) {
  // The same mask for every evaluation: the global key reseeded before each call.
  nn::Dropout d(0.4);
  EXPECT_EQ(module_gradcheck(d, {random_f64({4, 5}, -1, 1, 17)},
                             [&](const std::vector<array>& in) {
                               random::seed(3);
                               return d(in[0]);
                             }),
            "");
  nn::Dropout2d d2(0.5);
  EXPECT_EQ(module_gradcheck(d2, {random_f64({2, 2, 2, 3}, -1, 1, 18)},
                             [&](const std::vector<array>& in) {
                               random::seed(4);
                               return d2(in[0]);
                             }),
            "");
}

TEST(LayerGradcheck, Activations) {
  // Random inputs stay away from the kinks (with probability one).
  array x = random_f64({3, 6}, -4, 4, 19);
  std::vector<std::unique_ptr<nn::UnaryModule>> layers;
  layers.push_back(std::make_unique<nn::ELU>(0.7));
  layers.push_back(std::make_unique<nn::CELU>(1.5));
  layers.push_back(std::make_unique<nn::SELU>());
  layers.push_back(std::make_unique<nn::GELU>());
  layers.push_back(std::make_unique<nn::GELU>("tanh"));
  layers.push_back(std::make_unique<nn::Mish>());
  layers.push_back(std::make_unique<nn::Softplus>(2.0, 3.0));
  layers.push_back(std::make_unique<nn::Hardswish>());
  layers.push_back(std::make_unique<nn::GLU>());
  layers.push_back(std::make_unique<nn::PReLU>(6, 0.3));
  for (const auto& m : layers) EXPECT_EQ(module_gradcheck(*m, x), "") << m->describe();
}

TEST(LayerGradcheck, Sequential) {
  nn::Sequential net(std::make_unique<nn::Conv2d>(2, 4, 3, 1, 1), std::make_unique<nn::GroupNorm>(2, 4),
                     std::make_unique<nn::SiLU>(), std::make_unique<nn::AvgPool2d>(2),
                     std::make_unique<nn::Conv2d>(4, 2, 1));
  EXPECT_EQ(module_gradcheck(net, random_f64({1, 4, 4, 2}, -1, 1, 20)), "");
}

}  // namespace
}  // namespace alloy
