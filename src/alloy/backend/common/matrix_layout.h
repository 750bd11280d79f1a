// How a (rows, cols) matrix view with element strides (s0, s1) is handed to a BLAS library
// without a copy: as is (unit stride along cols) or transposed (unit stride along rows), with
// its leading dimension. Shared by the CPU (OpenBLAS) and CUDA (cuBLASLt) GEMMs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>

namespace alloy {

struct MatrixLayout {
  bool transposed;
  int64_t ld;
};

inline std::optional<MatrixLayout> matrix_layout(int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
  if (s1 == 1 || cols == 1) {
    int64_t ld = rows == 1 ? std::max<int64_t>(cols, 1) : s0;
    if (ld >= std::max<int64_t>(cols, 1)) return MatrixLayout{false, ld};
  }
  if (s0 == 1 || rows == 1) {
    int64_t ld = cols == 1 ? std::max<int64_t>(rows, 1) : s1;
    if (ld >= std::max<int64_t>(rows, 1)) return MatrixLayout{true, ld};
  }
  return std::nullopt;
}

}  // namespace alloy
