// Strided iteration for CPU kernels. Shapes are first collapsed (adjacent dims merged where every
// operand is contiguous across them), then the work is a set of rows: the last dim is a strided
// inner loop and the outer dims are walked with per-operand offsets, split across threads.
#pragma once

#include <algorithm>
#include <array>
#include <optional>
#include <cstdint>
#include <vector>

#include "alloy/backend/common/collapse.h"
#include "alloy/backend/cpu/threading.h"
#include "alloy/core/array.h"

namespace alloy::cpu {

// Calls row(offsets, n, inner_strides) for every row of the collapsed space, where offsets[k] is
// operand k's element offset at the row start. Rows are split across threads when the total
// work is large; a row longer than 2 * kRowPiece is cut into pieces of about kRowPiece elements
// first, so that a few long rows (a broadcast scalar beside a dense array collapses to one row)
// still use every thread. `row` must therefore treat its elements independently.
inline constexpr int64_t kRowPiece = 1 << 15;

template <size_t K, typename RowFn>
void for_each_row(const Shape& shape_in, const std::array<Strides, K>& strides_in, RowFn&& row) {
  // Plain variables, not a structured binding: the lambda below captures them (clang 14).
  auto collapsed = collapse_dims<K>(shape_in, strides_in);
  Shape shape = std::move(collapsed.first);
  std::array<Strides, K> strides = std::move(collapsed.second);
  std::array<int64_t, K> inner_strides{};
  int64_t n = 1;
  if (!shape.empty()) {
    n = shape.back();
    for (size_t k = 0; k < K; ++k) inner_strides[k] = strides[k].back();
    shape.pop_back();
    for (auto& s : strides) s.pop_back();
  }
  int64_t rows = 1;
  for (auto d : shape) rows *= d;
  int nd = int(shape.size());
  int64_t pieces = 1, piece_len = n;
  if (n > 2 * kRowPiece) {
    pieces = (n + kRowPiece - 1) / kRowPiece;
    piece_len = (n + pieces - 1) / pieces;
    pieces = (n + piece_len - 1) / piece_len;  // no empty last piece
  }
  int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(piece_len, 1));
  // Work item t is piece t % pieces of row t / pieces.
  parallel_for(rows * pieces, grain, [&](int64_t t0, int64_t t1) {
    // Unravel the first row into an index and offsets, then step through the items.
    std::vector<int64_t> idx(nd);
    std::array<int64_t, K> off{};
    int64_t rem = t0 / pieces;
    int64_t piece = t0 % pieces;
    for (int d = nd - 1; d >= 0; --d) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      for (size_t k = 0; k < K; ++k) off[k] += idx[d] * strides[k][d];
    }
    for (int64_t t = t0; t < t1; ++t) {
      int64_t begin = piece * piece_len;
      std::array<int64_t, K> o = off;
      for (size_t k = 0; k < K; ++k) o[k] += begin * inner_strides[k];
      row(o, std::min(piece_len, n - begin), inner_strides);
      if (++piece < pieces) continue;
      piece = 0;
      for (int d = nd - 1; d >= 0; --d) {
        if (++idx[d] < shape[d]) {
          for (size_t k = 0; k < K; ++k) off[k] += strides[k][d];
          break;
        }
        for (size_t k = 0; k < K; ++k) off[k] -= strides[k][d] * (shape[d] - 1);
        idx[d] = 0;
      }
    }
  });
}

// Computes the flags of a view from its shape and strides.
Flags view_flags(const Shape& shape, const Strides& strides);

// Allocates a row-contiguous CPU buffer for `out`.
void allocate(array& out);

// Writes `in` (any layout) converted to out's dtype into `dst` laid out with `dst_strides`
// (element strides in the output's dtype). out_dtype is the destination element type.
void copy_into(const array& in, void* dst, Dtype dst_dtype, const Strides& dst_strides, const Shape& shape);

// A row-contiguous copy of `in` (converted to `dtype`) into freshly allocated `out`.
void copy_contiguous(const array& in, array& out);
// out takes in's buffer when this op holds the last reference and it is row-contiguous (the
// ops that write into a copy of their input), else a row-contiguous copy.
void copy_or_donate(const array& in, array& out);

// `a` itself when it is row-contiguous (and already of `dtype`, when given), else a row-contiguous
// copy converted to that dtype. For kernels that only handle dense rows.
array as_row_contiguous(const array& a, std::optional<Dtype> dtype = std::nullopt);

}  // namespace alloy::cpu
