// Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d against PyTorch (strided, padded, dilated,
// grouped, unbatched), their shapes, descriptions and argument errors.
#include <gtest/gtest.h>

#include "alloy/nn/nn.h"
#include "torch_reference.h"

namespace alloy {
namespace {

TEST(ConvLayers, MatchTorch) {
  ALLOY_REQUIRE_TORCH();
  {
    nn::Conv1d m(3, 4, 3);
    test::expect_matches_torch(m, "conv1d");
  }
  {
    nn::Conv1d m(4, 6, 3, /*stride=*/2, /*padding=*/2, /*dilation=*/2, /*groups=*/2);
    test::expect_matches_torch(m, "conv1d_strided_grouped");
  }
  {
    nn::Conv1d m(2, 3, 4, 1, 1, 1, 1, /*bias=*/false);
    test::expect_matches_torch(m, "conv1d_nobias");
  }
  {
    nn::Conv1d m(3, 2, 2, 2);
    test::expect_matches_torch(m, "conv1d_unbatched");  // (8, 3) -> (4, 2)
  }
  {
    nn::Conv2d m(3, 4, 3, 1, 1);
    test::expect_matches_torch(m, "conv2d");
  }
  {
    nn::Conv2d m(4, 6, {3, 2}, {2, 1}, {1, 0}, {1, 2}, 2);
    test::expect_matches_torch(m, "conv2d_strided_grouped");
  }
  {
    nn::Conv2d m(4, 8, 3, 2, 0, 1, /*groups=*/4, /*bias=*/false);
    test::expect_matches_torch(m, "conv2d_depthwise");
  }
  {
    nn::Conv2d m(2, 3, {2, 3}, 1, {1, 1});
    test::expect_matches_torch(m, "conv2d_unbatched");
  }
  {
    nn::ConvTranspose1d m(3, 4, 3);
    test::expect_matches_torch(m, "conv_transpose1d");
  }
  {
    nn::ConvTranspose1d m(4, 6, 3, /*stride=*/2, /*padding=*/1, /*output_padding=*/1, /*dilation=*/2, /*groups=*/2);
    test::expect_matches_torch(m, "conv_transpose1d_strided_grouped");
  }
  {
    nn::ConvTranspose1d m(2, 3, 2, 3, 0, 0, 1, 1, /*bias=*/false);
    test::expect_matches_torch(m, "conv_transpose1d_unbatched");
  }
  {
    nn::ConvTranspose2d m(3, 2, 3, 2, 1, 1);
    test::expect_matches_torch(m, "conv_transpose2d");
  }
  {
    nn::ConvTranspose2d m(4, 6, {3, 2}, {2, 1}, {1, 0}, {1, 0}, {1, 2}, 2);
    test::expect_matches_torch(m, "conv_transpose2d_strided_grouped");
  }
  {
    nn::ConvTranspose2d m(2, 4, 2, 2, 0, 0, 1, 2);
    test::expect_matches_torch(m, "conv_transpose2d_unbatched");
  }
}

TEST(ConvLayers, ShapesAndNames) {
  nn::Conv2d c(3, 16, 3, 1, 1);
  EXPECT_EQ(c.parameters().names(), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(c.weight.shape(), (Shape{16, 3, 3, 3}));
  EXPECT_EQ(c.bias->shape(), (Shape{16}));
  EXPECT_EQ(c(zeros({2, 8, 8, 3})).shape(), (Shape{2, 8, 8, 16}));
  EXPECT_EQ(c(zeros({8, 8, 3})).shape(), (Shape{8, 8, 16}));
  nn::Conv1d c1(4, 6, 5, 2, 0, 1, 2, false);
  EXPECT_EQ(c1.weight.shape(), (Shape{6, 5, 2}));
  EXPECT_FALSE(c1.bias.has_value());
  EXPECT_EQ(c1.parameters().size(), 1u);
  EXPECT_EQ(c1(zeros({3, 11, 4})).shape(), (Shape{3, 4, 6}));
  nn::ConvTranspose2d t(4, 6, {3, 2}, 2, 1, 1, 1, 2);
  EXPECT_EQ(t.weight.shape(), (Shape{6, 3, 2, 2}));  // (C_out, kh, kw, C_in / groups)
  // (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1
  EXPECT_EQ(t(zeros({1, 5, 4, 4})).shape(), (Shape{1, 10, 7, 6}));
  nn::ConvTranspose1d t1(2, 3, 4, 3);
  EXPECT_EQ(t1(zeros({5, 2})).shape(), (Shape{16, 3}));
  // float16 runs in float16.
  c.set_dtype(float16);
  EXPECT_EQ(c(zeros({1, 4, 4, 3}, float16)).dtype(), float16);
}

TEST(ConvLayers, Describe) {
  EXPECT_EQ(nn::Conv2d(3, 16, 3, 1, 1).describe(), "Conv2d(3, 16, kernel=(3, 3), stride=(1, 1), padding=(1, 1))");
  EXPECT_EQ(nn::Conv2d(4, 8, {3, 5}, {2, 1}, 0, 2, 4, false).describe(),
            "Conv2d(4, 8, kernel=(3, 5), stride=(2, 1), padding=(0, 0), dilation=(2, 2), groups=4, bias=false)");
  EXPECT_EQ(nn::Conv1d(3, 16, 3).describe(), "Conv1d(3, 16, kernel=3, stride=1, padding=0)");
  EXPECT_EQ(nn::ConvTranspose1d(4, 2, 3, 2, 1, 1).describe(),
            "ConvTranspose1d(4, 2, kernel=3, stride=2, padding=1, output_padding=1)");
  EXPECT_EQ(nn::ConvTranspose2d(4, 2, 2, 2).describe(),
            "ConvTranspose2d(4, 2, kernel=(2, 2), stride=(2, 2), padding=(0, 0))");
  nn::Sequential seq(std::make_unique<nn::Conv2d>(3, 4, 3), std::make_unique<nn::ReLU>());
  EXPECT_NE(seq.summary().find("0: Conv2d(3, 4, kernel=(3, 3), stride=(1, 1), padding=(0, 0))  112"),
            std::string::npos)
      << seq.summary();
}

TEST(ConvLayers, ArgumentErrors) {
  EXPECT_THROW(nn::Conv2d(0, 4, 3), std::invalid_argument);
  EXPECT_THROW(nn::Conv2d(3, -1, 3), std::invalid_argument);
  EXPECT_THROW(nn::Conv2d(3, 4, 3, 1, 0, 1, 2), std::invalid_argument);  // 3 % 2
  EXPECT_THROW(nn::Conv2d(4, 6, 3, 1, 0, 1, 4), std::invalid_argument);  // 6 % 4
  EXPECT_THROW(nn::Conv2d(4, 4, 3, 1, 0, 1, 0), std::invalid_argument);
  EXPECT_THROW(nn::Conv2d(3, 4, {3, 0}), std::invalid_argument);
  EXPECT_THROW(nn::Conv2d(3, 4, 3, {1, 0}), std::invalid_argument);
  EXPECT_THROW(nn::Conv2d(3, 4, 3, 1, -1), std::invalid_argument);
  EXPECT_THROW(nn::Conv2d(3, 4, 3, 1, 0, 0), std::invalid_argument);
  EXPECT_THROW(nn::Conv2d(3, 4, 3, 1, 0, 1, 1, true, int32), std::invalid_argument);
  EXPECT_THROW(nn::Conv1d(3, 4, 0), std::invalid_argument);
  // output_padding must be smaller than stride or dilation.
  EXPECT_THROW(nn::ConvTranspose1d(3, 4, 3, 1, 0, 1), std::invalid_argument);
  EXPECT_NO_THROW(nn::ConvTranspose1d(3, 4, 3, 1, 0, 1, 2));
  EXPECT_THROW(nn::ConvTranspose2d(3, 4, 3, 2, 0, {1, 2}), std::invalid_argument);
  EXPECT_THROW(nn::ConvTranspose1d(3, 4, 3, 2, -1), std::invalid_argument);
}

TEST(ConvLayers, InputErrors) {
  nn::Conv2d c(3, 4, 3);
  try {
    c(zeros({2, 3}));
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "[Conv2d] expects input (N, H, W, 3) or (H, W, 3), got shape (2, 3)");
  }
  EXPECT_THROW(c(zeros({2, 5, 5, 4})), std::invalid_argument);     // channels
  EXPECT_THROW(c(zeros({1, 2, 5, 5, 3})), std::invalid_argument);  // rank
  EXPECT_THROW(c(zeros({2, 5, 5, 3}, int32)), std::invalid_argument);
  EXPECT_THROW(c(zeros({2, 2, 5, 3})), std::invalid_argument);  // smaller than the kernel
  EXPECT_NO_THROW(c(zeros({2, 3, 3, 3})));
  nn::Conv1d c1(2, 2, 3, 1, 0, /*dilation=*/3);
  EXPECT_THROW(c1(zeros({1, 6, 2})), std::invalid_argument);  // dilated kernel spans 7
  EXPECT_NO_THROW(c1(zeros({1, 7, 2})));
  EXPECT_THROW(c1(zeros({7})), std::invalid_argument);
  nn::ConvTranspose1d t(2, 2, 1, 1, /*padding=*/1);
  EXPECT_THROW(t(zeros({1, 2, 2})), std::invalid_argument);  // (2 - 1) - 2 + 0 + 1 = 0 outputs
  EXPECT_EQ(t(zeros({1, 3, 2})).shape(), (Shape{1, 1, 2}));
}

}  // namespace
}  // namespace alloy
