// Dimension collapsing shared by the backends' strided kernels.
#pragma once

#include <array>
#include <utility>

#include "alloy/core/array.h"

namespace alloy {

// Merges dims i and i+1 when stride[i] == shape[i+1] * stride[i+1] for every operand and drops
// size-1 dims. Returns the collapsed shape and strides (one Strides per operand).
template <size_t K>
inline std::pair<Shape, std::array<Strides, K>> collapse_dims(const Shape& shape, const std::array<Strides, K>& strides) {
  Shape out_shape;
  std::array<Strides, K> out_strides;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !out_shape.empty();
    for (size_t k = 0; merge && k < K; ++k) merge = out_strides[k].back() == shape[d] * strides[k][d];
    if (merge) {
      out_shape.back() *= shape[d];
      for (size_t k = 0; k < K; ++k) out_strides[k].back() = strides[k][d];
    } else {
      out_shape.push_back(shape[d]);
      for (size_t k = 0; k < K; ++k) out_strides[k].push_back(strides[k][d]);
    }
  }
  return {out_shape, out_strides};
}

}  // namespace alloy
