// Sort, argsort, partition and argpartition along one axis on the CPU. The input is made
// row-contiguous and viewed as (outer, n, inner); each of the outer * inner lines is copied to a
// dense buffer, ordered there (std::stable_sort, or std::nth_element for the partitions) and
// written back, lines in parallel. NaNs order after every number, as in NumPy.
#include <algorithm>
#include <numeric>
#include <vector>

#include "alloy/backend/common/elementwise_ops.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/core/primitives.h"

namespace alloy {
namespace {
using ew::compute_t;

// Strict weak order with NaN after everything (and equal to NaN).
template <typename C>
inline bool nan_last_less(C x, C y) {
  if constexpr (std::is_floating_point_v<C>) {
    if (y != y) return x == x;
  }
  return x < y;
}

template <typename T>
void sort_lines(SortKind kind, int kth, const T* x, void* out_ptr, int64_t outer, int64_t n, int64_t inner) {
  // Values are ordered in their compute type (bytes for bool: std::vector<bool> packs bits).
  using C = std::conditional_t<std::is_same_v<T, bool>, uint8_t, compute_t<T>>;
  int64_t lines = outer * inner;
  // About 16K comparisons per task.
  int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(n * 8, 1));
  cpu::parallel_for(lines, grain, [&](int64_t b, int64_t e) {
    std::vector<C> vals(n);
    std::vector<uint32_t> order;
    if (kind == SortKind::argsort || kind == SortKind::argpartition) order.resize(n);
    for (int64_t line = b; line < e; ++line) {
      int64_t o = line / inner, j = line % inner;
      int64_t start = o * n * inner + j;
      for (int64_t i = 0; i < n; ++i) vals[i] = C(x[start + i * inner]);
      auto by_value = [&](uint32_t p, uint32_t q) { return nan_last_less(vals[p], vals[q]); };
      switch (kind) {
        case SortKind::sort:
        case SortKind::partition: {
          if (kind == SortKind::sort) {
            std::stable_sort(vals.begin(), vals.end(), nan_last_less<C>);
          } else {
            std::nth_element(vals.begin(), vals.begin() + kth, vals.end(), nan_last_less<C>);
          }
          T* y = static_cast<T*>(out_ptr) + start;
          for (int64_t i = 0; i < n; ++i) y[i * inner] = T(vals[i]);
          break;
        }
        case SortKind::argsort:
        case SortKind::argpartition: {
          std::iota(order.begin(), order.end(), 0u);
          if (kind == SortKind::argsort) {
            std::stable_sort(order.begin(), order.end(), by_value);
          } else {
            std::nth_element(order.begin(), order.begin() + kth, order.end(), by_value);
          }
          uint32_t* y = static_cast<uint32_t*>(out_ptr) + start;
          for (int64_t i = 0; i < n; ++i) y[i * inner] = order[i];
          break;
        }
      }
    }
  });
}

}  // namespace

void Sort::eval_cpu(const std::vector<array>& inputs, array& out) {
  array in = cpu::as_row_contiguous(inputs[0]);
  cpu::allocate(out);
  if (out.size() == 0) return;
  int64_t outer = 1, n = in.shape(axis_), inner = 1;
  for (int d = 0; d < axis_; ++d) outer *= in.shape(d);
  for (int d = axis_ + 1; d < in.ndim(); ++d) inner *= in.shape(d);
  dispatch_dtype(in.dtype(), [&](auto v) {
    using T = decltype(v);
    sort_lines<T>(kind_, kth_, static_cast<const T*>(in.raw_data_ptr()), out.raw_data_ptr(), outer, n, inner);
  });
}

}  // namespace alloy
