// Backend parity: every op with a GPU kernel, across dtypes and layouts, against the CPU.
#include "gpu_test_util.h"

namespace alloy::test {
namespace {

const std::vector<Dtype> kFloats{float32, float16, bfloat16, float64};

array input(const Shape& shape, Dtype dt, uint64_t seed, double lo = -2, double hi = 2) {
  return astype(random::uniform(shape, float32, lo, hi, random::key(seed), Device::cpu), dt, Device::cpu);
}

TEST(GpuParity, Unary) {
  ALLOY_REQUIRE_GPU();
  using Op = array (*)(const array&, StreamOrDevice);
  std::vector<std::pair<std::string, Op>> ops{
      {"abs", abs}, {"negative", negative}, {"sign", sign}, {"exp", exp}, {"expm1", expm1},
      {"sin", sin}, {"cos", cos}, {"tan", tan}, {"arctan", arctan}, {"sinh", sinh},
      {"cosh", cosh}, {"tanh", tanh}, {"arcsinh", arcsinh}, {"sigmoid", sigmoid}, {"erf", erf},
      {"floor", floor}, {"ceil", ceil}, {"round", round}, {"square", square}, {"isnan", isnan},
      {"isinf", isinf}, {"logical_not", logical_not}};
  std::vector<std::pair<std::string, Op>> positive{
      {"log", log}, {"log1p", log1p}, {"log2", log2}, {"log10", log10}, {"sqrt", sqrt},
      {"rsqrt", rsqrt}, {"reciprocal", reciprocal}, {"arccosh", arccosh}};
  std::vector<std::pair<std::string, Op>> unit{{"arcsin", arcsin}, {"arccos", arccos},
                                               {"arctanh", arctanh}, {"erfinv", erfinv}};
  for (Dtype dt : kFloats) {
    auto run = [&](auto& list, double lo, double hi) {
      for (auto& [name, op] : list) {
        for (auto& [layout, x] : layouts(input({33, 65}, dt, 1, lo, hi))) {
          expect_parity(name + " " + layout, [op = op](auto& in, Device d) { return op(in[0], d); }, {x});
        }
      }
    };
    run(ops, -3, 3);
    run(positive, 1.1, 4);
    run(unit, -0.9, 0.9);
  }
  for (Dtype dt : {int32, int64, int8, uint8, uint32}) {
    array x = astype(input({7, 130}, float32, 2, -100, 100), dt, Device::cpu);
    for (auto* op : {+[](const array& a, StreamOrDevice s) { return abs(a, s); },
                     +[](const array& a, StreamOrDevice s) { return square(a, s); },
                     +[](const array& a, StreamOrDevice s) { return bitwise_invert(a, s); }}) {
      expect_parity("integer unary", [op](auto& in, Device d) { return op(in[0], d); }, {x});
    }
  }
}

TEST(GpuParity, Binary) {
  ALLOY_REQUIRE_GPU();
  using Op = array (*)(const array&, const array&, StreamOrDevice);
  std::vector<std::pair<std::string, Op>> ops{
      {"add", add}, {"subtract", subtract}, {"multiply", multiply}, {"divide", divide},
      {"maximum", maximum}, {"minimum", minimum}, {"logaddexp", logaddexp}, {"arctan2", arctan2},
      {"power", power}, {"floor_divide", floor_divide}, {"remainder", remainder},
      {"equal", equal}, {"less", less}, {"greater_equal", greater_equal}};
  for (Dtype dt : kFloats) {
    array b = input({33, 65}, dt, 4, 0.5, 2);
    for (auto& [name, op] : ops) {
      for (auto& [layout, a] : layouts(input({33, 65}, dt, 3, 0.1, 3))) {
        expect_parity(name + " " + layout, [op = op](auto& in, Device d) { return op(in[0], in[1], d); }, {a, b});
      }
      // A scalar operand and a row broadcast over rows.
      expect_parity(name + " scalar", [op = op](auto& in, Device d) { return op(in[0], array(1.5f), d); }, {b});
      array row = input({65}, dt, 5, 0.5, 2);
      expect_parity(name + " row", [op = op](auto& in, Device d) { return op(in[0], in[1], d); }, {b, row});
    }
  }
  array ia = astype(input({9, 40}, float32, 6, -50, 50), int32, Device::cpu);
  array ib = astype(input({9, 40}, float32, 7, 1, 9), int32, Device::cpu);
  for (auto& [name, op] : std::vector<std::pair<std::string, Op>>{
           {"add", add}, {"multiply", multiply}, {"floor_divide", floor_divide}, {"remainder", remainder},
           {"bitwise_and", bitwise_and}, {"bitwise_xor", bitwise_xor}, {"left_shift", left_shift},
           {"right_shift", right_shift}, {"maximum", maximum}, {"not_equal", not_equal}}) {
    expect_parity("int32 " + name, [op = op](auto& in, Device d) { return op(in[0], in[1], d); }, {ia, ib});
  }
  array c = less(ia, ib, Device::cpu);
  expect_parity("where", [](auto& in, Device d) { return where(in[0], in[1], in[2], d); },
                {c, input({9, 40}, float32, 8), input({40}, float32, 9)});
}

TEST(GpuParity, CopiesAndConversions) {
  ALLOY_REQUIRE_GPU();
  std::vector<Dtype> all{bool_, uint8, uint16, uint32, uint64, int8, int16, int32, int64,
                         float16, bfloat16, float32, float64};
  // Values every dtype holds (float to integer conversion of out-of-range values is undefined).
  array x = input({17, 31}, float32, 10, 0, 100);
  for (Dtype from : all) {
    array xf = astype(x, from, Device::cpu);
    for (Dtype to : all) {
      for (auto& [layout, v] : layouts(xf)) {
        expect_parity(std::string("astype ") + dtype_name(from) + "->" + dtype_name(to) + " " + layout,
                      [to = to](auto& in, Device d) { return astype(in[0], to, d); }, {v}, 0.0);
      }
    }
  }
  array y = input({4, 6, 8}, float32, 11);
  expect_parity("reshape of transpose", [](auto& in, Device d) {
    return reshape(transpose(in[0], {2, 0, 1}, d), {8, 24}, d); }, {y}, 0.0);
  expect_parity("concatenate", [](auto& in, Device d) { return concatenate({in[0], in[0] * 2.0f}, 1, d); }, {y}, 0.0);
  expect_parity("slice_update", [](auto& in, Device d) {
    return slice_update(in[0], ones({2, 3, 8}, float32, d), {1, 0, 0}, {3, 6, 8}, {1, 2, 1}, d); }, {y}, 0.0);
  expect_parity("full", [](auto&, Device d) { return full({100, 3}, array(2.5f), d); }, {}, 0.0);
  expect_parity("arange", [](auto&, Device d) { return arange(-3.0, 1000.0, 0.5, float32, d); }, {}, 0.0);
  expect_parity("arange int", [](auto&, Device d) { return arange(0.0, 777.0, 3.0, int64, d); }, {}, 0.0);
}

// Copies whose rows stay contiguous (the head transposes of attention) move 16-byte vectors;
// odd offsets and widths take the element path.
TEST(GpuParity, RowContiguousCopies) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : {bfloat16, float32, int8}) {
    array x = input({2, 5, 3, 16}, dt, 91);
    expect_parity("head transpose", [](auto& in, Device d) { return contiguous(swapaxes(in[0], 1, 2, d), d); },
                  {x}, 0.0);
    expect_parity("offset rows", [](auto& in, Device d) {
      return contiguous(slice(swapaxes(in[0], 1, 2, d), {0, 0, 1, 1}, {2, 3, 5, 16}, d), d);
    }, {x}, 0.0);
    expect_parity("broadcast rows", [](auto& in, Device d) {
      return contiguous(broadcast_to(slice(in[0], {0, 0, 0, 0}, {1, 1, 3, 16}, d), {4, 2, 3, 16}, d), d);
    }, {x}, 0.0);
  }
}

TEST(GpuParity, ReductionsAndSoftmax) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : kFloats) {
    for (auto& [layout, x] : layouts(input({37, 129}, dt, 12))) {
      for (int axis : {0, 1}) {
        expect_parity("sum " + layout, [axis](auto& in, Device d) { return sum(in[0], axis, false, d); }, {x});
        expect_parity("max " + layout, [axis](auto& in, Device d) { return max(in[0], axis, false, d); }, {x});
        expect_parity("min " + layout, [axis](auto& in, Device d) { return min(in[0], axis, false, d); }, {x});
        expect_parity("mean " + layout, [axis](auto& in, Device d) { return mean(in[0], axis, false, d); }, {x});
        expect_parity("argmax " + layout, [axis](auto& in, Device d) { return argmax(in[0], axis, false, d); }, {x});
      }
      expect_parity("sum all " + layout, [](auto& in, Device d) { return sum(in[0], false, d); }, {x});
      expect_parity("softmax " + layout, [](auto& in, Device d) { return softmax(in[0], -1, d); }, {x});
      expect_parity("logsumexp " + layout, [](auto& in, Device d) { return logsumexp(in[0], false, d); }, {x});
    }
  }
  array big = input({3, 1 << 20}, float32, 13);
  expect_parity("sum long rows", [](auto& in, Device d) { return sum(in[0], 1, false, d); }, {big}, 1e-5);
  array flags = greater(input({50, 70}, float32, 14), array(0.0f), Device::cpu);
  expect_parity("any", [](auto& in, Device d) { return any(in[0], 1, false, d); }, {flags});
  expect_parity("all", [](auto& in, Device d) { return all(in[0], 0, false, d); }, {flags});
}

TEST(GpuParity, Matmul) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : kFloats) {
    double bound = dt == float32 ? 1e-5 : parity_bound(dt);
    array a = input({3, 64, 96}, dt, 15), b = input({3, 96, 80}, dt, 16);
    expect_parity("matmul batched", [](auto& in, Device d) { return matmul(in[0], in[1], d); }, {a, b}, bound);
    expect_parity("matmul a^T", [](auto& in, Device d) {
      return matmul(swapaxes(in[0], -1, -2, d), in[1], d); }, {input({3, 96, 64}, dt, 17), b}, bound);
    expect_parity("matmul b^T", [](auto& in, Device d) {
      return matmul(in[0], swapaxes(in[1], -1, -2, d), d); }, {a, input({3, 80, 96}, dt, 18)}, bound);
    expect_parity("matmul broadcast batch", [](auto& in, Device d) { return matmul(in[0], in[1], d); },
                  {a, input({96, 80}, dt, 19)}, bound);
    expect_parity("matvec", [](auto& in, Device d) { return matmul(in[0], in[1], d); },
                  {input({257, 300}, dt, 20), input({300}, dt, 21)}, bound);
    expect_parity("addmm bias", [](auto& in, Device d) { return addmm(in[2], in[0], in[1], 1.0f, 1.0f, d); },
                  {input({33, 64}, dt, 22), input({64, 48}, dt, 23), input({48}, dt, 24)}, bound);
    expect_parity("addmm beta", [](auto& in, Device d) { return addmm(in[2], in[0], in[1], 0.5f, 2.0f, d); },
                  {input({33, 64}, dt, 25), input({64, 48}, dt, 26), input({33, 48}, dt, 27)}, bound);
  }
}

TEST(GpuParity, FusedOps) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : {float32, float16, bfloat16}) {
    array x = input({4, 7, 256}, dt, 28), w = input({256}, dt, 29), b = input({256}, dt, 30);
    expect_parity("rms_norm", [](auto& in, Device d) { return fast::rms_norm(in[0], in[1], 1e-5f, d); }, {x, w});
    expect_parity("rms_norm no weight", [](auto& in, Device d) {
      return fast::rms_norm(in[0], std::nullopt, 1e-5f, d); }, {x});
    expect_parity("layer_norm", [](auto& in, Device d) {
      return fast::layer_norm(in[0], in[1], in[2], 1e-5f, d); }, {x, w, b});
    array r = input({4, 7, 256}, dt, 37), wide = input({3, 5000}, dt, 38), wide_r = input({3, 5000}, dt, 39);
    for (int out : {0, 1}) {
      expect_parity("rms_norm_residual " + std::to_string(out), [out](auto& in, Device d) {
        auto sn = fast::rms_norm_residual(in[0], in[1], in[2], 1e-5f, d);
        return out == 0 ? sn.first : sn.second; }, {x, r, w});
      expect_parity("rms_norm_residual D=5000 " + std::to_string(out), [out](auto& in, Device d) {
        auto sn = fast::rms_norm_residual(in[0], in[1], std::nullopt, 1e-6f, d);
        return out == 0 ? sn.first : sn.second; }, {wide, wide_r});
    }
    array offset(std::vector<int32_t>{5}, {1});
    array periods = input({32}, float32, 40, 1.0, 500.0);
    array q = input({2, 8, 9, 64}, dt, 31);
    expect_parity("rope array offset, freqs", [](auto& in, Device d) {
      return fast::rope(in[0], 64, false, 10000.0f, 1.0f, in[1], in[2], d); }, {q, offset, periods});
    for (bool traditional : {false, true}) {
      expect_parity("rope", [traditional](auto& in, Device d) {
        return fast::rope(in[0], 64, traditional, 10000.0f, 1.0f, 3, d); }, {q});
      expect_parity("rope partial", [traditional](auto& in, Device d) {
        return fast::rope(in[0], 32, traditional, 500000.0f, 0.5f, 0, d); }, {q});
    }
    array p = input({300, 77}, dt, 32), g = input({300, 77}, dt, 33), m = input({300, 77}, dt, 34, -0.1, 0.1);
    array v = input({300, 77}, dt, 35, 0, 0.01), vmax = input({300, 77}, dt, 36, 0, 0.02);
    for (bool ams : {false, true}) {
      for (int out = 0; out < (ams ? 4 : 3); ++out) {
        expect_parity("adam_update " + std::to_string(out), [ams, out](auto& in, Device d) {
          std::optional<array> mx;
          if (ams) mx = in[4];
          return fast::adam_update(in[0], in[1], in[2], in[3], mx, {1e-3, 0.9, 0.95, 1e-8, 0.1, true, 7}, d)[out];
        }, {p, g, m, v, vmax});
      }
    }
  }
}

TEST(GpuParity, CrossEntropy) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : kFloats) {
    for (int64_t classes : {10, 50257}) {
      const int64_t rows = classes > 1000 ? 37 : 300;
      // A row-offset view of a wider block: row-contiguous, but for odd C its rows start anywhere
      // (the scalar head and tail of the vector walk) and the gradient's rows are aligned otherwise.
      array block = input({rows + 1, classes}, dt, 50, -8, 8);
      array x = slice(block, {1, 0}, {rows + 1, classes}, Device::cpu);
      array x_fresh = contiguous(x, Device::cpu);
      eval({x, x_fresh});
      // Class indices (int32, and int64 that stays on the CPU) with every fifth row ignored.
      array t = astype(input({rows}, float32, 51, 0, double(classes) - 0.01), int32, Device::cpu);
      array fifth = equal(remainder(arange(double(rows), int32, Device::cpu), array(5), Device::cpu), array(2),
                          Device::cpu);
      t = where(fifth, array(-100), t, Device::cpu);
      array t64 = astype(t, int64, Device::cpu);
      array w = input({rows}, float32, 52, 0.5, 1.5);
      for (double eps : {0.0, 0.1}) {
        std::string what = "cross_entropy C=" + std::to_string(classes) + " eps=" + std::to_string(eps);
        auto loss = [eps](auto& in, Device d) { return fast::cross_entropy(in[0], in[1], -100, eps, d); };
        // The gradient of sum(loss * w): every row's cotangent differs.
        auto dlogits = [eps](auto& in, Device d) {
          return grad([&](const array& a) {
            return sum(multiply(fast::cross_entropy(a, in[1], -100, eps, d), in[2], d), false, d);
          })(in[0]);
        };
        for (auto& [layout, xs] : std::vector<std::pair<std::string, array>>{{"offset rows", x}, {"fresh", x_fresh}}) {
          expect_parity(what + " " + layout, loss, {xs, t});
          expect_parity(what + " int64 targets " + layout, loss, {xs, t64});
          // A gradient element's relative error is lse's absolute error: an ulp of lse ~ 16 is 2e-6.
          expect_parity(what + " gradient " + layout, dlogits, {xs, t, w}, dt == float32 ? 1e-5 : -1);
        }
      }
    }
  }
  // Out-of-range targets, GPU-resident (checked by the kernel) and CPU-resident (on the host).
  array x = input({4, 7}, float32, 53);
  array on_gpu = astype(array({1, 7, 2, -100}, {4}), int32, Device::gpu);
  array on_cpu = array({int64_t(1), int64_t(-3), int64_t(2), int64_t(-100)}, {4});
  for (auto& [targets, bad] : {std::pair<array, std::string>{on_gpu, "7"}, {on_cpu, "-3"}}) {
    array t = targets;
    std::string want = "[cross_entropy] target " + bad + " is out of range for 7 classes";
    try {
      eval({fast::cross_entropy(x, t, -100, 0.0, Device::gpu) + 1.0f});
      ADD_FAILURE() << "no error for target " << bad;
    } catch (const std::out_of_range& e) {
      EXPECT_EQ(std::string(e.what()), want);
    }
    EXPECT_THROW(eval({grad([&](const array& a) {
                   return sum(fast::cross_entropy(a, t, -100, 0.0, Device::gpu), false, Device::gpu);
                 })(x)}),
                 std::out_of_range);
  }
  // The stream recovers.
  EXPECT_NEAR(fast::cross_entropy(zeros({1, 4}), array({int64_t(0)}, {1}), -100, 0.0, Device::gpu).item<float>(),
              std::log(4.0f), 1e-6);
}

// A wide product with an odd N (logits over a 50257-token vocabulary) gets rows padded to 128
// bytes on the GPU, and everything downstream reads them through the pitch: elementwise ops,
// reshapes, the fused cross entropy (whose gradient keeps the pitch) and the backward's GEMMs.
// 4099 classes: the three GEMMs run split into a multiple-of-64 body and a tail (the logits' N,
// the input gradient's K, the weight gradient's M).
TEST(GpuParity, WideOddProductsGetAlignedRows) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : {bfloat16, float32}) {
    const int64_t rows = 96, dim = 64, classes = 4099;
    array h = input({rows, dim}, dt, 60, -1, 1);
    array w = input({classes, dim}, dt, 61, -1, 1);  // a tied embedding's (V, D) layout
    array t = astype(input({rows}, float32, 62, 0, double(classes) - 0.01), int32, Device::cpu);
    auto logits = [](auto& in, Device d) { return matmul(in[0], transpose(in[1], d), d); };
    std::vector<array> hw{h, w};
    array on_gpu = logits(hw, Device::gpu);
    eval({on_gpu});
    const int64_t per_line = 128 / int64_t(size_of(dt));
    EXPECT_EQ(on_gpu.strides()[0], (classes + per_line - 1) / per_line * per_line) << dtype_name(dt);
    EXPECT_FALSE(on_gpu.flags().row_contiguous);
    expect_parity("padded logits", logits, {h, w});
    expect_parity("elementwise over padded rows",
                  [&](auto& in, Device d) { return add(logits(in, d), array(1.0f), d); }, {h, w});
    expect_parity("3-d view of padded rows", [&](auto& in, Device d) {
      return sum(reshape(logits(in, d), {8, 12, classes}, d), std::vector<int>{1}, false, d);
    }, {h, w}, dt == float32 ? 1e-5 : -1);
    auto loss = [&](const array& hh, const array& ww, const array& tt, Device d) {
      return sum(fast::cross_entropy(matmul(hh, transpose(ww, d), d), tt, -100, 0.0, d), false, d);
    };
    expect_parity("loss over padded logits", [&](auto& in, Device d) { return loss(in[0], in[1], in[2], d); },
                  {h, w, t});
    expect_parity("d loss / d h", [&](auto& in, Device d) {
      return grad([&](const array& a) { return loss(a, in[1], in[2], d); })(in[0]);
    }, {h, w, t});
    expect_parity("d loss / d w", [&](auto& in, Device d) {
      return grad([&](const array& b) { return loss(in[0], b, in[2], d); })(in[1]);
    }, {h, w, t});
  }
}

TEST(GpuParity, ScansAndSorts) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : kFloats) {
    for (auto& [layout, x] : layouts(input({19, 300}, dt, 40, 0.5, 1.5))) {
      for (int axis : {0, 1}) {
        expect_parity("cumsum " + layout, [axis](auto& in, Device d) { return cumsum(in[0], axis, false, true, d); },
                      {x}, dt == float32 ? 1e-5 : -1);
        expect_parity("cumsum reverse exclusive " + layout,
                      [axis](auto& in, Device d) { return cumsum(in[0], axis, true, false, d); }, {x},
                      dt == float32 ? 1e-5 : -1);
        expect_parity("cummax " + layout, [axis](auto& in, Device d) { return cummax(in[0], axis, false, true, d); },
                      {x});
        expect_parity("cumprod " + layout,
                      [axis](auto& in, Device d) { return cumprod(in[0], axis, false, true, d); }, {x}, 1e-2);
      }
      expect_parity("sort " + layout, [](auto& in, Device d) { return sort(in[0], -1, d); }, {x}, 0.0);
      expect_parity("sort axis 0 " + layout, [](auto& in, Device d) { return sort(in[0], 0, d); }, {x}, 0.0);
      expect_parity("argsort " + layout, [](auto& in, Device d) { return argsort(in[0], -1, d); }, {x}, 0.0);
    }
  }
  // Ties keep their order (stable), NaNs sort where the CPU puts them.
  array ties = astype(input({4, 1000}, float32, 41, 0, 8), int32, Device::cpu);
  expect_parity("argsort ties", [](auto& in, Device d) { return argsort(in[0], -1, d); }, {ties}, 0.0);
  array nans = where(greater(input({3, 50}, float32, 42), array(1.0f), Device::cpu), array(NAN),
                     input({3, 50}, float32, 43), Device::cpu);
  expect_parity("sort nan", [](auto& in, Device d) { return sort(in[0], -1, d); }, {nans}, 0.0);
  expect_parity("topk", [](auto& in, Device d) { return topk(in[0], 5, -1, d); }, {input({6, 200}, float32, 44)}, 0.0);
  // Every integer width and signedness (each maps to an unsigned radix key), negative values,
  // many rows (segmented) and one long row (device-wide).
  for (Dtype dt : {bool_, int8, uint8, int16, uint16, int32, uint32, int64, uint64}) {
    bool is_signed = dt == int8 || dt == int16 || dt == int32 || dt == int64;
    for (Shape shape : {Shape{7, 300}, Shape{5000}}) {
      array whole = astype(input(shape, float32, 50, is_signed ? -100 : 0, dt == bool_ ? 2 : 200), int32, Device::cpu);
      array v = astype(whole, dt, Device::cpu);
      std::string what = std::string(dtype_name(dt)) + (shape.size() == 1 ? " one row" : " rows");
      expect_parity("sort " + what, [](auto& in, Device d) { return sort(in[0], -1, d); }, {v}, 0.0);
      expect_parity("argsort " + what, [](auto& in, Device d) { return argsort(in[0], -1, d); }, {v}, 0.0);
    }
  }
}

TEST(GpuParity, Indexing) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : {float32, float16, bfloat16, int32}) {
    array a = astype(input({50, 33}, float32, 45, -5, 5), dt, Device::cpu);
    array idx = astype(input({20}, float32, 46, 0, 49.99), int32, Device::cpu);
    expect_parity("take rows", [](auto& in, Device d) { return take(in[0], in[1], 0, d); }, {a, idx}, 0.0);
    expect_parity("take flat", [](auto& in, Device d) { return take(in[0], in[1], d); }, {a, idx}, 0.0);
    array along = astype(input({50, 4}, float32, 47, 0, 32.99), uint32, Device::cpu);
    expect_parity("take_along_axis", [](auto& in, Device d) { return take_along_axis(in[0], in[1], 1, d); },
                  {a, along}, 0.0);
    array vals = astype(input({50, 4}, float32, 48), dt, Device::cpu);
    expect_parity("put_along_axis", [](auto& in, Device d) { return put_along_axis(in[0], in[1], in[2], 1, d); },
                  {a, along, vals}, 0.0);
    array upd = astype(input({20, 1, 33}, float32, 49), dt, Device::cpu);
    expect_parity("scatter_add", [](auto& in, Device d) { return scatter_add(in[0], {in[1]}, in[2], {0}, d); },
                  {a, idx, upd}, dt == int32 ? 0.0 : 1e-2);
    expect_parity("scatter_max", [](auto& in, Device d) { return scatter_max(in[0], {in[1]}, in[2], {0}, d); },
                  {a, idx, upd}, 0.0);
    array uniq = arange(0.0, 40.0, 2.0, int32, Device::cpu);
    expect_parity("scatter", [](auto& in, Device d) { return scatter(in[0], {in[1]}, in[2], {0}, d); },
                  {a, uniq, astype(input({20, 1, 33}, float32, 50), dt, Device::cpu)}, 0.0);
  }
}

TEST(GpuParity, Convolution) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : {float32, float16, bfloat16}) {
    double bound = dt == float32 ? 1e-5 : parity_bound(dt);
    array x = input({2, 17, 19, 8}, dt, 51), w = input({12, 3, 3, 8}, dt, 52);
    expect_parity("conv2d", [](auto& in, Device d) { return conv2d(in[0], in[1], {1, 1}, {1, 1}, {1, 1}, 1, d); },
                  {x, w}, bound);
    expect_parity("conv2d stride dilation", [](auto& in, Device d) {
      return conv2d(in[0], in[1], {2, 1}, {0, 2}, {1, 2}, 1, d); }, {x, w}, bound);
    expect_parity("conv2d groups", [](auto& in, Device d) {
      return conv2d(in[0], in[1], {1, 1}, {1, 1}, {1, 1}, 2, d); }, {x, input({12, 3, 3, 4}, dt, 53)}, bound);
    expect_parity("conv1d", [](auto& in, Device d) { return conv1d(in[0], in[1], 2, 1, 1, 1, d); },
                  {input({3, 40, 6}, dt, 54), input({5, 4, 6}, dt, 55)}, bound);
    expect_parity("conv_transpose2d", [](auto& in, Device d) {
      return conv_transpose2d(in[0], in[1], {2, 2}, {1, 1}, {1, 1}, {1, 0}, 1, d); },
                  {x, input({6, 3, 3, 8}, dt, 56)}, bound);
  }
}

TEST(GpuParity, Attention) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : {float32, float16, bfloat16}) {
    double bound = dt == float32 ? 1e-5 : (dt == float16 ? 2e-3 : 1e-2);
    // Tq <= 4 is the split-K decode kernel (one 32-key tile a split at least): Tk 20 gives one
    // split (the combine only normalizes), 40 two, 300 and 129 several.
    for (auto [tq, tk] : {std::pair{33, 33}, std::pair{77, 77}, std::pair{1, 300}, std::pair{4, 129},
                          std::pair{1, 40}, std::pair{2, 20}, std::pair{128, 256}, std::pair{300, 300},
                          std::pair{200, 1000}, std::pair{257, 129}}) {
      for (int d_head : {64, 128}) {
        array q = input({2, 8, tq, d_head}, dt, 57), k = input({2, 2, tk, d_head}, dt, 58),
              v = input({2, 2, tk, d_head}, dt, 59);
        float scale = 1.0f / std::sqrt(float(d_head));
        for (bool causal : {false, true}) {
          expect_parity("sdpa Tq=" + std::to_string(tq) + " Tk=" + std::to_string(tk) + " D=" +
                            std::to_string(d_head) + (causal ? " causal" : ""),
                        [scale, causal](auto& in, Device d) {
                          return fast::scaled_dot_product_attention(in[0], in[1], in[2], scale, std::nullopt,
                                                                    causal, d);
                        },
                        {q, k, v}, bound);
        }
      }
    }
    array q = input({1, 4, 9, 64}, dt, 60), k = input({1, 4, 9, 64}, dt, 61), v = input({1, 4, 9, 64}, dt, 62);
    array mask = greater(input({9, 9}, float32, 63), array(-1.0f), Device::cpu);
    expect_parity("sdpa mask", [](auto& in, Device d) {
      return fast::scaled_dot_product_attention(in[0], in[1], in[2], 0.125f, in[3], false, d); }, {q, k, v, mask},
                  bound);
    // An additive mask over several query and key tiles of the prefill kernels (128 x 128 on Hopper).
    array q2 = input({1, 4, 150, 128}, dt, 64), k2 = input({1, 2, 300, 128}, dt, 65), v2 = input({1, 2, 300, 128}, dt, 66);
    array bias = astype(input({1, 1, 150, 300}, float32, 67, -4, 0), dt, Device::cpu);
    expect_parity("sdpa additive mask", [](auto& in, Device d) {
      return fast::scaled_dot_product_attention(in[0], in[1], in[2], 0.088f, in[3], false, d); }, {q2, k2, v2, bias},
                  bound);
    // More (head, 128-query tile) items than a GPU has SMs: the Hopper kernel's persistent CTAs
    // take several each. Causal with Tq > Tk too, where the lightest items see no key at all.
    for (auto [tq, tk] : {std::pair{600, 600}, std::pair{700, 300}}) {
      array q3 = input({2, 32, tq, 128}, dt, 68), k3 = input({2, 8, tk, 128}, dt, 69),
            v3 = input({2, 8, tk, 128}, dt, 70);
      expect_parity("sdpa many tiles Tq=" + std::to_string(tq) + " Tk=" + std::to_string(tk), [](auto& in, Device d) {
        return fast::scaled_dot_product_attention(in[0], in[1], in[2], 0.088f, std::nullopt, true, d); },
                    {q3, k3, v3}, bound);
    }
  }
}

// The multi-tensor Adam kernel: more tensors than one launch's table (24) and a tensor of more
// chunks than one launch's blocks (320 x 65536 elements), against the CPU.
TEST(GpuParity, AdamUpdateGroup) {
  ALLOY_REQUIRE_GPU();
  std::vector<Shape> shapes;
  for (int i = 0; i < 30; ++i) shapes.push_back(Shape{int64_t(1 + 97 * i)});
  shapes.push_back(Shape{24000, 1000});  // 367 chunks
  shapes.push_back(Shape{0});
  shapes.push_back(Shape{768, 768});
  for (bool ams : {false, true}) {
    std::vector<array> ps, gs, ms, vs, maxes;
    for (size_t i = 0; i < shapes.size(); ++i) {
      ps.push_back(input(shapes[i], float32, 100 + i, -1, 1));
      gs.push_back(input(shapes[i], float32, 200 + i, -1, 1));
      ms.push_back(input(shapes[i], float32, 300 + i, -0.1, 0.1));
      vs.push_back(input(shapes[i], float32, 400 + i, 0, 0.01));
      if (ams) maxes.push_back(input(shapes[i], float32, 500 + i, 0, 0.02));
    }
    fast::AdamStep st{1e-3, 0.9, 0.95, 1e-8, 0.1, true, 7};
    auto cpu = fast::adam_update(ps, gs, ms, vs, maxes, st, Device::cpu);
    auto gpu = fast::adam_update(ps, gs, ms, vs, maxes, st, Device::gpu);
    for (size_t i = 0; i < shapes.size(); ++i) {
      for (size_t k = 0; k < cpu[i].size(); ++k) {
        eval({cpu[i][k], gpu[i][k]});
        EXPECT_LE(normalized_error(gpu[i][k], cpu[i][k]), 1e-6) << "tensor " << i << " output " << k << " amsgrad " << ams;
      }
    }
  }
}

// The fused backward kernels of rms_norm and rope against the CPU's.
TEST(GpuParity, NormAndRopeGradients) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : {float32, float16, bfloat16}) {
    double bound = dt == float32 ? 1e-5 : (dt == float16 ? 2e-3 : 1e-2);
    for (int64_t d : {7, 64, 768, 1024}) {
      array x = input({4, 33, d}, dt, 81), w = input({d}, dt, 82, 0.5, 1.5), cot = input({4, 33, d}, dt, 83);
      for (int which : {0, 1}) {
        expect_parity("rms_norm grad " + std::string(which ? "dw" : "dx") + " D=" + std::to_string(d),
                      [which](auto& in, Device dev) {
                        auto fn = [&](const std::vector<array>& a) {
                          return std::vector<array>{fast::rms_norm(a[0], a[1], 1e-5f, dev)};
                        };
                        return vjp(fn, {in[0], in[1]}, {in[2]}).second[which];
                      },
                      {x, w, cot}, bound);
      }
    }
    array q = input({2, 4, 37, 64}, dt, 84), cq = input({2, 4, 37, 64}, dt, 85);
    expect_parity("rope grad", [](auto& in, Device dev) {
      auto fn = [&](const std::vector<array>& a) {
        return std::vector<array>{fast::rope(a[0], 64, false, 1e4f, 1.0f, 5, dev)};
      };
      return vjp(fn, {in[0]}, {in[1]}).second[0];
    }, {q, cq}, bound);
  }
}

// SwiGLU forward and backward: both devices compute in float32 and round once, so they agree to
// the exp's ulps; 16-byte packed loads (aligned, multiple of the pack) and the scalar tail path.
TEST(GpuParity, SwiGLU) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : {float32, bfloat16, float16, float64}) {
    for (const Shape& shape : {Shape{16, 64, 2048}, Shape{3, 7, 131}}) {
      array gate = input(shape, dt, 95, -8.0, 8.0), up = input(shape, dt, 96), cot = input(shape, dt, 97);
      const std::string what = "swiglu " + shape_to_string(shape);
      expect_parity(what, [](auto& in, Device d) { return fast::swiglu(in[0], in[1], d); }, {gate, up});
      for (int which : {0, 1}) {
        expect_parity(what + (which ? " d up" : " d gate"), [which](auto& in, Device d) {
          auto fn = [&](const std::vector<array>& a) { return std::vector<array>{fast::swiglu(a[0], a[1], d)}; };
          return vjp(fn, {in[0], in[1]}, {in[2]}).second[which];
        }, {gate, up, cot});
      }
    }
  }
  for (const auto& [name, count] : gpu_fallback_counts()) {
    EXPECT_EQ(name.find("swiglu"), std::string::npos) << name << " fell back to the CPU " << count << " times";
  }
}

// Max pooling forward and backward, with ties and NaNs: the GPU folds every window as the CPU
// does and adds overlapping windows' cotangents in the same order, so they agree exactly.
TEST(GpuParity, MaxPool) {
  ALLOY_REQUIRE_GPU();
  struct Case {
    Shape shape;
    std::vector<int> kernel, stride;
  };
  const Case cases[] = {{{64, 28, 28, 32}, {2, 2}, {2, 2}}, {{3, 11, 13, 5}, {3, 2}, {1, 2}},
                        {{2, 17, 3}, {4}, {3}}, {{2, 5, 6, 7, 3}, {2, 3, 2}, {1, 2, 2}}};
  for (Dtype dt : {float32, bfloat16, float64}) {
    uint64_t seed = 90;
    for (const Case& c : cases) {
      array x = floor(random::uniform(c.shape, float32, 0.0, 4.0, random::key(seed++)));
      x = astype(where(less(random::uniform(c.shape, float32, 0.0, 1.0, random::key(seed++)), array(0.02f)),
                       array(NAN), x), dt);
      array y = fast::max_pool(x, c.kernel, c.stride, Device::cpu);
      array cot = astype(random::uniform(y.shape(), float32, -1.0, 1.0, random::key(seed++)), dt);
      const std::string what = "max_pool " + shape_to_string(c.shape);
      expect_parity(what, [&](auto& in, Device d) { return fast::max_pool(in[0], c.kernel, c.stride, d); }, {x}, 0.0);
      expect_parity(what + " grad", [&](auto& in, Device d) {
        auto fn = [&](const std::vector<array>& a) {
          return std::vector<array>{fast::max_pool(a[0], c.kernel, c.stride, d)};
        };
        return vjp(fn, {in[0]}, {in[1]}).second[0];
      }, {x, cot}, 0.0);
    }
  }
  for (const auto& [name, count] : gpu_fallback_counts()) {
    EXPECT_EQ(name.find("max_pool"), std::string::npos) << name << " fell back to the CPU " << count << " times";
  }
}

// The flash backward (bf16/f16 tensor cores) against the CPU's float32 backward from the same
// inputs, and no CPU fallback on the way.
TEST(GpuParity, AttentionGradient) {
  ALLOY_REQUIRE_GPU();
  auto fallbacks = [] {
    uint64_t n = 0;
    for (auto& [name, c] : gpu_fallback_counts()) {
      if (name.find("attention") != std::string::npos) n += c;
    }
    return n;
  };
  const uint64_t before = fallbacks();
  for (Dtype dt : {bfloat16, float16}) {
    double bound = dt == float16 ? 4e-3 : 2e-2;
    for (auto [tq, tk] : {std::pair{33, 33}, std::pair{77, 77}, std::pair{128, 256}, std::pair{200, 200},
                          std::pair{1, 70}}) {
      for (int d_head : {64, 128}) {
        array q = input({2, 8, tq, d_head}, dt, 71), k = input({2, 2, tk, d_head}, dt, 72),
              v = input({2, 2, tk, d_head}, dt, 73), cot = input({2, 8, tq, d_head}, dt, 74);
        array keep = logical_or(greater(input({tq, tk}, float32, 75), array(-1.0f), Device::cpu),
                                equal(arange(double(tk), int32, Device::cpu), array(0), Device::cpu), Device::cpu);
        float scale = 1.0f / std::sqrt(float(d_head));
        for (int mask_kind : {0, 1, 2}) {
          for (int which = 0; which < 3; ++which) {
            std::string what = std::string("sdpa grad d") + "qkv"[which] + " Tq=" + std::to_string(tq) +
                               " Tk=" + std::to_string(tk) + " D=" + std::to_string(d_head) +
                               (mask_kind == 1 ? " causal" : mask_kind == 2 ? " bool mask" : "");
            expect_parity(what,
                          [scale, mask_kind, which](auto& in, Device d) {
                            std::optional<array> mask;
                            if (mask_kind == 2) mask = in[4];
                            auto fn = [&](const std::vector<array>& a) {
                              return std::vector<array>{fast::scaled_dot_product_attention(
                                  a[0], a[1], a[2], scale, mask, mask_kind == 1, d)};
                            };
                            std::vector<array> primals{in[0], in[1], in[2]};
                            return vjp(fn, primals, {in[3]}).second[which];
                          },
                          {q, k, v, cot, keep}, bound);
          }
        }
      }
    }
  }
  EXPECT_EQ(fallbacks(), before);
}

TEST(GpuParity, RandomMatchesCpuBits) {
  ALLOY_REQUIRE_GPU();
  for (Shape shape : {Shape{1}, Shape{7}, Shape{1001}, Shape{33, 17}}) {
    expect_parity("bits", [shape](auto&, Device d) { return random::bits(shape, 4, random::key(42), d); }, {}, 0.0);
    expect_parity("normal", [shape](auto&, Device d) {
      return random::normal(shape, float32, 0.0, 1.0, random::key(7), d); }, {}, 1e-6);
  }
}

}  // namespace
}  // namespace alloy::test
