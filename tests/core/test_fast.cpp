// The fused ops against their compositions from plain ops, in every float dtype, and their
// gradients by finite differences.
#include <gtest/gtest.h>

#include "alloy/alloy.h"
#include "gradcheck.h"
#include "test_util.h"

namespace alloy {
namespace {

double tol_for(Dtype t) { return t == float64 ? 1e-10 : test::fused_tolerance(t); }

void expect_close(const array& got, const array& want, Dtype t, const std::string& what) {
  test::expect_close_to_composition(got, want, tol_for(t), what);
}

const Dtype kFloats[] = {float32, float16, bfloat16, float64};

TEST(Fast, RmsNormAndLayerNormMatchComposition) {
  for (Dtype t : kFloats) {
    array x = astype(random::normal({3, 5, 67}, float32, 0.5, 2.0, random::key(1)), t);
    array w = astype(random::normal({67}, float32, 1.0, 0.2, random::key(2)), t);
    array b = astype(random::normal({67}, float32, 0.0, 0.2, random::key(3)), t);
    expect_close(fast::rms_norm(x, w, 1e-5f), fast::composed::rms_norm(x, w, 1e-5f), t, "rms_norm");
    expect_close(fast::rms_norm(x, std::nullopt, 1e-5f), fast::composed::rms_norm(x, std::nullopt, 1e-5f), t,
                 "rms_norm without weight");
    expect_close(fast::layer_norm(x, w, b, 1e-5f), fast::composed::layer_norm(x, w, b, 1e-5f), t, "layer_norm");
    expect_close(fast::layer_norm(x, std::nullopt, b, 1e-5f), fast::composed::layer_norm(x, std::nullopt, b, 1e-5f),
                 t, "layer_norm without weight");
    // A transposed input goes through the same kernel after a copy.
    array xt = transpose(astype(random::normal({67, 4}, float32, 0.0, 1.0, random::key(4)), t));
    expect_close(fast::rms_norm(xt, w, 1e-6f), fast::composed::rms_norm(xt, w, 1e-6f), t, "rms_norm transposed");
  }
}

// The fused residual add and norm against add + rms_norm, and its gradient (both inputs and the
// weight) against the composition's.
TEST(Fast, RmsNormResidualMatchesAddThenNorm) {
  for (Dtype t : kFloats) {
    array x = astype(random::normal({3, 5, 67}, float32, 0.5, 2.0, random::key(11)), t);
    array r = astype(random::normal({3, 5, 67}, float32, 0.0, 1.0, random::key(12)), t);
    array w = astype(random::normal({67}, float32, 1.0, 0.2, random::key(13)), t);
    auto [sum, normed] = fast::rms_norm_residual(x, r, w, 1e-5f);
    EXPECT_TRUE(array_equal(sum, add(x, r))) << dtype_name(t);
    expect_close(normed, fast::composed::rms_norm(add(x, r), w, 1e-5f), t, "rms_norm_residual");
    auto [csum, cnormed] = fast::composed::rms_norm_residual(x, r, std::nullopt, 1e-5f);
    expect_close(fast::rms_norm_residual(x, r, std::nullopt, 1e-5f).second, cnormed, t, "without weight");
  }
  array x = random::normal({4, 16}, float32, 0.0, 1.0, random::key(14));
  array r = random::normal({4, 16}, float32, 0.0, 1.0, random::key(15));
  array w = random::normal({16}, float32, 1.0, 0.2, random::key(16));
  array g1 = random::normal({4, 16}, float32, 0.0, 1.0, random::key(17));
  array g2 = random::normal({4, 16}, float32, 0.0, 1.0, random::key(18));
  auto grads = [&](bool fused) {
    return vjp([&](const std::vector<array>& a) {
                 auto sn = fused ? fast::rms_norm_residual(a[0], a[1], a[2], 1e-5f)
                                 : fast::composed::rms_norm_residual(a[0], a[1], a[2], 1e-5f);
                 return std::vector<array>{sn.first, sn.second};
               },
               {x, r, w}, {g1, g2})
        .second;
  };
  auto got = grads(true), want = grads(false);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(allclose(got[i], want[i], 1e-5, 1e-6)) << "input " << i;
  // Only the normed output kept (a model's last layer drops the sum).
  array only_normed = fast::rms_norm_residual(x, r, w, 1e-5f).second;
  EXPECT_TRUE(allclose(only_normed, fast::composed::rms_norm(add(x, r), w, 1e-5f), 1e-5, 1e-6));
  EXPECT_THROW(fast::rms_norm_residual(x, ones({4, 15}), std::nullopt, 1e-5f), std::invalid_argument);
  EXPECT_THROW(fast::rms_norm_residual(x, astype(r, float16), std::nullopt, 1e-5f), std::invalid_argument);
}

TEST(Fast, RopeMatchesCompositionAndIdentityAtPositionZero) {
  for (Dtype t : kFloats) {
    array x = astype(random::normal({2, 3, 7, 16}, float32, 0.0, 1.0, random::key(5)), t);
    for (bool traditional : {false, true}) {
      for (int dims : {16, 8}) {
        std::string what = std::string("rope traditional=") + (traditional ? "1" : "0") + " dims=" + std::to_string(dims);
        expect_close(fast::rope(x, dims, traditional, 10000.0f, 1.0f, 5),
                     fast::composed::rope(x, dims, traditional, 10000.0f, 1.0f, 5), t, what);
      }
    }
  }
  // Position 0 rotates by angle 0.
  array x = random::normal({1, 1, 4});
  array y = fast::rope(x, 4, false, 10000.0f, 1.0f, 0);
  EXPECT_TRUE(allclose(slice(y, {0, 0, 0}, {1, 1, 4}), slice(x, {0, 0, 0}, {1, 1, 4}), 1e-6, 1e-6));
  // Half-split rotation of (a, b, c, d) at position 1 with base 1: angle 1 on both pairs.
  array v = array({1.0f, 2.0f, 3.0f, 4.0f}, {1, 1, 4});
  array r = fast::rope(v, 4, false, 1.0f, 1.0f, 1);
  float c = std::cos(1.0f), s = std::sin(1.0f);
  std::vector<float> want = {1 * c - 3 * s, 2 * c - 4 * s, 1 * s + 3 * c, 2 * s + 4 * c};
  auto got = r.to_vector<float>();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(got[i], want[i], 1e-5) << i;
}

TEST(Fast, AttentionMatchesComposition) {
  for (Dtype t : kFloats) {
    // Grouped-query heads: 4 query heads share 2 key/value heads.
    array q = astype(random::normal({2, 4, 9, 16}, float32, 0.0, 1.0, random::key(6)), t);
    array k = astype(random::normal({2, 2, 13, 16}, float32, 0.0, 1.0, random::key(7)), t);
    array v = astype(random::normal({2, 2, 13, 8}, float32, 0.0, 1.0, random::key(8)), t);
    float scale = 0.25f;
    expect_close(fast::scaled_dot_product_attention(q, k, v, scale),
                 fast::composed::scaled_dot_product_attention(q, k, v, scale), t, "sdpa");
    expect_close(fast::scaled_dot_product_attention(q, k, v, scale, std::nullopt, true),
                 fast::composed::scaled_dot_product_attention(q, k, v, scale, std::nullopt, true), t, "sdpa causal");
    array bool_mask = greater(random::uniform({9, 13}, float32, 0.0, 1.0, random::key(9)), array(0.3f));
    bool_mask = logical_or(bool_mask, expand_dims(equal(arange(13.0), array(0.0f)), 0));  // no empty rows
    expect_close(fast::scaled_dot_product_attention(q, k, v, scale, bool_mask),
                 fast::composed::scaled_dot_product_attention(q, k, v, scale, bool_mask), t, "sdpa bool mask");
    array add_mask = astype(random::normal({1, 4, 1, 13}, float32, 0.0, 1.0, random::key(10)), t);
    expect_close(fast::scaled_dot_product_attention(q, k, v, scale, add_mask),
                 fast::composed::scaled_dot_product_attention(q, k, v, scale, add_mask), t, "sdpa additive mask");
    // Single-token decode against a long cache.
    array q1 = slice(q, {0, 0, 8, 0}, {2, 4, 9, 16});
    expect_close(fast::scaled_dot_product_attention(q1, k, v, scale, std::nullopt, true),
                 fast::composed::scaled_dot_product_attention(q1, k, v, scale, std::nullopt, true), t, "sdpa decode");
  }
}

// RMSNorm's fused backward against the composition's gradient.
TEST(Fast, RmsNormGradientMatchesComposition) {
  for (Dtype t : {float32, bfloat16}) {
    for (int64_t d : {7, 96, 768}) {
      array x = astype(test::random_f64({3, 5, d}, -2, 2, 31), t);
      array w = astype(test::random_f64({d}, 0.5, 1.5, 32), t);
      array cot = astype(test::random_f64({3, 5, d}, -1, 1, 33), t);
      for (bool with_w : {true, false}) {
        auto run = [&](bool fused) {
          std::vector<array> primals{x};
          if (with_w) primals.push_back(w);
          return vjp([&](const std::vector<array>& a) {
                       std::optional<array> wt;
                       if (with_w) wt = a[1];
                       return std::vector<array>{fused ? fast::rms_norm(a[0], wt, 1e-5f)
                                                       : fast::composed::rms_norm(a[0], wt, 1e-5f)};
                     },
                     primals, {cot})
              .second;
        };
        auto got = run(true), want = run(false);
        EXPECT_EQ(got[0].primitive().name(), "rms_norm_grad");
        // bfloat16: the composition rounds its intermediate products, the kernel does not.
        const double tol = t == float32 ? 1e-5 : 3e-2;
        for (size_t i = 0; i < got.size(); ++i) {
          EXPECT_TRUE(allclose(astype(got[i], float32), astype(want[i], float32), tol, tol))
              << (i ? "dw" : "dx") << " " << t << " D=" << d << " weight " << with_w;
        }
      }
    }
  }
}

// An offset held in an array rotates as the same integer offset does; explicit frequencies (MLX's
// periods) rotate pair i by (offset + t) * scale / freqs[i], checked against angles in float64.
TEST(Fast, RopeWithArrayOffsetAndFrequencies) {
  for (Dtype t : kFloats) {
    array x = astype(random::normal({2, 3, 7, 16}, float32, 0.0, 1.0, random::key(6)), t);
    for (bool traditional : {false, true}) {
      std::string what = std::string("rope array offset traditional=") + (traditional ? "1" : "0");
      array want = fast::rope(x, 16, traditional, 10000.0f, 0.5f, 9);
      expect_close(fast::rope(x, 16, traditional, 10000.0f, 0.5f, array(int32_t(9))), want, t, what);
      expect_close(fast::composed::rope(x, 16, traditional, 10000.0f, 0.5f, array({int64_t(9)}, {1})), want, t,
                   what + " composed");
    }
  }
  const int64_t T = 5, half = 4;
  std::vector<float> periods = {1.0f, 3.5f, 40.0f, 900.0f};
  array x = random::normal({1, 2, T, 2 * half}, float32, 0.0, 1.0, random::key(7));
  array y = fast::rope(x, 2 * half, false, 10000.0f, 1.0f, array(int32_t(30)), array(periods, {half}));
  std::vector<float> xv = x.to_vector<float>(), yv = y.to_vector<float>();
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t p = 0; p < T; ++p) {
      for (int64_t i = 0; i < half; ++i) {
        double ang = double(30 + p) / periods[size_t(i)];
        size_t row = size_t((h * T + p) * 2 * half);
        double x1 = xv[row + i], x2 = xv[row + i + half];
        EXPECT_NEAR(yv[row + i], x1 * std::cos(ang) - x2 * std::sin(ang), 2e-5) << h << " " << p << " " << i;
        EXPECT_NEAR(yv[row + i + half], x1 * std::sin(ang) + x2 * std::cos(ang), 2e-5) << h << " " << p << " " << i;
      }
    }
  }
  expect_close(y, fast::composed::rope(x, 2 * half, false, 10000.0f, 1.0f, array(int32_t(30)), array(periods, {half})),
               float32, "rope freqs composed");
  EXPECT_THROW(fast::rope(x, 8, false, 1e4f, 1.0f, array({1, 2}, {2})), std::invalid_argument);
  EXPECT_THROW(fast::rope(x, 8, false, 1e4f, 1.0f, array(0.5f)), std::invalid_argument);
  EXPECT_THROW(fast::rope(x, 8, false, 1e4f, 1.0f, array(int32_t(0)), reshape(array(periods, {half}), {2, 2})),
               std::invalid_argument);
  // The gradient is the rotation by the opposite angle, as for an integer offset.
  array cot = random::normal(x.shape(), float32, 0.0, 1.0, random::key(8));
  auto grad = [&](bool as_array) {
    return vjp([&](const std::vector<array>& a) {
                 return std::vector<array>{as_array ? fast::rope(a[0], 8, true, 1e4f, 0.5f, array(int32_t(3)))
                                                    : fast::rope(a[0], 8, true, 1e4f, 0.5f, 3)};
               },
               {x}, {cot})
        .second[0];
  };
  EXPECT_TRUE(allclose(grad(true), grad(false), 1e-6, 1e-6));
}

// RoPE's gradient (the rotation by the opposite angle) against the composition's, float32.
TEST(Fast, RopeGradientMatchesComposition) {
  array x = astype(test::random_f64({2, 3, 5, 8}, -1, 1, 21), float32);
  array cot = astype(test::random_f64({2, 3, 5, 8}, -1, 1, 22), float32);
  for (bool traditional : {false, true}) {
    for (int dims : {8, 4}) {
      auto run = [&](bool fused) {
        return vjp([&](const std::vector<array>& a) {
                     return std::vector<array>{fused ? fast::rope(a[0], dims, traditional, 1e4f, 0.5f, 3)
                                                     : fast::composed::rope(a[0], dims, traditional, 1e4f, 0.5f, 3)};
                   },
                   {x}, {cot})
            .second[0];
      };
      array got = run(true);
      EXPECT_EQ(got.primitive().name(), "rope");
      EXPECT_TRUE(allclose(got, run(false), 1e-5, 1e-6)) << "traditional " << traditional << " dims " << dims;
    }
  }
}

// The fused backward (P recomputed from the forward's log-sum-exp) against the composition's
// gradient, float32, for every mask kind and grouped heads.
TEST(Fast, AttentionGradientMatchesComposition) {
  struct Case {
    int64_t tq, tk;
    int mask;  // 0 none, 1 causal, 2 boolean, 3 additive
  };
  for (Case c : {Case{5, 7, 0}, Case{7, 7, 1}, Case{3, 9, 1}, Case{6, 6, 2}, Case{4, 5, 3}, Case{600, 600, 1}}) {
    const int64_t d = c.tq > 100 ? 16 : 8;
    array q = astype(test::random_f64({2, 4, c.tq, d}, -1, 1, 11), float32);
    array k = astype(test::random_f64({2, 2, c.tk, d}, -1, 1, 12), float32);
    array v = astype(test::random_f64({2, 2, c.tk, d}, -1, 1, 13), float32);
    array cot = astype(test::random_f64({2, 4, c.tq, d}, -1, 1, 14), float32);
    std::optional<array> mask;
    // Boolean: every row keeps key 0, so no row is fully masked.
    array keep = logical_or(greater(test::random_f64({c.tq, c.tk}, 0, 1, 15), array(0.4)),
                            equal(arange(c.tk), array(int64_t(0))));
    if (c.mask == 2) mask = keep;
    if (c.mask == 3) mask = astype(test::random_f64({1, 4, c.tq, c.tk}, -2, 0, 16), float32);
    bool causal = c.mask == 1;
    auto run = [&](bool fused) {
      return vjp([&](const std::vector<array>& a) {
                   return std::vector<array>{fused ? fast::scaled_dot_product_attention(a[0], a[1], a[2], 0.3f, mask, causal)
                                                   : fast::composed::scaled_dot_product_attention(a[0], a[1], a[2], 0.3f,
                                                                                                  mask, causal)};
                 },
                 {q, k, v}, {cot})
          .second;
    };
    auto got = run(true), want = run(false);
    // The fused backward ran, except on the GPU (test_core under ALLOY_DEFAULT_DEVICE=gpu), whose
    // kernel takes 16-bit floats only: there the vjp is the composition's.
    const bool fused_backward = default_device().type == Device::cpu;
    ASSERT_EQ(got[0].primitive().name() == "scaled_dot_product_attention_grad", fused_backward)
        << got[0].primitive().name();
    const char* names[] = {"dq", "dk", "dv"};
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(allclose(got[i], want[i], 1e-4, 1e-5))
          << names[i] << " tq=" << c.tq << " tk=" << c.tk << " mask=" << c.mask;
    }
  }
  // An additive mask computed from a differentiated input gets its gradient (by the composition).
  array q = astype(test::random_f64({1, 2, 4, 8}, -1, 1, 17), float32);
  array m = astype(test::random_f64({4, 4}, -1, 0, 18), float32);
  auto g = grad(ScalarFn([&](const std::vector<array>& a) {
                  return sum(multiply(fast::scaled_dot_product_attention(a[0], a[0], a[0], 0.5f, a[1]), a[0]));
                }),
                {0, 1});
  auto gc = grad(ScalarFn([&](const std::vector<array>& a) {
                   return sum(multiply(fast::composed::scaled_dot_product_attention(a[0], a[0], a[0], 0.5f, a[1]), a[0]));
                 }),
                 {0, 1});
  auto gf = g({q, m}), gw = gc({q, m});
  EXPECT_TRUE(allclose(gf[0], gw[0], 1e-4, 1e-5));
  EXPECT_TRUE(allclose(gf[1], gw[1], 1e-4, 1e-5));
}

TEST(Fast, AdamUpdateMatchesComposition) {
  for (Dtype t : {float32, float64, bfloat16}) {
    auto arr = [&](uint64_t seed, double lo, double hi) {
      return astype(random::uniform({37, 19}, float32, lo, hi, random::key(seed)), t);
    };
    array p = arr(1, -1, 1), g = arr(2, -1, 1), m = arr(3, -0.1, 0.1), v = arr(4, 0, 0.01), vmax = arr(5, 0, 0.02);
    for (bool decoupled : {false, true}) {
      for (double wd : {0.0, 0.1}) {
        for (bool ams : {false, true}) {
          fast::AdamStep st{1e-2, 0.9, 0.999, 1e-8, wd, decoupled, 3};
          std::optional<array> mx;
          if (ams) mx = vmax;
          auto fused = fast::adam_update(p, g, m, v, mx, st);
          auto composed = fast::composed::adam_update(p, g, m, v, mx, st);
          ASSERT_EQ(fused.size(), ams ? 4u : 3u);
          for (size_t i = 0; i < fused.size(); ++i) {
            expect_close(fused[i], composed[i], t,
                         "adam_update output " + std::to_string(i) + (decoupled ? " decoupled" : " L2") +
                             (ams ? " amsgrad" : "") + " wd " + std::to_string(wd));
          }
        }
      }
    }
  }
  // Hand-computed first step of Adam: m = 0.1 g, v = 0.001 g^2, p -= lr * g / (|g| + eps').
  array p = array({1.0f, 2.0f}), g = array({0.5f, -0.25f});
  auto out = fast::adam_update(p, g, zeros({2}), zeros({2}), std::nullopt, {0.1, 0.9, 0.999, 0.0, 0.0, false, 1});
  EXPECT_TRUE(allclose(out[0], array({0.9f, 2.1f}), 1e-6, 1e-6)) << out[0];
  EXPECT_TRUE(allclose(out[1], array({0.05f, -0.025f}), 1e-6, 1e-7)) << out[1];
  EXPECT_THROW(fast::adam_update(p, g, zeros({3}), zeros({2}), std::nullopt, {0.1, 0.9, 0.999, 0, 0, false, 1}),
               std::invalid_argument);
  EXPECT_THROW(fast::adam_update(p, g, zeros({2}), zeros({2}), std::nullopt, {0.1, 0.9, 0.999, 0, 0, false, 0}),
               std::invalid_argument);
}

// The group form: one node for tensors of any shapes, equal to one call per tensor.
TEST(Fast, AdamUpdateGroupMatchesOneCallPerTensor) {
  for (bool ams : {false, true}) {
    std::vector<array> ps, gs, ms, vs, maxes;
    const Shape shapes[] = {{37, 19}, {5}, {0, 3}, {2, 3, 70000}};
    for (size_t i = 0; i < std::size(shapes); ++i) {
      auto arr = [&](uint64_t seed, double lo, double hi) {
        return random::uniform(shapes[i], float32, lo, hi, random::key(seed + 10 * i));
      };
      ps.push_back(arr(1, -1, 1));
      gs.push_back(arr(2, -1, 1));
      ms.push_back(arr(3, -0.1, 0.1));
      vs.push_back(arr(4, 0, 0.01));
      if (ams) maxes.push_back(arr(5, 0, 0.02));
    }
    fast::AdamStep st{1e-2, 0.9, 0.999, 1e-8, 0.1, true, 4};
    auto group = fast::adam_update(ps, gs, ms, vs, maxes, st);
    ASSERT_EQ(group.size(), ps.size());
    EXPECT_EQ(group[0][0].primitive().name(), "adam_update");
    EXPECT_EQ(&group[0][0].primitive(), &group[3][0].primitive());  // one node
    for (size_t i = 0; i < ps.size(); ++i) {
      std::optional<array> mx;
      if (ams) mx = maxes[i];
      auto one = fast::adam_update(ps[i], gs[i], ms[i], vs[i], mx, st);
      ASSERT_EQ(group[i].size(), one.size());
      for (size_t k = 0; k < one.size(); ++k) {
        EXPECT_TRUE(array_equal(group[i][k], one[k])) << "tensor " << i << " output " << k;
      }
    }
  }
  std::vector<array> two{zeros({2}), zeros({3})};
  fast::AdamStep st{0.1, 0.9, 0.999, 0, 0, false, 1};
  std::vector<array> one_grad{zeros({2})}, no_max;
  EXPECT_THROW(fast::adam_update(two, one_grad, two, two, no_max, st), std::invalid_argument);  // one grad
  std::vector<array> mixed{zeros({2}), zeros({2}, float64)}, none;
  EXPECT_THROW(fast::adam_update(mixed, mixed, mixed, mixed, none, st), std::invalid_argument);  // mixed dtypes
  EXPECT_TRUE(fast::adam_update(none, none, none, none, none, st).empty());
}

TEST(Fast, Gradients) {
  using test::gradcheck;
  array x = test::random_f64({3, 6}, -2, 2, 1);
  array w = test::random_f64({6}, 0.5, 1.5, 2);
  array b = test::random_f64({6}, -1, 1, 3);
  EXPECT_EQ(gradcheck([](const std::vector<array>& a) { return fast::rms_norm(a[0], a[1], 1e-5f); }, {x, w}), "");
  EXPECT_EQ(gradcheck([](const std::vector<array>& a) { return fast::layer_norm(a[0], a[1], a[2], 1e-5f); },
                      {x, w, b}),
            "");
  array xr = test::random_f64({1, 2, 3, 4}, -1, 1, 4);
  EXPECT_EQ(gradcheck([](const std::vector<array>& a) { return fast::rope(a[0], 4, false, 100.0f, 1.0f, 2); }, {xr}), "");
  EXPECT_EQ(gradcheck([](const std::vector<array>& a) { return fast::rope(a[0], 4, true, 100.0f, 1.0f, 2); }, {xr}), "");
  array q = test::random_f64({1, 2, 3, 4}, -1, 1, 5);
  array k = test::random_f64({1, 1, 5, 4}, -1, 1, 6);
  array v = test::random_f64({1, 1, 5, 2}, -1, 1, 7);
  EXPECT_EQ(gradcheck([](const std::vector<array>& a) {
              return fast::scaled_dot_product_attention(a[0], a[1], a[2], 0.5f, std::nullopt, true);
            },
                      {q, k, v}),
            "");
  // float32 forward runs the fused kernel; its gradient (from the composition) matches float64's.
  array x32 = astype(x, float32), w32 = astype(w, float32);
  auto g = grad(ScalarFn([](const std::vector<array>& a) { return sum(fast::rms_norm(a[0], a[1], 1e-5f)); }), {0, 1});
  auto g32 = g({x32, w32}), g64 = g({x, w});
  EXPECT_TRUE(allclose(g32[0], g64[0], 1e-4, 1e-5));
  EXPECT_TRUE(allclose(g32[1], g64[1], 1e-4, 1e-5));
}

TEST(Fast, BadInputs) {
  EXPECT_THROW(fast::rms_norm(ones({2, 3}), ones({4}), 1e-5f), std::invalid_argument);
  EXPECT_THROW(fast::rms_norm(ones({2, 3}, int32), std::nullopt, 1e-5f), std::invalid_argument);
  EXPECT_THROW(fast::rope(ones({2, 3, 8}), 5, false, 1e4f, 1.0f, 0), std::invalid_argument);
  EXPECT_THROW(fast::scaled_dot_product_attention(ones({1, 3, 2, 4}), ones({1, 2, 2, 4}), ones({1, 2, 2, 4}), 1.0f),
               std::invalid_argument);
  EXPECT_THROW(fast::scaled_dot_product_attention(ones({1, 2, 2, 4}), ones({1, 2, 2, 4}), ones({1, 2, 2, 4}), 1.0f,
                                                  ones({3, 3}, bool_)),
               std::invalid_argument);
}

}  // namespace
}  // namespace alloy
