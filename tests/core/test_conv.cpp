// Convolutions against a direct double-precision loop written here (any rank, every parameter),
// spot values computed with NumPy (PyTorch's conventions), float64 finite-difference gradient
// checks of input and weight, and the error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "alloy/alloy.h"
#include "test_util.h"

using namespace alloy;

namespace {
using test::expect_error;

struct ConvParams {
  std::vector<int> stride, lo, hi, kdil, idil;
  int groups = 1;
  bool flip = false;
};

std::vector<double> random_values(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

array random_array(const Shape& shape, uint32_t seed, Dtype dtype = float32) {
  return astype(array(random_values(shape_size(shape), seed), shape), dtype);
}

// Row-major unravel of `flat` in `shape`.
std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (int i = int(shape.size()) - 1; i >= 0; --i) {
    idx[i] = flat % shape[i];
    flat /= shape[i];
  }
  return idx;
}

int64_t ravel(const std::vector<int64_t>& idx, const Shape& shape) {
  int64_t f = 0;
  for (size_t i = 0; i < shape.size(); ++i) f = f * shape[i] + idx[i];
  return f;
}

// The definition of conv_general, one output element at a time.
std::vector<double> reference_conv(const std::vector<double>& x, const Shape& xs, const std::vector<double>& w,
                                   const Shape& wsh, const ConvParams& p, Shape& out_shape) {
  int d = int(xs.size()) - 2;
  out_shape = {xs[0]};
  for (int i = 0; i < d; ++i) {
    int64_t dil = (xs[1 + i] - 1) * p.idil[i] + 1;
    int64_t padded = dil + p.lo[i] + p.hi[i], kernel = (wsh[1 + i] - 1) * p.kdil[i] + 1;
    out_shape.push_back((padded - kernel) / p.stride[i] + 1);
  }
  out_shape.push_back(wsh[0]);
  int64_t c_out = wsh[0], cg = wsh.back(), og = c_out / p.groups;
  Shape kshape(wsh.begin() + 1, wsh.end() - 1);
  int64_t kpos = int64_t(shape_size(kshape));
  std::vector<double> out(shape_size(out_shape));
  for (size_t e = 0; e < out.size(); ++e) {
    auto oi = unravel(int64_t(e), out_shape);
    int64_t o = oi.back(), g = o / og;
    double acc = 0;
    for (int64_t kp = 0; kp < kpos; ++kp) {
      auto k = unravel(kp, kshape);
      std::vector<int64_t> xi{oi[0]};
      bool hit = true;
      for (int i = 0; i < d && hit; ++i) {
        int64_t j = oi[1 + i] * p.stride[i] + k[i] * p.kdil[i] - p.lo[i];
        hit = j >= 0 && j < (xs[1 + i] - 1) * p.idil[i] + 1 && j % p.idil[i] == 0;
        xi.push_back(j / p.idil[i]);
      }
      if (!hit) continue;
      xi.push_back(0);
      std::vector<int64_t> wi{o};
      for (int i = 0; i < d; ++i) wi.push_back(p.flip ? kshape[i] - 1 - k[i] : k[i]);
      wi.push_back(0);
      for (int64_t c = 0; c < cg; ++c) {
        xi.back() = g * cg + c;
        wi.back() = c;
        acc += x[ravel(xi, xs)] * w[ravel(wi, wsh)];
      }
    }
    out[e] = acc;
  }
  return out;
}

// PyTorch's ConvTranspose by its scatter definition, with our weight layout (C_out, k..., C_in/g).
std::vector<double> reference_conv_transpose(const std::vector<double>& x, const Shape& xs,
                                             const std::vector<double>& w, const Shape& wsh,
                                             std::vector<int> stride, std::vector<int> pad, std::vector<int> dil,
                                             std::vector<int> opad, int groups, Shape& out_shape) {
  int d = int(xs.size()) - 2;
  out_shape = {xs[0]};
  for (int i = 0; i < d; ++i) {
    out_shape.push_back((xs[1 + i] - 1) * stride[i] - 2 * pad[i] + dil[i] * (wsh[1 + i] - 1) + opad[i] + 1);
  }
  out_shape.push_back(wsh[0]);
  int64_t cg = wsh.back(), og = wsh[0] / groups;
  Shape kshape(wsh.begin() + 1, wsh.end() - 1);
  std::vector<double> out(shape_size(out_shape), 0.0);
  for (size_t e = 0; e < x.size(); ++e) {
    auto xi = unravel(int64_t(e), xs);
    int64_t c = xi.back(), g = c / cg;
    for (int64_t ol = 0; ol < og; ++ol) {
      int64_t o = g * og + ol;
      for (size_t kp = 0; kp < shape_size(kshape); ++kp) {
        auto k = unravel(int64_t(kp), kshape);
        std::vector<int64_t> ti{xi[0]};
        bool inside = true;
        for (int i = 0; i < d; ++i) {
          int64_t t = xi[1 + i] * stride[i] + k[i] * dil[i] - pad[i];
          inside = inside && t >= 0 && t < out_shape[1 + i];
          ti.push_back(t);
        }
        if (!inside) continue;
        ti.push_back(o);
        std::vector<int64_t> wi{o};
        wi.insert(wi.end(), k.begin(), k.end());
        wi.push_back(c % cg);
        out[ravel(ti, out_shape)] += x[e] * w[ravel(wi, wsh)];
      }
    }
  }
  return out;
}

void expect_close(array got, const std::vector<double>& want, const Shape& want_shape, double tol) {
  ASSERT_EQ(got.shape(), want_shape);
  auto g = astype(got, float64).to_vector<double>();
  double scale = 1.0;
  for (double v : want) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(g[i], want[i], tol * scale) << "element " << i;
  }
}

// One conv_general case: alloy against the reference loop.
void check_general(const Shape& xs, const Shape& wsh, const ConvParams& p, Dtype dtype = float32,
                   double tol = 1e-5) {
  array x = random_array(xs, 1, dtype), w = random_array(wsh, 2, dtype);
  // The reference sees the values as rounded to `dtype`.
  auto xv = astype(x, float64).to_vector<double>(), wv = astype(w, float64).to_vector<double>();
  Shape out_shape;
  auto want = reference_conv(xv, xs, wv, wsh, p, out_shape);
  array y = conv_general(x, w, p.stride, p.lo, p.hi, p.kdil, p.idil, p.groups, p.flip);
  EXPECT_EQ(y.dtype(), dtype);
  expect_close(y, want, out_shape, tol);
}

// Central-difference check of d sum(f(x, w) * r) / d{x, w} and of the jvp, in float64.
void gradcheck(const std::function<array(const array&, const array&)>& f, const Shape& xs, const Shape& wsh) {
  array x = random_array(xs, 3, float64), w = random_array(wsh, 4, float64);
  array y0 = f(x, w);
  array r = random_array(y0.shape(), 5, float64);
  auto loss = [&](const std::vector<array>& a) { return sum(multiply(f(a[0], a[1]), r)); };
  auto grads = grad(ScalarFn(loss), {0, 1})({x, w});
  const double eps = 1e-6;
  for (int k = 0; k < 2; ++k) {
    std::vector<array> args{x, w};
    auto base = args[k].to_vector<double>();
    auto g = grads[k].to_vector<double>();
    ASSERT_EQ(g.size(), base.size());
    for (size_t i = 0; i < base.size(); ++i) {
      auto at = [&](double delta) {
        auto v = base;
        v[i] += delta;
        std::vector<array> a = args;
        a[k] = array(v, args[k].shape());
        return loss(a).item<double>();
      };
      double numeric = (at(eps) - at(-eps)) / (2 * eps);
      ASSERT_NEAR(g[i], numeric, 1e-6 * std::max(1.0, std::abs(numeric)))
          << (k == 0 ? "input" : "weight") << " element " << i;
    }
  }
  // jvp: bilinear, so (f(x + h tx, w + h tw) - f(x - h tx, w - h tw)) / 2h is exact up to rounding.
  array tx = random_array(xs, 6, float64), tw = random_array(wsh, 7, float64);
  auto [outs, tans] = jvp([&](const std::vector<array>& a) { return std::vector<array>{f(a[0], a[1])}; }, {x, w},
                          {tx, tw});
  array h(1e-3);
  array numeric = divide(subtract(f(add(x, multiply(h, tx)), add(w, multiply(h, tw))),
                                  f(subtract(x, multiply(h, tx)), subtract(w, multiply(h, tw)))),
                         array(2e-3));
  EXPECT_TRUE(allclose(tans[0], numeric, 1e-6, 1e-8));
}

}  // namespace

TEST(Conv, Conv1dAgainstReference) {
  // (N, L, C_in) x (C_out, K, C_in / g)
  check_general({2, 11, 4}, {6, 3, 4}, {{1}, {0}, {0}, {1}, {1}, 1, false});
  check_general({2, 11, 4}, {6, 3, 4}, {{2}, {1}, {1}, {1}, {1}, 1, false});
  check_general({2, 11, 4}, {6, 3, 4}, {{1}, {2}, {2}, {3}, {1}, 1, false});
  check_general({2, 11, 4}, {6, 3, 2}, {{3}, {1}, {1}, {2}, {1}, 2, false});
  check_general({1, 9, 6}, {6, 4, 1}, {{1}, {3}, {3}, {1}, {1}, 6, false});  // depthwise
  // conv1d is conv_general with symmetric padding.
  array x = random_array({2, 11, 4}, 8), w = random_array({6, 3, 2}, 9);
  EXPECT_TRUE(allclose(conv1d(x, w, 2, 1, 2, 2), conv_general(x, w, {2}, {1}, {1}, {2}, {1}, 2), 0, 0));
}

TEST(Conv, Conv2dAgainstReference) {
  check_general({2, 7, 8, 3}, {5, 3, 3, 3}, {{1, 1}, {0, 0}, {0, 0}, {1, 1}, {1, 1}, 1, false});
  check_general({2, 7, 8, 3}, {5, 3, 2, 3}, {{2, 1}, {1, 0}, {1, 2}, {1, 2}, {1, 1}, 1, false});
  check_general({1, 9, 9, 4}, {6, 3, 3, 2}, {{2, 2}, {1, 1}, {1, 1}, {2, 2}, {1, 1}, 2, false});
  check_general({2, 5, 6, 4}, {4, 1, 1, 4}, {{1, 1}, {0, 0}, {0, 0}, {1, 1}, {1, 1}, 1, false});  // 1x1
  check_general({2, 5, 6, 4}, {6, 1, 1, 2}, {{1, 1}, {0, 0}, {0, 0}, {1, 1}, {1, 1}, 2, false});  // grouped 1x1
  array x = random_array({1, 9, 9, 4}, 10), w = random_array({6, 3, 3, 2}, 11);
  EXPECT_TRUE(allclose(conv2d(x, w, {2, 2}, {1, 1}, {2, 2}, 2),
                       conv_general(x, w, {2, 2}, {1, 1}, {1, 1}, {2, 2}, {1, 1}, 2), 0, 0));
}

TEST(Conv, GeneralInputDilationFlipAnd3d) {
  check_general({2, 5, 3}, {4, 3, 3}, {{1}, {2}, {1}, {1}, {3}, 1, true});
  check_general({1, 4, 5, 2}, {3, 2, 3, 2}, {{2, 1}, {1, 2}, {0, 1}, {2, 1}, {2, 3}, 1, true});
  check_general({2, 4, 5, 3, 4}, {4, 2, 3, 2, 2}, {{1, 2, 1}, {1, 0, 1}, {0, 1, 1}, {1, 1, 2}, {1, 2, 1}, 2, false});
  check_general({1, 3, 4, 3, 2}, {2, 2, 2, 2, 2}, {{1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1}, {2, 1, 2}, 1, true});
}

TEST(Conv, StridedAndBroadcastLayouts) {
  // A transposed view and a sliced view of the input give the same result as a dense copy.
  array base = random_array({2, 6, 9, 4}, 12);
  array xt = transpose(transpose(base, {0, 2, 1, 3}), {0, 2, 1, 3});
  array xs = slice(random_array({2, 12, 9, 4}, 13), {0, 0, 0, 0}, {2, 12, 9, 4}, {1, 2, 1, 1});
  array w = random_array({5, 3, 3, 4}, 14);
  for (array x : {xt, xs, transpose(random_array({2, 4, 9, 6}, 15), {0, 3, 2, 1})}) {
    array dense = copy(x);
    EXPECT_TRUE(allclose(conv2d(x, w, {1, 2}, {1, 1}), conv2d(dense, w, {1, 2}, {1, 1}), 1e-6, 1e-6));
  }
  // A transposed weight view.
  array wt = transpose(random_array({4, 3, 3, 5}, 16), {3, 1, 2, 0});
  EXPECT_TRUE(allclose(conv2d(xt, wt), conv2d(xt, copy(wt)), 1e-6, 1e-6));
}

TEST(Conv, LargeChunkedIm2col) {
  // 8192 output rows x 576 columns of float32 exceeds the 16 MiB column buffer: several chunks.
  Shape xs{2, 64, 64, 64}, wsh{8, 3, 3, 64};
  array x = random_array(xs, 17), w = random_array(wsh, 18);
  array y = conv2d(x, w, {1, 1}, {1, 1});
  ASSERT_EQ(y.shape(), (Shape{2, 64, 64, 8}));
  auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  auto yv = y.to_vector<float>();
  // Spot-check rows across the whole output, edges included.
  for (int64_t r : {int64_t(0), int64_t(63), int64_t(64 * 31 + 5), int64_t(4095), int64_t(4096), int64_t(8191)}) {
    int64_t n = r / 4096, i = (r / 64) % 64, j = r % 64;
    for (int64_t o = 0; o < 8; ++o) {
      double acc = 0;
      for (int a = 0; a < 3; ++a) {
        for (int b = 0; b < 3; ++b) {
          int64_t ii = i + a - 1, jj = j + b - 1;
          if (ii < 0 || ii >= 64 || jj < 0 || jj >= 64) continue;
          for (int c = 0; c < 64; ++c) acc += xv[((n * 64 + ii) * 64 + jj) * 64 + c] * wv[((o * 3 + a) * 3 + b) * 64 + c];
        }
      }
      EXPECT_NEAR(yv[r * 8 + o], acc, 1e-4) << "row " << r << " channel " << o;
    }
  }
}

TEST(Conv, NumpySpotValues) {
  // NumPy: x = ((arange(50) % 7) - 3).reshape(1, 5, 5, 2) / 4,
  // w = ((arange(54) % 5) - 2).reshape(3, 3, 3, 2) / 3, cross-correlation, stride 2, padding 1.
  std::vector<float> xv(50), wv(54);
  for (int i = 0; i < 50; ++i) xv[i] = float((i % 7) - 3) / 4.0f;
  for (int i = 0; i < 54; ++i) wv[i] = float((i % 5) - 2) / 3.0f;
  array y = conv2d(array(xv, {1, 5, 5, 2}), array(wv, {3, 3, 3, 2}), {2, 2}, {1, 1});
  std::vector<double> want{-0.75, 0.0833333333, 0.0833333333, 0.4166666667, -1.4166666667, 0.9166666667,
                           -0.75, 1.5, -0.8333333333, -0.1666666667, -0.5833333333, 1.0833333333,
                           0.1666666667, 1.0833333333, -0.9166666667, -0.6666666667, 0.1666666667, 0.1666666667,
                           1.1666666667, -0.4166666667, -0.3333333333, -0.9166666667, 0.4166666667, -0.3333333333,
                           0.1666666667, -0.8333333333, 1.5};
  expect_close(y, want, {1, 3, 3, 3}, 1e-6);

  // Grouped and dilated: x2 = ((arange(144) % 11) - 5).reshape(1, 6, 6, 4) / 8,
  // w2 = ((arange(32) % 7) - 3).reshape(4, 2, 2, 2) / 5, dilation 2, groups 2; first 16 values.
  std::vector<float> x2(144), w2(32);
  for (int i = 0; i < 144; ++i) x2[i] = float((i % 11) - 5) / 8.0f;
  for (int i = 0; i < 32; ++i) w2[i] = float((i % 7) - 3) / 5.0f;
  array y2 = conv2d(array(x2, {1, 6, 6, 4}), array(w2, {4, 2, 2, 2}), {1, 1}, {0, 0}, {2, 2}, 2);
  ASSERT_EQ(y2.shape(), (Shape{1, 4, 4, 4}));
  std::vector<double> want2{0.4, 0.85, 0., -0.3, 0.375, 0.375, 0.45, -0.3, -0.75, -1.2, 0.35, 0.525, 0.325, 0.8, -0.3, -0.85};
  auto got2 = y2.to_vector<float>();
  for (size_t i = 0; i < want2.size(); ++i) EXPECT_NEAR(got2[i], want2[i], 1e-6);

  // ConvTranspose1d (PyTorch definition), stride 2, padding 1, output_padding 1:
  // x3 = (arange(6) - 2).reshape(1, 3, 2) / 2; PyTorch weight wt = ((arange(18) % 4) - 1).reshape(2, 3, 3) / 2
  // (C_in, C_out, K), which is ours as wt.transpose(1, 2, 0) (C_out, K, C_in).
  std::vector<float> x3{-1, -0.5, 0, 0.5, 1, 1.5};
  std::vector<float> w3{-0.5, 0, 0, 0.5, 0.5, 1, 1, -0.5, -0.5, 0, 0, 0.5, 0.5, 1, 1, -0.5, -0.5, 0};
  array y3 = conv_transpose1d(array(x3, {1, 3, 2}), array(w3, {3, 3, 2}), 2, 1, 1, 1);
  std::vector<double> want3{-0.25, 0.5, -0.75, -1, -0.5, 1, 0.25, 0, -0.25, 0, 0.5, 2, 0.75, -0.5, 0.25, 2, 0.75, -0.5};
  expect_close(y3, want3, {1, 6, 3}, 1e-6);
}

TEST(Conv, TransposedAgainstReference) {
  struct Case {
    Shape xs, wsh;
    std::vector<int> stride, pad, dil, opad;
    int groups;
  };
  std::vector<Case> cases{
      {{2, 5, 4}, {3, 3, 4}, {1}, {0}, {1}, {0}, 1},
      {{2, 5, 4}, {3, 3, 4}, {2}, {1}, {1}, {1}, 1},
      {{2, 5, 4}, {6, 3, 2}, {3}, {2}, {2}, {2}, 2},
      {{1, 4, 2}, {2, 2, 2}, {1}, {2}, {1}, {0}, 1},  // padding > dilation * (k - 1): a crop
      {{2, 4, 3, 4}, {6, 3, 2, 2}, {2, 1}, {1, 0}, {1, 2}, {1, 0}, 2},
      {{1, 3, 4, 2}, {3, 2, 3, 2}, {2, 3}, {0, 1}, {1, 1}, {0, 2}, 1},
  };
  for (auto& c : cases) {
    array x = random_array(c.xs, 20), w = random_array(c.wsh, 21);
    Shape out_shape;
    auto want = reference_conv_transpose(x.to_vector<double>(), c.xs, w.to_vector<double>(), c.wsh, c.stride, c.pad,
                                         c.dil, c.opad, c.groups, out_shape);
    array y = c.xs.size() == 3
                  ? conv_transpose1d(x, w, c.stride[0], c.pad[0], c.dil[0], c.opad[0], c.groups)
                  : conv_transpose2d(x, w, {c.stride[0], c.stride[1]}, {c.pad[0], c.pad[1]}, {c.dil[0], c.dil[1]},
                                     {c.opad[0], c.opad[1]}, c.groups);
    expect_close(y, want, out_shape, 1e-5);
  }
}

TEST(Conv, TransposedIsTheAdjointOfConv) {
  // conv_transpose(y, W) is the vjp of conv(., W') w.r.t. its input, with W' the per-group
  // channel swap of W: (C_out, k, C_in/g) -> (C_in, k, C_out/g).
  int g = 2;
  array w = random_array({4, 3, 6}, 22, float64);  // (C_out_t = 4, K, C_in_t / g = 6): C_in_t = 12
  array wc = reshape(transpose(reshape(w, {g, 2, 3, 6}), {0, 3, 2, 1}), {12, 3, 2});
  array x = random_array({2, 9, 4}, 23, float64);  // conv input: 4 channels = transposed conv's output
  array y = random_array({2, 5, 12}, 24, float64);  // conv output (stride 2, padding 1): 5 positions
  auto f = [&](const array& in) { return conv1d(in, wc, 2, 1, 1, g); };
  auto [out, dx] = vjp(std::function<array(const array&)>(f), x, y);
  ASSERT_EQ(out.shape(), (Shape{2, 5, 12}));
  EXPECT_TRUE(allclose(conv_transpose1d(y, w, 2, 1, 1, 0, g), dx, 1e-10, 1e-12));
}

TEST(Conv, Float16AndBfloat16) {
  check_general({2, 7, 6, 4}, {6, 3, 3, 2}, {{2, 1}, {1, 1}, {1, 1}, {1, 2}, {1, 1}, 2, false}, float16, 1e-2);
  check_general({2, 9, 4}, {3, 3, 4}, {{1}, {1}, {1}, {1}, {2}, 1, true}, float16, 1e-2);
  check_general({2, 7, 6, 4}, {6, 3, 3, 2}, {{1, 1}, {0, 0}, {0, 0}, {1, 1}, {1, 1}, 2, false}, bfloat16, 2e-2);
  // Mixed dtypes promote: float16 input with a float32 weight computes in float32.
  array x = random_array({1, 5, 3}, 25, float16), w = random_array({2, 2, 3}, 26);
  EXPECT_EQ(conv1d(x, w).dtype(), float32);
}

TEST(Conv, Conv1dGradients) {
  // stride 2, padding 1, dilation 2, groups 2
  gradcheck([](const array& x, const array& w) { return conv1d(x, w, 2, 1, 2, 2); }, {2, 9, 4}, {6, 3, 2});
}

TEST(Conv, Conv2dGradients) {
  gradcheck([](const array& x, const array& w) { return conv2d(x, w, {2, 2}, {1, 1}, {2, 2}, 2); }, {2, 7, 6, 4},
            {4, 3, 2, 2});
  gradcheck([](const array& x, const array& w) { return conv2d(x, w, {1, 2}, {3, 0}); }, {1, 4, 5, 2}, {3, 2, 2, 2});
}

TEST(Conv, ConvTranspose2dGradients) {
  gradcheck([](const array& x, const array& w) { return conv_transpose2d(x, w, {2, 2}, {1, 1}, {1, 1}, {1, 1}, 2); },
            {1, 3, 4, 4}, {6, 3, 2, 2});
  // padding larger than the kernel reach (negative internal padding).
  gradcheck([](const array& x, const array& w) { return conv_transpose1d(x, w, 3, 2, 1, 1); }, {2, 4, 3}, {2, 2, 3});
}

TEST(Conv, GeneralGradients) {
  // Input dilation, flip, asymmetric padding, 3-d.
  gradcheck([](const array& x, const array& w) { return conv_general(x, w, {2}, {2}, {0}, {1}, {2}, 1, true); },
            {1, 5, 2}, {3, 3, 2});
  gradcheck(
      [](const array& x, const array& w) {
        return conv_general(x, w, {1, 2, 1}, {1, 0, 1}, {0, 1, 0}, {1, 1, 2}, {2, 1, 1}, 2, false);
      },
      {1, 3, 4, 3, 2}, {2, 2, 2, 2, 1});
}

TEST(Conv, SecondOrderGradient) {
  // d/dx of (d/dw sum(conv(x, w)^2)) runs convolutions of the vjp rules again.
  array x = random_array({1, 6, 2}, 27, float64), w = random_array({3, 3, 2}, 28, float64);
  auto inner = [&](const array& xx) {
    auto gw = grad(ScalarFn([&](const std::vector<array>& a) { return sum(square(conv1d(a[0], a[1], 1, 1))); }),
                   {1})({xx, w})[0];
    return sum(gw);
  };
  array g = grad(std::function<array(const array&)>(inner))(x);
  auto base = x.to_vector<double>();
  auto gv = g.to_vector<double>();
  for (size_t i = 0; i < base.size(); ++i) {
    auto at = [&](double d) {
      auto v = base;
      v[i] += d;
      return inner(array(v, x.shape())).item<double>();
    };
    EXPECT_NEAR(gv[i], (at(1e-5) - at(-1e-5)) / 2e-5, 1e-6);
  }
}

TEST(Conv, Errors) {
  array x4 = zeros({1, 5, 5, 4}), w4 = zeros({6, 3, 3, 2});
  expect_error([&] { conv2d(zeros({5, 5, 4}), w4); }, "conv2d", "needs 4 dimensions");
  expect_error([&] { conv1d(x4, w4); }, "conv1d", "needs 3 dimensions");
  expect_error([&] { conv2d(x4, zeros({6, 3, 4})); }, "conv2d", "weight needs 4 dimensions");
  expect_error([&] { conv2d(x4, w4); }, "conv2d", "input channels per group");
  expect_error([&] { conv2d(x4, w4, {1, 1}, {0, 0}, {1, 1}, 3); }, "conv2d", "not divisible by groups");
  expect_error([&] { conv2d(x4, zeros({5, 3, 3, 2}), {1, 1}, {0, 0}, {1, 1}, 2); }, "conv2d", "C_out = 5");
  expect_error([&] { conv2d(x4, w4, {1, 1}, {0, 0}, {1, 1}, 0); }, "conv2d", "groups must be >= 1");
  expect_error([&] { conv2d(x4, w4, {0, 1}, {0, 0}, {1, 1}, 2); }, "conv2d", "stride must be >= 1");
  expect_error([&] { conv2d(x4, w4, {1, 1}, {-1, 0}, {1, 1}, 2); }, "conv2d", "padding must be >= 0");
  expect_error([&] { conv2d(x4, w4, {1, 1}, {0, 0}, {0, 1}, 2); }, "conv2d", "dilation must be >= 1");
  expect_error([&] { conv2d(x4, zeros({6, 7, 3, 2}), {1, 1}, {0, 0}, {1, 1}, 2); }, "conv2d",
               "larger than the padded input");
  expect_error([&] { conv2d(x4, w4, {1, 1}, {0, 0}, {3, 1}, 2); }, "conv2d", "larger than the padded input");
  expect_error([&] { conv2d(zeros({1, 5, 5, 4}, int32), zeros({6, 3, 3, 4}, int32)); }, "conv2d", "floating-point");
  expect_error([&] { conv_general(x4, w4, {1, 1, 1}, {}, {}, {}, {}, 2); }, "conv_general", "stride needs 1 or 2");
  expect_error([&] { conv_general(zeros({4, 4}), zeros({2, 2}), {}, {}, {}, {}, {}); }, "conv_general", "at least 1 spatial");
  expect_error([&] { conv_transpose1d(zeros({1, 4, 2}), zeros({3, 3, 2}), 2, 0, 1, 2); }, "conv_transpose1d",
               "output_padding");
  expect_error([&] { conv_transpose1d(zeros({1, 2, 2}), zeros({3, 2, 2}), 1, 2); }, "conv_transpose1d",
               "leaves no output");
  expect_error([&] { conv_transpose2d(zeros({1, 4, 4, 2}), zeros({3, 2, 2, 2}), {1, 1}, {-1, 0}); },
               "conv_transpose2d", "padding must be >= 0");
}
