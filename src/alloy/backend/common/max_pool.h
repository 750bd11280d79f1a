// Max pooling's geometry and fold step, shared by the CPU and CUDA kernels (fast::max_pool).
#pragma once

#include <cstdint>
#include <vector>

#include "alloy/backend/common/binary_ops.h"

namespace alloy::pool {

// x viewed as (batch, S_0, S_1, S_2, channels), row-major, and the output as (batch, O_0, O_1,
// O_2, channels). The pooled axes are the last d of the three; the first 3 - d have size 1 and
// kernel 1, so a fold over three nested axes (the last innermost) is the composition's for every d.
struct Geometry {
  int64_t batch = 0, channels = 0;
  int64_t in_size[3] = {1, 1, 1}, out_size[3] = {1, 1, 1}, kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1};
  int64_t in_step[3] = {0, 0, 0}, out_step[3] = {0, 0, 0};  // elements between neighbours on axis i
  int64_t in_batch = 0, out_batch = 0;                      // elements of one batch entry
  int64_t outputs() const { return batch * out_size[0] * out_size[1] * out_size[2]; }
};

inline Geometry geometry(const std::vector<int64_t>& in_shape, const std::vector<int>& kernel,
                         const std::vector<int>& stride) {
  Geometry g;
  const int d = int(kernel.size()), first = int(in_shape.size()) - 1 - d;
  g.batch = 1;
  for (int i = 0; i < first; ++i) g.batch *= in_shape[i];
  g.channels = in_shape.back();
  for (int i = 0; i < d; ++i) {
    const int a = 3 - d + i;
    g.in_size[a] = in_shape[first + i];
    g.kernel[a] = kernel[i];
    g.stride[a] = stride[i];
    g.out_size[a] = (g.in_size[a] - kernel[i]) / stride[i] + 1;
  }
  int64_t in_step = g.channels, out_step = g.channels;
  for (int a = 2; a >= 0; --a) {
    g.in_step[a] = in_step;
    g.out_step[a] = out_step;
    in_step *= g.in_size[a];
    out_step *= g.out_size[a];
  }
  g.in_batch = in_step;
  g.out_batch = out_step;
  return g;
}

// One step of the composition's fold: best = maximum(best, v), where maximum keeps its first
// argument unless the second is larger or NaN, and the gradient follows v unless best >= v (the
// vjp of maximum), so after a NaN every later element takes it.
template <typename A>
ALLOY_HD inline void fold_step(A& best, int64_t& where, A v, int64_t at) {
  where = best >= v ? where : at;  // a select, not a branch: the CPU loops over channels vectorize
  best = ew::binary::Maximum{}(best, v);
}

}  // namespace alloy::pool
