// MaxPool1d/2d and AvgPool1d/2d against PyTorch, exact values, tie and padding behaviour,
// descriptions and argument errors.
#include <gtest/gtest.h>

#include <cmath>

#include "alloy/nn/nn.h"
#include "torch_reference.h"

namespace alloy {
namespace {

TEST(PoolLayers, MatchTorch) {
  ALLOY_REQUIRE_TORCH();
  {
    nn::MaxPool1d m(3, 2, 1);
    test::expect_matches_torch(m, "maxpool1d");
  }
  {
    nn::MaxPool1d m(2);
    test::expect_matches_torch(m, "maxpool1d_default_stride");  // odd length: the last row is dropped
  }
  {
    nn::MaxPool1d m(3, 1);
    test::expect_matches_torch(m, "maxpool1d_unbatched");
  }
  {
    nn::MaxPool2d m(2);
    test::expect_matches_torch(m, "maxpool2d");
  }
  {
    nn::MaxPool2d m({3, 2}, nn::IntPair{2, 1}, {1, 1});
    test::expect_matches_torch(m, "maxpool2d_strided_padded");
  }
  {
    nn::MaxPool2d m(3, 2, 1);
    test::expect_matches_torch(m, "maxpool2d_unbatched");
  }
  {
    nn::AvgPool1d m(3, 2, 1);
    test::expect_matches_torch(m, "avgpool1d");
  }
  {
    nn::AvgPool1d m(2);
    test::expect_matches_torch(m, "avgpool1d_unbatched");
  }
  {
    nn::AvgPool2d m(2);
    test::expect_matches_torch(m, "avgpool2d");
  }
  {
    nn::AvgPool2d m({3, 2}, nn::IntPair{2, 1}, {1, 1});
    test::expect_matches_torch(m, "avgpool2d_strided_padded");
  }
  {
    nn::AvgPool2d m(3, 2, 1);
    test::expect_matches_torch(m, "avgpool2d_unbatched");
  }
}

TEST(PoolLayers, ExactValues) {
  // (1, 4, 1): [1, 5, 2, 4]
  array x = reshape(array(std::vector<float>{1, 5, 2, 4}, {4}), {1, 4, 1});
  EXPECT_EQ(nn::MaxPool1d(2)(x).to_vector<float>(), (std::vector<float>{5, 4}));
  EXPECT_EQ(nn::AvgPool1d(2)(x).to_vector<float>(), (std::vector<float>{3, 3}));
  // Zero padding counts in the average; -inf padding never wins the max.
  EXPECT_EQ(nn::AvgPool1d(2, 2, 1)(x).to_vector<float>(), (std::vector<float>{0.5f, 3.5f, 2}));
  array neg = negative(x);
  EXPECT_EQ(nn::MaxPool1d(2, 2, 1)(neg).to_vector<float>(), (std::vector<float>{-1, -2, -4}));
  // 2-D: (1, 2, 4, 1) with windows 2x2.
  array y = reshape(array(std::vector<float>{1, 2, 3, 4, 8, 7, 6, 5}, {8}), {1, 2, 4, 1});
  EXPECT_EQ(nn::MaxPool2d(2)(y).to_vector<float>(), (std::vector<float>{8, 6}));
  EXPECT_EQ(nn::AvgPool2d(2)(y).to_vector<float>(), (std::vector<float>{4.5f, 4.5f}));
  EXPECT_EQ(nn::MaxPool2d({1, 3}, 1)(y).to_vector<float>(), (std::vector<float>{3, 4, 8, 7}));
}

TEST(PoolLayers, MaxGradientGoesToTheFirstMaximumOfEachWindow) {
  // A window of ties gives its whole gradient to its first element in row-major order, as PyTorch.
  array x = ones({1, 2, 2, 1});
  auto [y, g] = vjp([](const array& a) { return nn::MaxPool2d(2)(a); }, x, ones({1, 1, 1, 1}));
  EXPECT_EQ(g.to_vector<float>(), (std::vector<float>{1, 0, 0, 0}));
  // [[1, 2], [2, 1]]: the first 2 in row-major order is (0, 1) (PyTorch gives the same).
  array d = reshape(array(std::vector<float>{1, 2, 2, 1}, {4}), {1, 2, 2, 1});
  auto [yd, gd] = vjp([](const array& a) { return nn::MaxPool2d(2)(a); }, d, ones({1, 1, 1, 1}));
  EXPECT_EQ(gd.to_vector<float>(), (std::vector<float>{0, 1, 0, 0}));
  // Overlapping windows add up: [3, 1, 3] with kernel 2, stride 1: windows (3, 1) and (1, 3).
  array z = reshape(array(std::vector<float>{3, 1, 3, 0}, {4}), {1, 4, 1});
  auto [y2, g2] = vjp([](const array& a) { return nn::MaxPool1d(2, 1)(a); }, z, ones({1, 3, 1}));
  EXPECT_EQ(y2.to_vector<float>(), (std::vector<float>{3, 3, 3}));
  EXPECT_EQ(g2.to_vector<float>(), (std::vector<float>{1, 0, 2, 0}));
}

TEST(PoolLayers, ShapesAndDescribe) {
  nn::MaxPool2d m(2);
  EXPECT_EQ(m(zeros({64, 28, 28, 32})).shape(), (Shape{64, 14, 14, 32}));
  EXPECT_EQ(m(zeros({5, 7, 3})).shape(), (Shape{2, 3, 3}));
  EXPECT_EQ(nn::AvgPool1d(3, 2, 1)(zeros({2, 10, 3})).shape(), (Shape{2, 5, 3}));
  EXPECT_EQ(m.describe(), "MaxPool2d(kernel=(2, 2), stride=(2, 2), padding=(0, 0))");
  EXPECT_EQ(nn::AvgPool2d({3, 2}, nn::IntPair{2, 1}, {1, 0}).describe(),
            "AvgPool2d(kernel=(3, 2), stride=(2, 1), padding=(1, 0))");
  EXPECT_EQ(nn::MaxPool1d(3).describe(), "MaxPool1d(kernel=3, stride=3, padding=0)");
  EXPECT_EQ(nn::AvgPool1d(4, 1, 2).describe(), "AvgPool1d(kernel=4, stride=1, padding=2)");
  EXPECT_TRUE(m.parameters().empty());
  // bfloat16 stays bfloat16.
  EXPECT_EQ(nn::AvgPool2d(2)(ones({1, 4, 4, 2}, bfloat16)).dtype(), bfloat16);
}

TEST(PoolLayers, Errors) {
  EXPECT_THROW(nn::MaxPool2d(0), std::invalid_argument);
  EXPECT_THROW(nn::MaxPool2d(2, 0), std::invalid_argument);
  EXPECT_THROW(nn::MaxPool2d(2, 2, -1), std::invalid_argument);
  EXPECT_THROW(nn::MaxPool2d(3, 1, 2), std::invalid_argument);  // padding over half the kernel
  EXPECT_NO_THROW(nn::MaxPool2d(2, 1, 1));
  EXPECT_THROW(nn::AvgPool1d(2, 1, 2), std::invalid_argument);
  nn::MaxPool2d m(3);
  try {
    m(zeros({4, 3}));
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "[MaxPool2d] expects input (N, H, W, C) or (H, W, C), got shape (4, 3)");
  }
  EXPECT_THROW(m(zeros({1, 2, 8, 3})), std::invalid_argument);  // H = 2 < kernel 3
  EXPECT_THROW(m(zeros({1, 8, 8, 3}, int32)), std::invalid_argument);
  EXPECT_THROW(nn::AvgPool1d(2)(zeros({1, 2, 3, 4})), std::invalid_argument);
  EXPECT_THROW(nn::MaxPool1d(4, 1, 1)(zeros({1, 1, 2})), std::invalid_argument);  // 1 + 2 < 4
}

}  // namespace
}  // namespace alloy
