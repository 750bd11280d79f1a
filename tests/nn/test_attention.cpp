// MultiHeadAttention against PyTorch's nn.MultiheadAttention (and, for grouped-query heads, a
// torch-op reference in torch_cases.py), masks, dropout, errors; RoPE against a direct formula.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "alloy/nn/nn.h"
#include "torch_reference.h"

namespace alloy {
namespace {

using test::all_close;
using test::torch_case;
using test::TorchCase;

// Output, input gradients (queries, keys, values) and parameter gradients against the case.
void expect_mha_matches(nn::MultiHeadAttention& mha, const std::string& name,
                        std::optional<array> mask = std::nullopt) {
  TorchCase c = torch_case(name);
  if (!mask && c.has("mask")) mask = c["mask"];
  test::expect_matches_torch(mha, c, [&](const std::vector<array>& in) { return mha(in[0], in[1], in[2], mask); });
}

TEST(MultiHeadAttention, MatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  nn::MultiHeadAttention plain(8, 2);
  expect_mha_matches(plain, "mha");
  nn::MultiHeadAttention no_bias(8, 2, std::nullopt, /*bias=*/false);
  expect_mha_matches(no_bias, "mha_nobias");
  nn::MultiHeadAttention kv_dims(8, 2, std::nullopt, true, /*key_input_dims=*/6, /*value_input_dims=*/5);
  expect_mha_matches(kv_dims, "mha_kvdim");
}

TEST(MultiHeadAttention, MasksMatchTorch) {
  ALLOY_REQUIRE_TORCH();
  nn::MultiHeadAttention additive(8, 2);  // (N, H, L, S) float mask
  expect_mha_matches(additive, "mha_additive_mask");
  nn::MultiHeadAttention boolean(8, 2);  // (L, S) bool, true = may attend
  expect_mha_matches(boolean, "mha_bool_mask");
  nn::MultiHeadAttention causal(8, 2);  // PyTorch's -inf causal mask vs ours
  expect_mha_matches(causal, "mha_causal", nn::MultiHeadAttention::create_additive_causal_mask(5, float64));
}

TEST(MultiHeadAttention, GroupedQueryMatchesReference) {
  ALLOY_REQUIRE_TORCH();
  nn::MultiHeadAttention gqa(8, 4, /*num_kv_heads=*/2);
  EXPECT_EQ(gqa.key_proj.weight.shape(), (Shape{4, 8}));  // 2 heads of 2
  EXPECT_EQ(gqa.value_proj.weight.shape(), (Shape{4, 8}));
  expect_mha_matches(gqa, "mha_gqa");
  nn::MultiHeadAttention gqa_masked(8, 4, 2);
  expect_mha_matches(gqa_masked, "mha_gqa_bool_mask");
  nn::MultiHeadAttention mqa(8, 4, 1);  // one key/value head; (N, 1, L, S) additive mask
  expect_mha_matches(mqa, "mha_mqa");
}

// float32 runs the fused attention kernel (float64 runs its composition): same values.
TEST(MultiHeadAttention, Float32FusedPathMatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  {
    TorchCase c = torch_case("mha_additive_mask");
    nn::MultiHeadAttention mha(8, 2);
    mha.load_weights(c.with_prefix("param/"));
    array out = mha(astype(c["input0"], float32), astype(c["input1"], float32), astype(c["input2"], float32),
                    astype(c["mask"], float32));
    EXPECT_EQ(out.dtype(), float32);
    EXPECT_TRUE(all_close(out, c["output"], 1e-4, 1e-5));
  }
  {
    TorchCase c = torch_case("mha_gqa_bool_mask");
    nn::MultiHeadAttention mha(8, 4, 2);
    mha.load_weights(c.with_prefix("param/"));
    array out = mha(astype(c["input0"], float32), astype(c["input1"], float32), astype(c["input2"], float32),
                    c["mask"]);
    EXPECT_TRUE(all_close(out, c["output"], 1e-4, 1e-5));
  }
}

// d/dqueries and d/dkeys of sum(out * w) by central differences, with grouped heads and a mask.
TEST(MultiHeadAttention, GradientsMatchFiniteDifferences) {
  nn::MultiHeadAttention mha(8, 4, 2);
  mha.set_dtype(float64);
  array q = random::normal({2, 3, 8}, float64, 0, 1, random::key(1));
  array k = random::normal({2, 5, 8}, float64, 0, 1, random::key(2));
  array v = random::normal({2, 5, 8}, float64, 0, 1, random::key(3));
  array w = random::normal({2, 3, 8}, float64, 0, 1, random::key(4));
  array mask = random::normal({2, 1, 3, 5}, float64, 0, 1, random::key(5));
  auto loss = [&](const std::vector<array>& p) { return std::vector<array>{sum(mha(p[0], p[1], p[2], mask) * w)}; };
  auto [outs, grads] = vjp(loss, {q, k, v}, {array(1.0, float64)});
  const double h = 1e-6;
  for (int which : {0, 1, 2}) {
    std::vector<array> primals{q, k, v};
    std::vector<double> base = primals[which].to_vector<double>(), g = grads[which].to_vector<double>();
    for (size_t i = 0; i < base.size(); i += 7) {
      std::vector<double> plus = base, minus = base;
      plus[i] += h, minus[i] -= h;
      std::vector<array> pp = primals, pm = primals;
      pp[which] = array(plus, primals[which].shape());
      pm[which] = array(minus, primals[which].shape());
      double fd = (loss(pp)[0].item<double>() - loss(pm)[0].item<double>()) / (2 * h);
      EXPECT_NEAR(g[i], fd, 1e-7 * (1 + std::abs(fd))) << "input " << which << " element " << i;
    }
  }
}

TEST(MultiHeadAttention, NamesShapesAndDescribe) {
  nn::MultiHeadAttention mha(16, 4, 2, true, 12, 10);
  EXPECT_EQ(mha.parameters().names(),
            (std::vector<std::string>{"query_proj.weight", "query_proj.bias", "key_proj.weight", "key_proj.bias",
                                      "value_proj.weight", "value_proj.bias", "out_proj.weight", "out_proj.bias"}));
  EXPECT_EQ(mha.key_proj.weight.shape(), (Shape{8, 12}));    // 2 kv heads of 4 from 12 features
  EXPECT_EQ(mha.value_proj.weight.shape(), (Shape{8, 10}));
  EXPECT_EQ(mha.out_proj.weight.shape(), (Shape{16, 16}));
  EXPECT_EQ(mha.describe(), "MultiHeadAttention(dims=16, num_heads=4, num_kv_heads=2, bias=true)");
  EXPECT_EQ(nn::MultiHeadAttention(8, 2, std::nullopt, false).describe(),
            "MultiHeadAttention(dims=8, num_heads=2, bias=false)");
  EXPECT_EQ(nn::MultiHeadAttention(8, 2).parameters().size(), 8u);
  EXPECT_EQ(nn::MultiHeadAttention(8, 2, std::nullopt, false).parameters().size(), 4u);
  array out = mha(ones({3, 2, 16}), ones({3, 7, 12}), ones({3, 7, 10}));
  EXPECT_EQ(out.shape(), (Shape{3, 2, 16}));
}

TEST(MultiHeadAttention, CausalMask) {
  const float lo = std::numeric_limits<float>::lowest();
  array m = nn::MultiHeadAttention::create_additive_causal_mask(3);
  EXPECT_EQ(m.dtype(), float32);
  EXPECT_EQ(m.to_vector<float>(), (std::vector<float>{0, lo, lo, 0, 0, lo, 0, 0, 0}));
  array h = nn::MultiHeadAttention::create_additive_causal_mask(2, float16);
  EXPECT_EQ(h.dtype(), float16);
  EXPECT_EQ(astype(h, float32).to_vector<float>(), (std::vector<float>{0, -65504.f, 0, 0}));
  EXPECT_TRUE(all(isfinite(nn::MultiHeadAttention::create_additive_causal_mask(4, bfloat16))).item<bool>());
  // Query i sees keys j <= i only: the first query's output is a function of the first key alone.
  nn::MultiHeadAttention mha(4, 2);
  array x = random::normal({1, 3, 4}, float32, 0, 1, random::key(9));
  array y = mha(x, x, x, nn::MultiHeadAttention::create_additive_causal_mask(3));
  array x2 = concatenate({slice(x, {0, 0, 0}, {1, 1, 4}), random::normal({1, 2, 4}, float32, 0, 1, random::key(10))}, 1);
  array y2 = mha(x2, x2, x2, nn::MultiHeadAttention::create_additive_causal_mask(3));
  EXPECT_TRUE(all_close(slice(y2, {0, 0, 0}, {1, 1, 4}), slice(y, {0, 0, 0}, {1, 1, 4})));
  EXPECT_FALSE(all_close(slice(y2, {0, 1, 0}, {1, 2, 4}), slice(y, {0, 1, 0}, {1, 2, 4})));
  EXPECT_THROW(nn::MultiHeadAttention::create_additive_causal_mask(0), std::invalid_argument);
  EXPECT_THROW(nn::MultiHeadAttention::create_additive_causal_mask(3, int32), std::invalid_argument);
}

TEST(MultiHeadAttention, DropoutOnlyInTraining) {
  array q = random::normal({2, 3, 8}, float32, 0, 1, random::key(11));
  array kv = random::normal({2, 4, 8}, float32, 0, 1, random::key(12));
  nn::MultiHeadAttention all_dropped(8, 2, std::nullopt, true, std::nullopt, std::nullopt, /*dropout=*/1.0);
  // Every attention weight dropped: what is left is out_proj's bias.
  array bias_only = broadcast_to(*all_dropped.out_proj.bias, {2, 3, 8});
  EXPECT_TRUE(all_close(all_dropped(q, kv, kv), bias_only));
  all_dropped.eval();
  EXPECT_FALSE(all_close(all_dropped(q, kv, kv), bias_only));

  nn::MultiHeadAttention half(8, 2, 1, true, std::nullopt, std::nullopt, 0.5);
  nn::MultiHeadAttention none(8, 2, 1);
  none.load_weights(half.state());
  half.eval();
  EXPECT_TRUE(all_close(half(q, kv, kv), none(q, kv, kv)));  // eval: no dropout
  half.train();
  array dropped = half(q, kv, kv);
  EXPECT_TRUE(all(isfinite(dropped)).item<bool>());
  EXPECT_FALSE(all_close(dropped, none(q, kv, kv)));
  // Training without dropout (the fused path) equals the module in eval mode.
  none.train();
  array trained = none(q, kv, kv);
  none.eval();
  EXPECT_TRUE(all_close(trained, none(q, kv, kv)));
}

TEST(MultiHeadAttention, Errors) {
  EXPECT_THROW(nn::MultiHeadAttention(0, 1), std::invalid_argument);
  EXPECT_THROW(nn::MultiHeadAttention(8, 3), std::invalid_argument);
  EXPECT_THROW(nn::MultiHeadAttention(8, 0), std::invalid_argument);
  EXPECT_THROW(nn::MultiHeadAttention(8, 4, 3), std::invalid_argument);  // 3 does not divide 4
  EXPECT_THROW(nn::MultiHeadAttention(8, 4, 0), std::invalid_argument);
  EXPECT_THROW(nn::MultiHeadAttention(8, 2, std::nullopt, true, 0), std::invalid_argument);
  EXPECT_THROW(nn::MultiHeadAttention(8, 2, std::nullopt, true, std::nullopt, -1), std::invalid_argument);
  EXPECT_THROW(nn::MultiHeadAttention(8, 2, std::nullopt, true, std::nullopt, std::nullopt, 1.5), std::invalid_argument);
  try {
    nn::MultiHeadAttention(8, 3);
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[MultiHeadAttention] num_heads"), std::string::npos) << e.what();
  }
  nn::MultiHeadAttention mha(8, 2);
  array x = ones({2, 3, 8});
  EXPECT_THROW(mha(ones({3, 8}), x, x), std::invalid_argument);          // not (N, L, E)
  EXPECT_THROW(mha(ones({2, 3, 6}), x, x), std::invalid_argument);       // wrong features
  EXPECT_THROW(mha(x, ones({2, 3, 4}), x), std::invalid_argument);
  EXPECT_THROW(mha(x, ones({1, 3, 8}), ones({1, 3, 8})), std::invalid_argument);  // batch sizes differ
  EXPECT_THROW(mha(x, ones({2, 4, 8}), x), std::invalid_argument);       // keys and values lengths differ
  EXPECT_THROW(mha(ones({2, 3, 8}, int32), x, x), std::invalid_argument);
  EXPECT_THROW(mha(x, x, x, ones({3, 3}, int32)), std::invalid_argument);  // mask dtype
  EXPECT_THROW(mha(x, x, x, ones({3, 4})), std::invalid_argument);         // does not broadcast to (2, 2, 3, 3)
  EXPECT_THROW(mha(x, x, x, ones({3, 2, 3, 3})), std::invalid_argument);
  EXPECT_THROW(mha(x, x, x, ones({1, 2, 2, 3, 3})), std::invalid_argument);
  try {
    mha(x, x, x, ones({3, 4}));
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("does not broadcast to the scores (2, 2, 3, 3)"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(mha(x, x, x, ones({2, 1, 1, 3}, bool_)).shape(), (Shape{2, 3, 8}));  // a key padding mask
}

// ---------- RoPE ----------

// The rotation written out: pair (a, b) of position t turns by (offset + t) * scale * base^(-2i/dims).
std::vector<double> rope_reference(const array& x, int dims, bool traditional, double base, double scale, int offset) {
  std::vector<double> v = astype(x, float64).to_vector<double>();
  const int64_t D = x.shape(-1), L = x.shape(-2), rows = int64_t(v.size()) / D;
  for (int64_t r = 0; r < rows; ++r) {
    double* row = v.data() + r * D;
    const double pos = double(offset + r % L) * scale;
    for (int i = 0; i < dims / 2; ++i) {
      const double theta = pos * std::pow(base, -2.0 * i / dims);
      const int a = traditional ? 2 * i : i, b = traditional ? 2 * i + 1 : i + dims / 2;
      const double x1 = row[a], x2 = row[b];
      row[a] = x1 * std::cos(theta) - x2 * std::sin(theta);
      row[b] = x1 * std::sin(theta) + x2 * std::cos(theta);
    }
  }
  return v;
}

TEST(RoPE, MatchesFormula) {
  array x = random::normal({2, 3, 7, 10}, float32, 0, 1, random::key(20));
  struct Case {
    int dims;
    bool traditional;
    double base, scale;
    int offset;
  };
  for (const Case& c : {Case{10, false, 10000, 1, 0}, Case{10, true, 10000, 1, 0}, Case{6, false, 500, 0.5, 3},
                        Case{6, true, 500, 0.5, 3}, Case{4, false, 10000, 2, 100}}) {
    nn::RoPE rope(c.dims, c.traditional, c.base, c.scale);
    std::vector<double> ref = rope_reference(x, c.dims, c.traditional, c.base, c.scale, c.offset);
    array expected(ref, x.shape());
    array y = rope(x, c.offset);
    EXPECT_EQ(y.dtype(), float32);
    EXPECT_TRUE(all_close(y, expected, 1e-5, 2e-5)) << rope.describe() << " offset " << c.offset;
    // float64 runs the composition, whose frequencies are float32 constants.
    EXPECT_TRUE(all_close(rope(astype(x, float64), c.offset), expected, 1e-6, 1e-6)) << rope.describe();
  }
  // Dimensions past `dims` pass through.
  array y = nn::RoPE(4)(x, 2);
  EXPECT_TRUE(array_equal(slice(y, {0, 0, 0, 4}, {2, 3, 7, 10}), slice(x, {0, 0, 0, 4}, {2, 3, 7, 10})));
  // An offset continues the positions of a longer sequence (a KV cache's decoding step).
  nn::RoPE rope(10);
  array tail = slice(x, {0, 0, 5, 0}, {2, 3, 7, 10});
  EXPECT_TRUE(all_close(rope(tail, 5), slice(rope(x), {0, 0, 5, 0}, {2, 3, 7, 10}), 1e-5, 1e-5));
  EXPECT_TRUE(array_equal(nn::RoPE(10).forward(x), rope(x, 0)));
}

// A rotation is linear and orthogonal: <vjp(c), x> = <c, rope(x)> and the norm of each pair stays.
TEST(RoPE, GradientIsTheTransposedRotation) {
  array x = random::normal({3, 5, 8}, float64, 0, 1, random::key(21));
  array c = random::normal({3, 5, 8}, float64, 0, 1, random::key(22));
  nn::RoPE rope(8, false, 10000, 1);
  auto [outs, grads] = vjp([&](const std::vector<array>& p) { return std::vector<array>{rope(p[0], 2)}; }, {x}, {c});
  EXPECT_NEAR(sum(grads[0] * x).item<double>(), sum(c * outs[0]).item<double>(), 1e-10);
  EXPECT_TRUE(all_close(sum(square(outs[0]), -1), sum(square(x), -1), 1e-10, 1e-12));
  // The transpose of a rotation by theta is the rotation by -theta: rope with scale -1.
  EXPECT_TRUE(all_close(grads[0], nn::RoPE(8, false, 10000, -1)(c, 2), 1e-6, 1e-6));
}

TEST(RoPE, Errors) {
  EXPECT_THROW(nn::RoPE(0), std::invalid_argument);
  EXPECT_THROW(nn::RoPE(5), std::invalid_argument);
  EXPECT_THROW(nn::RoPE(4, false, 0.0), std::invalid_argument);
  EXPECT_THROW(nn::RoPE(4, false, 10000, INFINITY), std::invalid_argument);
  nn::RoPE rope(8);
  EXPECT_THROW(rope(ones({8})), std::invalid_argument);         // needs (..., L, D)
  EXPECT_THROW(rope(ones({3, 6})), std::invalid_argument);      // D < dims
  EXPECT_THROW(rope(ones({3, 8}, int32)), std::invalid_argument);
  EXPECT_THROW(rope(ones({3, 8}), -1), std::invalid_argument);
  EXPECT_EQ(rope.describe(), "RoPE(8, traditional=false, base=10000, scale=1)");
  EXPECT_TRUE(rope.parameters().empty());
}

}  // namespace
}  // namespace alloy
