// LayerNorm, RMSNorm, GroupNorm, BatchNorm (train and eval, running statistics), InstanceNorm
// against PyTorch; running statistics kept out of the gradient; dtypes, descriptions, errors.
#include <gtest/gtest.h>

#include "alloy/nn/nn.h"
#include "torch_reference.h"

namespace alloy {
namespace {

using test::all_close;

TEST(NormLayers, LayerNormMatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  {
    nn::LayerNorm m(5);
    test::expect_matches_torch(m, "layernorm");
  }
  {
    nn::LayerNorm m(Shape{3, 4});
    test::expect_matches_torch(m, "layernorm_2d_shape");
  }
  {
    nn::LayerNorm m(6, 1e-3, /*elementwise_affine=*/false);
    test::expect_matches_torch(m, "layernorm_no_affine");
  }
  {
    nn::LayerNorm m(5, 1e-5, true, /*bias=*/false);
    test::expect_matches_torch(m, "layernorm_no_bias");
  }
}

TEST(NormLayers, RMSNormMatchesTorchFormula) {
  ALLOY_REQUIRE_TORCH();
  nn::RMSNorm m(6);
  test::expect_matches_torch(m, "rmsnorm");
}

TEST(NormLayers, GroupNormMatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  {
    nn::GroupNorm m(2, 6);
    test::expect_matches_torch(m, "groupnorm_2d");
  }
  {
    nn::GroupNorm m(3, 6, 1e-3);
    test::expect_matches_torch(m, "groupnorm_1d");
  }
  {
    nn::GroupNorm m(2, 4);
    test::expect_matches_torch(m, "groupnorm_nc");
  }
  {
    nn::GroupNorm m(1, 3, 1e-5, /*affine=*/false);
    test::expect_matches_torch(m, "groupnorm_no_affine");
  }
}

TEST(NormLayers, BatchNormTrainMatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  // expect_matches_torch also compares running_mean, running_var and num_batches_tracked after
  // the step with PyTorch's.
  {
    nn::BatchNorm m(5);
    test::expect_matches_torch(m, "batchnorm_nc_train");
  }
  {
    nn::BatchNorm m(3, 1e-5, 0.3);
    test::expect_matches_torch(m, "batchnorm_ncl_train");
  }
  {
    nn::BatchNorm m(3);
    test::expect_matches_torch(m, "batchnorm_2d_train");
    EXPECT_EQ(m.num_batches_tracked->item<int64_t>(), 1);
    EXPECT_EQ(m.num_batches_tracked->dtype(), int64);
  }
  {
    nn::BatchNorm m(4, 1e-5, std::nullopt);
    test::expect_matches_torch(m, "batchnorm_cumulative_train");
  }
  {
    nn::BatchNorm m(2, 1e-5, 0.1, /*affine=*/false);
    test::expect_matches_torch(m, "batchnorm_no_affine_train");
  }
}

TEST(NormLayers, BatchNormEvalMatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  {
    // The running statistics PyTorch normalized with (eval mode leaves them as they were).
    test::TorchCase c = test::torch_case("batchnorm_2d_eval");
    nn::BatchNorm m(3, 1e-3);
    m.set_dtype(float64);
    m.load_weights(c.with_prefix("buffer/"), /*strict=*/false);
    m.eval();
    test::expect_matches_torch(m, c, [&](const std::vector<array>& in) { return m.forward(in[0]); });
    EXPECT_EQ(m.num_batches_tracked->item<int64_t>(), 7);  // not counted in eval mode
  }
  {
    // Without running statistics, evaluation mode uses the batch's.
    nn::BatchNorm m(5, 1e-5, 0.1, true, /*track_running_stats=*/false);
    EXPECT_TRUE(m.buffers().empty());
    m.eval();
    test::expect_matches_torch(m, "batchnorm_untracked_eval");
  }
}

TEST(NormLayers, InstanceNormMatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  {
    nn::InstanceNorm m(3, 1e-5, /*affine=*/true);
    test::expect_matches_torch(m, "instancenorm_2d");
  }
  {
    nn::InstanceNorm m(4);
    EXPECT_TRUE(m.parameters().empty());
    test::expect_matches_torch(m, "instancenorm_1d");
  }
}

TEST(NormLayers, BatchNormRunningStatsAreNotDifferentiated) {
  nn::BatchNorm bn(3);
  bn.set_dtype(float64);
  array x = random::normal({6, 3}, float64, 1.0, 2.0, random::key(3));
  // d running_mean / dx would be momentum / N per element without stop_gradient.
  auto [outs, grads] = vjp(
      [&](const std::vector<array>& in) {
        bn.forward(in[0]);
        return std::vector<array>{*bn.running_mean, *bn.running_var};
      },
      {x}, {ones({3}, float64), ones({3}, float64)});
  EXPECT_TRUE(array_equal(grads[0], zeros({6, 3}, float64))) << grads[0];
  // The buffers hold the step's values.
  array expected_mean = multiply(array(0.1), mean(x, 0));
  EXPECT_TRUE(all_close(*bn.running_mean, expected_mean, 1e-12, 1e-14));
  array expected_var = add(array(0.9), multiply(array(0.1), var(x, 0, false, /*ddof=*/1)));
  EXPECT_TRUE(all_close(*bn.running_var, expected_var, 1e-12, 1e-14));
}

TEST(NormLayers, BatchNormInValueAndGrad) {
  nn::Sequential model(std::make_unique<nn::Linear>(4, 3), std::make_unique<nn::BatchNorm>(3));
  array x = random::normal({8, 4}, float32, 0, 1, random::key(4));
  auto step = nn::value_and_grad(model, [&](const array& in) { return sum(square(model(in))); });
  auto [loss, grads] = step(x);
  EXPECT_EQ(grads.names(), (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"}));
  // Batch statistics take the Linear's bias out of the output: its gradient is zero.
  EXPECT_LT(max(abs(grads.at("0.bias"))).item<float>(), 1e-5f);
  // The running statistics were updated by the step and are plain values again.
  nn::NamedArrays buffers = model.buffers();
  EXPECT_EQ(buffers.at("1.num_batches_tracked").item<int64_t>(), 1);
  array h = model[0](x);
  EXPECT_TRUE(all_close(buffers.at("1.running_mean"), multiply(array(0.1f), mean(h, 0)), 1e-5, 1e-6));
  // Evaluation mode normalizes with them: the output is no longer zero-mean per channel.
  model.eval();
  array y = model(x);
  array expected =
      divide(subtract(h, buffers.at("1.running_mean")), sqrt(add(buffers.at("1.running_var"), array(1e-5f))));
  EXPECT_TRUE(all_close(y, expected, 1e-5, 1e-5));
}

TEST(NormLayers, HalfPrecisionAndShapes) {
  array x = random::normal({2, 4, 4, 6}, float32, 0.5, 2, random::key(5));
  nn::GroupNorm g(3, 6);
  nn::BatchNorm b(6);
  nn::InstanceNorm i(6);
  nn::LayerNorm l(Shape{4, 6});
  nn::RMSNorm r(6);
  for (nn::UnaryModule* m : std::vector<nn::UnaryModule*>{&g, &b, &i, &l, &r}) {
    array ref = (*m)(x);
    EXPECT_EQ(ref.shape(), x.shape()) << m->describe();
    m->set_dtype(bfloat16);
    array y = (*m)(astype(x, bfloat16));
    EXPECT_EQ(y.dtype(), bfloat16) << m->describe();
    EXPECT_TRUE(all_close(y, ref, 2e-2, 5e-2)) << m->describe();
  }
  // Normalized: zero mean and unit variance per group, channel or row.
  array y = nn::InstanceNorm(6)(x);
  EXPECT_TRUE(all_close(mean(y, Axes{1, 2}), zeros({2, 6}), 1e-5, 1e-5));
  EXPECT_TRUE(all_close(var(y, Axes{1, 2}), ones({2, 6}), 1e-3, 1e-4));
}

TEST(NormLayers, NamesAndDescribe) {
  nn::BatchNorm b(4);
  EXPECT_EQ(b.parameters().names(), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(b.buffers().names(), (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(b.describe(), "BatchNorm(4, eps=1e-05, momentum=0.1, affine=true, track_running_stats=true)");
  EXPECT_EQ(nn::BatchNorm(2, 1e-3, std::nullopt, false, false).describe(),
            "BatchNorm(2, eps=0.001, momentum=none, affine=false, track_running_stats=false)");
  EXPECT_EQ(nn::LayerNorm(8).describe(), "LayerNorm((8,), eps=1e-05, elementwise_affine=true)");
  EXPECT_EQ(nn::LayerNorm(Shape{3, 4}, 1e-6, true, false).describe(),
            "LayerNorm((3, 4), eps=1e-06, elementwise_affine=true, bias=false)");
  EXPECT_EQ(nn::LayerNorm(8, 1e-5, false).parameters().size(), 0u);
  EXPECT_EQ(nn::RMSNorm(16).describe(), "RMSNorm(16, eps=1e-05)");
  EXPECT_EQ(nn::GroupNorm(2, 6).describe(), "GroupNorm(2, 6, eps=1e-05, affine=true)");
  EXPECT_EQ(nn::InstanceNorm(3).describe(), "InstanceNorm(3, eps=1e-05, affine=false)");
  nn::LayerNorm l(Shape{3, 4});
  EXPECT_EQ(l.weight->shape(), (Shape{3, 4}));
  EXPECT_TRUE(array_equal(*l.weight, ones({3, 4})));
  EXPECT_TRUE(array_equal(*l.bias, zeros({3, 4})));
}

TEST(NormLayers, Errors) {
  EXPECT_THROW(nn::LayerNorm(0), std::invalid_argument);
  EXPECT_THROW(nn::LayerNorm(Shape{}), std::invalid_argument);
  EXPECT_THROW(nn::LayerNorm(4, -1.0), std::invalid_argument);
  EXPECT_THROW(nn::RMSNorm(0), std::invalid_argument);
  EXPECT_THROW(nn::GroupNorm(4, 6), std::invalid_argument);  // 6 % 4
  EXPECT_THROW(nn::GroupNorm(0, 6), std::invalid_argument);
  EXPECT_THROW(nn::BatchNorm(0), std::invalid_argument);
  EXPECT_THROW(nn::BatchNorm(3, 1e-5, 1.5), std::invalid_argument);
  EXPECT_THROW(nn::InstanceNorm(3, 1e-5, false, int32), std::invalid_argument);

  try {
    nn::LayerNorm(Shape{3, 4})(zeros({2, 4, 3}));
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "[LayerNorm] expects input (..., 3, 4), got shape (2, 4, 3)");
  }
  EXPECT_THROW(nn::LayerNorm(4)(zeros({4}, int32)), std::invalid_argument);
  EXPECT_THROW(nn::RMSNorm(4)(zeros({2, 5})), std::invalid_argument);
  EXPECT_THROW(nn::GroupNorm(2, 4)(zeros({4})), std::invalid_argument);
  EXPECT_THROW(nn::GroupNorm(2, 4)(zeros({2, 3, 6})), std::invalid_argument);
  EXPECT_THROW(nn::BatchNorm(3)(zeros({4, 2})), std::invalid_argument);
  EXPECT_THROW(nn::BatchNorm(3)(zeros({3})), std::invalid_argument);
  EXPECT_THROW(nn::BatchNorm(3)(zeros({1, 3})), std::invalid_argument);  // one value per channel
  nn::BatchNorm eval_bn(3);
  eval_bn.eval();
  EXPECT_NO_THROW(eval_bn(zeros({1, 3})));
  EXPECT_THROW(nn::InstanceNorm(3)(zeros({2, 3})), std::invalid_argument);
  EXPECT_THROW(nn::InstanceNorm(3)(zeros({2, 5, 4})), std::invalid_argument);
}

}  // namespace
}  // namespace alloy
