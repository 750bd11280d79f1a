// Helpers for the GPU tests: skip without a GPU, and compare an op run on the GPU with the same
// op run on the CPU by normalized error ||gpu - cpu|| / ||cpu|| (ggml's test-backend-ops style).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "alloy/alloy.h"

namespace alloy::test {

#define ALLOY_REQUIRE_GPU()                                                          \
  do {                                                                               \
    if (!::alloy::gpu_available()) GTEST_SKIP() << "no usable GPU: skipping GPU test"; \
  } while (0)

using DeviceFn = std::function<array(const std::vector<array>&, Device)>;

// Error bound for results of dtype d.
inline double parity_bound(Dtype d) {
  switch (d) {
    case Dtype::float16: return 2e-3;
    case Dtype::bfloat16: return 1.5e-2;
    case Dtype::float32: return 2e-6;
    case Dtype::float64: return 1e-12;
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32:
    case Dtype::uint64: case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      return 0.0;
  }
  return 0.0;
}

inline double normalized_error(const array& gpu, const array& cpu) {
  auto g = gpu.to_vector<double>();
  auto c = cpu.to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    bool both_nan = std::isnan(g[i]) && std::isnan(c[i]);
    bool same_inf = std::isinf(g[i]) && g[i] == c[i];
    if (both_nan || same_inf) continue;
    if (std::isnan(g[i]) || std::isnan(c[i]) || std::isinf(g[i]) || std::isinf(c[i])) return INFINITY;
    num += (g[i] - c[i]) * (g[i] - c[i]);
    den += c[i] * c[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

// Runs fn on both devices with the same inputs and checks shape, dtype and the error bound.
inline void expect_parity(const std::string& what, const DeviceFn& fn, const std::vector<array>& inputs,
                          double bound = -1) {
  array cpu = fn(inputs, Device::cpu);
  array gpu = fn(inputs, Device::gpu);
  eval({cpu, gpu});
  ASSERT_EQ(gpu.shape(), cpu.shape()) << what;
  ASSERT_EQ(gpu.dtype(), cpu.dtype()) << what;
  double b = bound >= 0 ? bound : parity_bound(cpu.dtype());
  double err = normalized_error(gpu, cpu);
  EXPECT_LE(err, b) << what << " (" << dtype_name(cpu.dtype()) << ")";
}

// Layouts of the same values: contiguous, transposed (a transposed copy viewed back), sliced
// (every other element of a wider array) and broadcast (a row repeated).
inline std::vector<std::pair<std::string, array>> layouts(const array& a) {
  std::vector<std::pair<std::string, array>> out{{"contiguous", a}};
  if (a.ndim() >= 2) {
    array t = transpose(contiguous(transpose(a)));
    out.emplace_back("transposed", t);
    Shape wide = a.shape();
    wide.back() *= 2;
    array w = zeros(wide, a.dtype(), Device::cpu);
    Shape start(a.ndim(), 0), stop = wide, step(a.ndim(), 1);
    step.back() = 2;
    w = slice_update(w, a, start, stop, step, Device::cpu);
    out.emplace_back("sliced", slice(w, start, stop, step, Device::cpu));
    Shape row_shape = a.shape();
    row_shape[0] = 1;
    Shape zero(a.ndim(), 0);
    array row = slice(a, zero, row_shape, Device::cpu);
    out.emplace_back("broadcast", broadcast_to(row, a.shape(), Device::cpu));
  }
  for (auto& [name, arr] : out) eval({arr});
  return out;
}

}  // namespace alloy::test
