// nn::losses against PyTorch 1.13 (tests/nn/torch_cases.py, loss_cases): the loss value and
// its gradients with respect to every floating input, for each reduction; then the error paths.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "alloy/nn/nn.h"
#include "torch_reference.h"

namespace alloy {
namespace {

using namespace nn::losses;
using Inputs = std::vector<array>;
using LossFn = std::function<array(const Inputs&, const test::TorchCase&)>;

// Runs fn on the case's inputs and compares output and input gradients with PyTorch's.
void expect_loss(const std::string& case_name, const LossFn& fn) {
  SCOPED_TRACE(case_name);
  test::TorchCase c = test::torch_case(case_name);
  ASSERT_TRUE(c.has("output"));
  nn::Module none;  // losses have no parameters
  test::expect_matches_torch(none, c, [&](const Inputs& in) { return fn(in, c); });
}

const std::vector<std::pair<std::string, Reduction>> kReductions = {
    {"mean", Reduction::mean}, {"sum", Reduction::sum}, {"none", Reduction::none}};

TEST(Losses, CrossEntropyMatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  for (const auto& [name, r] : kReductions) {
    Reduction red = r;
    expect_loss("ce_" + name, [=](const Inputs& in, const test::TorchCase&) {
      return cross_entropy(in[0], in[1], std::nullopt, -100, red);
    });
    // Weights, ignore_index and label smoothing together.
    expect_loss("ce_all_" + name, [=](const Inputs& in, const test::TorchCase& c) {
      return cross_entropy(in[0], in[1], c["weight"], -100, red, 0.15);
    });
  }
  expect_loss("ce_ignore3_smooth", [](const Inputs& in, const test::TorchCase&) {
    return cross_entropy(in[0], in[1], std::nullopt, 3, Reduction::mean, 0.2);
  });
  expect_loss("ce_weight", [](const Inputs& in, const test::TorchCase& c) {
    return cross_entropy(in[0], in[1], c["weight"]);
  });
  expect_loss("ce_3d_none", [](const Inputs& in, const test::TorchCase&) {
    return cross_entropy(in[0], in[1], std::nullopt, -100, Reduction::none, 0.1);
  });
  expect_loss("ce_3d_mean", [](const Inputs& in, const test::TorchCase& c) {
    return cross_entropy(in[0], in[1], c["weight"]);
  });
  expect_loss("ce_unbatched", [](const Inputs& in, const test::TorchCase&) { return cross_entropy(in[0], in[1]); });
  // Class indices of any integer dtype give the same loss.
  for (Dtype dt : {int32, uint8, int16}) {
    expect_loss("ce_mean", [=](const Inputs& in, const test::TorchCase&) {
      return cross_entropy(in[0], astype(in[1], dt));
    });
  }
  // Probability targets, also differentiated with respect to the targets.
  expect_loss("ce_probs", [](const Inputs& in, const test::TorchCase&) { return cross_entropy(in[0], in[1]); });
  expect_loss("ce_probs_all", [](const Inputs& in, const test::TorchCase& c) {
    return cross_entropy(in[0], in[1], c["weight"], -100, Reduction::sum, 0.1);
  });
}

TEST(Losses, NllAndBinaryCrossEntropyMatchTorch) {
  ALLOY_REQUIRE_TORCH();
  for (const auto& [name, r] : kReductions) {
    Reduction red = r;
    expect_loss("nll_" + name, [=](const Inputs& in, const test::TorchCase& c) {
      return nll_loss(in[0], in[1], c["weight"], -100, red);
    });
    expect_loss("bce_" + name, [=](const Inputs& in, const test::TorchCase& c) {
      return binary_cross_entropy(in[0], in[1], c["weight"], red);
    });
    expect_loss("bce_logits_" + name, [=](const Inputs& in, const test::TorchCase& c) {
      return binary_cross_entropy_with_logits(in[0], in[1], c["weight"], c["pos_weight"], red);
    });
  }
  expect_loss("bce_plain", [](const Inputs& in, const test::TorchCase&) { return binary_cross_entropy(in[0], in[1]); });
  // Logits up to +-90: the stable formula stays finite.
  expect_loss("bce_logits_plain", [](const Inputs& in, const test::TorchCase&) {
    return binary_cross_entropy_with_logits(in[0], in[1]);
  });
  // The -100 clamp: p = 0 with target 1 costs 100, not infinity.
  array loss = binary_cross_entropy(array({0.0, 1.0}, {2}, float64), array({1.0, 1.0}, {2}, float64),
                                    std::nullopt, Reduction::none);
  EXPECT_EQ(loss.to_vector<double>(), (std::vector<double>{100.0, 0.0}));
}

TEST(Losses, RegressionMatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  for (const auto& [name, r] : kReductions) {
    Reduction red = r;
    expect_loss("mse_" + name, [=](const Inputs& in, const test::TorchCase&) { return mse_loss(in[0], in[1], red); });
    expect_loss("l1_" + name, [=](const Inputs& in, const test::TorchCase&) { return l1_loss(in[0], in[1], red); });
    expect_loss("huber_" + name, [=](const Inputs& in, const test::TorchCase&) {
      return huber_loss(in[0], in[1], 0.7, red);
    });
    expect_loss("smooth_l1_" + name, [=](const Inputs& in, const test::TorchCase&) {
      return smooth_l1_loss(in[0], in[1], 0.6, red);
    });
  }
  expect_loss("smooth_l1_beta0", [](const Inputs& in, const test::TorchCase&) {
    return smooth_l1_loss(in[0], in[1], 0.0);
  });
  expect_loss("log_cosh", [](const Inputs& in, const test::TorchCase&) { return log_cosh_loss(in[0], in[1]); });
  expect_loss("gaussian_nll", [](const Inputs& in, const test::TorchCase&) {
    return gaussian_nll_loss(in[0], in[1], in[2]);
  });
  expect_loss("gaussian_nll_full_sum", [](const Inputs& in, const test::TorchCase&) {
    return gaussian_nll_loss(in[0], in[1], in[2], true, 1e-4, Reduction::sum);
  });
  expect_loss("gaussian_nll_per_sample", [](const Inputs& in, const test::TorchCase&) {
    return gaussian_nll_loss(in[0], in[1], in[2], false, 1e-6, Reduction::none);
  });
  expect_loss("gaussian_nll_per_sample1", [](const Inputs& in, const test::TorchCase&) {
    return gaussian_nll_loss(in[0], in[1], in[2]);
  });
  // log(cosh(d)) for a large d stays finite (cosh itself overflows past ~710).
  array big = log_cosh_loss(array({1000.0}, {1}, float64), array({0.0}, {1}, float64), Reduction::sum);
  EXPECT_NEAR(big.item<double>(), 1000.0 - std::log(2.0), 1e-9);
}

TEST(Losses, DistributionAndEmbeddingMatchTorch) {
  ALLOY_REQUIRE_TORCH();
  const std::vector<std::pair<std::string, KLDivReduction>> kl = {{"none", KLDivReduction::none},
                                                                  {"mean", KLDivReduction::mean},
                                                                  {"sum", KLDivReduction::sum},
                                                                  {"batchmean", KLDivReduction::batchmean}};
  for (const auto& [name, r] : kl) {
    KLDivReduction red = r;
    expect_loss("kl_div_" + name, [=](const Inputs& in, const test::TorchCase&) { return kl_div(in[0], in[1], red); });
  }
  expect_loss("kl_div_zero_target", [](const Inputs& in, const test::TorchCase& c) {
    return kl_div(in[0], c["target"], KLDivReduction::sum);
  });
  expect_loss("kl_div_log_target", [](const Inputs& in, const test::TorchCase&) {
    return kl_div(in[0], in[1], KLDivReduction::batchmean, true);
  });
  expect_loss("cosine_similarity", [](const Inputs& in, const test::TorchCase&) {
    return cosine_similarity(in[0], in[1]);
  });
  expect_loss("cosine_similarity_axis0", [](const Inputs& in, const test::TorchCase&) {
    return cosine_similarity(in[0], in[1], 0, 1e-3);
  });
  expect_loss("cosine_similarity_broadcast", [](const Inputs& in, const test::TorchCase&) {
    return cosine_similarity(in[0], in[1], 1);
  });
  if (test::has_torch_case("cosine_similarity_small")) {  // PyTorch 1's rule (torch_cases.py)
    expect_loss("cosine_similarity_small", [](const Inputs& in, const test::TorchCase&) {
      return cosine_similarity(in[0], in[1], -1, 0.5);
    });
  }
  // Below eps each norm is clamped: 0.01 / (max(0.1, 0.5) * max(0.1414, 0.5)) = 0.04.
  EXPECT_NEAR(cosine_similarity(array({0.1f, 0.0f}), array({0.1f, 0.1f}), -1, 0.5).item<float>(), 0.04f, 1e-6);
  expect_loss("cosine_embedding_mean", [](const Inputs& in, const test::TorchCase&) {
    return cosine_embedding_loss(in[0], in[1], in[2], -0.2);
  });
  expect_loss("cosine_embedding_none", [](const Inputs& in, const test::TorchCase&) {
    return cosine_embedding_loss(in[0], in[1], in[2], -0.2, Reduction::none);
  });
  expect_loss("cosine_embedding_unbatched", [](const Inputs& in, const test::TorchCase&) {
    return cosine_embedding_loss(in[0], in[1], in[2]);
  });
  expect_loss("hinge", [](const Inputs& in, const test::TorchCase&) { return hinge_loss(in[0], in[1]); });
  expect_loss("hinge_embedding", [](const Inputs& in, const test::TorchCase&) {
    return hinge_embedding_loss(in[0], in[1], 1.5);
  });
  expect_loss("hinge_embedding_none", [](const Inputs& in, const test::TorchCase&) {
    return hinge_embedding_loss(in[0], in[1], 1.0, Reduction::none);
  });
  expect_loss("margin_ranking", [](const Inputs& in, const test::TorchCase&) {
    return margin_ranking_loss(in[0], in[1], in[2], 0.3);
  });
  expect_loss("triplet", [](const Inputs& in, const test::TorchCase&) {
    return triplet_margin_loss(in[0], in[1], in[2], 2.0);
  });
  expect_loss("triplet_p1_swap_none", [](const Inputs& in, const test::TorchCase&) {
    return triplet_margin_loss(in[0], in[1], in[2], 1.5, 1.0, 1e-6, true, Reduction::none);
  });
  expect_loss("triplet_p3_sum", [](const Inputs& in, const test::TorchCase&) {
    return triplet_margin_loss(in[0], in[1], in[2], 3.0, 3.0, 1e-3, false, Reduction::sum);
  });
}

// Expects std::invalid_argument whose message starts with "[loss]".
template <typename F>
void expect_error(const char* loss, F&& f) {
  try {
    f();
    ADD_FAILURE() << loss << ": no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()).rfind(std::string("[") + loss + "]", 0), 0u) << e.what();
  }
}

TEST(Losses, ErrorsNameTheLoss) {
  array x = zeros({4, 5}), idx = zeros({4}, int32), y = zeros({4, 5});
  expect_error("cross_entropy", [&] { cross_entropy(x, zeros({4})); });            // float, not probabilities
  expect_error("cross_entropy", [&] { cross_entropy(x, zeros({4, 2}, int32)); });  // wrong index shape
  expect_error("cross_entropy", [&] { cross_entropy(x, idx, zeros({4})); });       // weight not (C,)
  expect_error("cross_entropy", [&] { cross_entropy(x, idx, zeros({5}, int32)); });
  expect_error("cross_entropy", [&] { cross_entropy(x, idx, std::nullopt, -100, Reduction::mean, 1.5); });
  expect_error("cross_entropy", [&] { cross_entropy(x, y, std::nullopt, 0); });   // ignore_index on probabilities
  expect_error("cross_entropy", [&] { cross_entropy(zeros({}), idx); });
  expect_error("cross_entropy", [&] { cross_entropy(zeros({4, 5}, int32), idx); });
  expect_error("nll_loss", [&] { nll_loss(x, zeros({5}, int32)); });
  expect_error("binary_cross_entropy", [&] { binary_cross_entropy(x, zeros({4, 4})); });
  expect_error("binary_cross_entropy", [&] { binary_cross_entropy(x, y, zeros({3})); });
  expect_error("binary_cross_entropy_with_logits", [&] {
    binary_cross_entropy_with_logits(x, y, std::nullopt, zeros({4}));
  });
  expect_error("mse_loss", [&] { mse_loss(x, zeros({5, 4})); });
  expect_error("l1_loss", [&] { l1_loss(x, zeros({4, 5}, int32)); });
  expect_error("huber_loss", [&] { huber_loss(x, y, 0.0); });
  expect_error("smooth_l1_loss", [&] { smooth_l1_loss(x, y, -1.0); });
  expect_error("log_cosh_loss", [&] { log_cosh_loss(x, zeros({4})); });
  expect_error("gaussian_nll_loss", [&] { gaussian_nll_loss(x, y, zeros({5})); });
  expect_error("gaussian_nll_loss", [&] { gaussian_nll_loss(x, y, zeros({4, 2})); });
  expect_error("kl_div", [&] { kl_div(x, zeros({2, 5})); });
  expect_error("cosine_similarity", [&] { cosine_similarity(x, zeros({4, 3})); });
  expect_error("cosine_similarity", [&] { cosine_similarity(x, y, 2); });
  expect_error("cosine_embedding_loss", [&] { cosine_embedding_loss(x, y, zeros({3})); });
  expect_error("cosine_embedding_loss", [&] { cosine_embedding_loss(x, y, zeros({})); });
  expect_error("hinge_loss", [&] { hinge_loss(x, zeros({4})); });
  expect_error("hinge_embedding_loss", [&] { hinge_embedding_loss(x, zeros({4})); });
  expect_error("margin_ranking_loss", [&] { margin_ranking_loss(zeros({4}), zeros({4}), zeros({3})); });
  expect_error("triplet_margin_loss", [&] { triplet_margin_loss(x, y, zeros({4, 4})); });
  expect_error("triplet_margin_loss", [&] { triplet_margin_loss(x, y, y, 1.0, 0.0); });
  expect_error("triplet_margin_loss", [&] { triplet_margin_loss(zeros({2, 4, 5}), zeros({2, 4, 5}), zeros({2, 4, 5})); });
}

TEST(Losses, OutOfRangeClassIndexIsAnError) {
  array x = zeros({2, 3});
  // Evaluation reports the bad index instead of reading out of bounds or wrapping around.
  EXPECT_ANY_THROW(cross_entropy(x, array({0, 3}, {2})).eval());
  EXPECT_ANY_THROW(cross_entropy(x, array({0, -1}, {2})).eval());
  // ignore_index itself is fine anywhere; all ignored gives NaN under mean, as PyTorch.
  EXPECT_NEAR(cross_entropy(x, array({0, -100}, {2})).item<float>(), std::log(3.0), 1e-6);
  EXPECT_TRUE(std::isnan(cross_entropy(x, array({-100, -100}, {2})).item<float>()));
}

}  // namespace
}  // namespace alloy
