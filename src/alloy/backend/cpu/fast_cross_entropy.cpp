// CPU kernels of the fused cross entropy, multithreaded over rows of the logits (N, C). The loss
// reads a row twice (its max, then the sum of exp(x - max); a row of 32K float32 stays in L2 in
// between); the gradient reads it once and writes it once. Math in float32 (float64 for float64)
// with the vectorized fast_expf; lanes of 16 partial results keep the loops vectorized.
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "alloy/backend/common/cross_entropy_targets.h"
#include "alloy/backend/cpu/dispatch_float.h"
#include "alloy/backend/cpu/simd.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/backend/cpu/threading.h"
#include "alloy/core/fast_primitives.h"

namespace alloy {
namespace {

template <typename A>
inline A exp_of(A x) {
  if constexpr (std::is_same_v<A, float>) return cpu::fast_expf(x);
  else return std::exp(x);
}

// The row's max (NaN never becomes it; it surfaces through the sum of exps) and, for label
// smoothing, its sum.
template <typename T, typename A, bool Sum>
ALLOY_SIMD_CLONES void row_max_sum(const T* x, int64_t n, A& max_out, A& sum_out) {
  constexpr A neg_inf = -std::numeric_limits<A>::infinity();
  A mx[16], sx[16];
  for (int j = 0; j < 16; ++j) mx[j] = neg_inf, sx[j] = 0;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) {
      A v = A(x[i + j]);
      mx[j] = v > mx[j] ? v : mx[j];
      if constexpr (Sum) sx[j] += v;
    }
  }
  A m = neg_inf, s = 0;
  for (int j = 0; j < 16; ++j) {
    m = mx[j] > m ? mx[j] : m;
    s += sx[j];
  }
  for (; i < n; ++i) {
    A v = A(x[i]);
    m = v > m ? v : m;
    if constexpr (Sum) s += v;
  }
  max_out = m;
  sum_out = s;
}

template <typename T, typename A>
ALLOY_SIMD_CLONES A row_sum_exp(const T* x, int64_t n, A m) {
  A lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) lanes[j] += exp_of(A(A(x[i + j]) - m));
  }
  A s = 0;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  for (; i < n; ++i) s += exp_of(A(A(x[i]) - m));
  return s;
}

// d = g exp(x - lse) - shift over the row (the target's element is fixed up by the caller).
template <typename T, typename A>
ALLOY_SIMD_CLONES void row_grad(const T* x, T* d, int64_t n, A lse, A g, A shift) {
  for (int64_t i = 0; i < n; ++i) d[i] = T(A(g * exp_of(A(A(x[i]) - lse)) - shift));
}

// Rows per task: about 16K elements.
int64_t row_grain(int64_t classes) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(classes, 1)); }

}  // namespace

void CrossEntropy::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = cpu::as_row_contiguous(inputs[0]);   // (N, C)
  array t = cpu::as_row_contiguous(inputs[1]);   // (N,) int64
  const int64_t rows = x.shape(0), classes = x.shape(1);
  const int64_t* tp = static_cast<const int64_t*>(t.raw_data_ptr());
  check_cross_entropy_targets(tp, rows, classes, ignore_index_);  // before anything is written
  for (array& o : outputs) cpu::allocate(o);
  const int64_t ignore = ignore_index_;
  cpu::dispatch_float(x.dtype(), "cross_entropy", [&](auto v) {
    using T = decltype(v);
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* xp = static_cast<const T*>(x.raw_data_ptr());
    A* loss = static_cast<A*>(outputs[0].raw_data_ptr());
    A* lse_out = static_cast<A*>(outputs[1].raw_data_ptr());
    const A eps = A(label_smoothing_), keep_w = A(1.0 - label_smoothing_);
    const bool smooth = label_smoothing_ > 0;
    cpu::parallel_for(rows, row_grain(classes), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* row = xp + r * classes;
        A m, sx;
        if (smooth) row_max_sum<T, A, true>(row, classes, m, sx);
        else row_max_sum<T, A, false>(row, classes, m, sx);
        if (m == -std::numeric_limits<A>::infinity()) m = 0;  // all -inf: lse -inf, loss NaN
        A lse = m + std::log(row_sum_exp<T, A>(row, classes, m));
        lse_out[r] = lse;
        if (tp[r] == ignore) {
          loss[r] = 0;
          continue;
        }
        A nll = lse - A(row[tp[r]]);
        loss[r] = smooth ? A(keep_w * nll + eps * (lse - sx / A(classes))) : nll;
      }
    });
  });
}

void CrossEntropyGrad::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  // Logits that nothing else reads (or a row-contiguous copy of them) are overwritten by their
  // gradient: each element is read, then written, by one thread.
  const bool donate = !inputs[0].flags().row_contiguous || inputs[0].is_donatable();
  array x = cpu::as_row_contiguous(inputs[0]);   // (N, C)
  array t = cpu::as_row_contiguous(inputs[1]);   // (N,) int64
  array lse = cpu::as_row_contiguous(inputs[2]); // (N,) float32 / float64
  array g = cpu::as_row_contiguous(inputs[3]);   // (N,), often a broadcast scalar
  const int64_t rows = x.shape(0), classes = x.shape(1);
  const int64_t* tp = static_cast<const int64_t*>(t.raw_data_ptr());
  check_cross_entropy_targets(tp, rows, classes, ignore_index_);  // before anything is written
  array& out = outputs[0];
  const void* x_data = x.raw_data_ptr();  // before a donation moves the buffer
  if (donate) out.move_shared_buffer(x);
  else cpu::allocate(out);
  const int64_t ignore = ignore_index_;
  cpu::dispatch_float(x.dtype(), "cross_entropy", [&](auto v) {
    using T = decltype(v);
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* xp = static_cast<const T*>(x_data);
    const A* lp = static_cast<const A*>(lse.raw_data_ptr());
    const A* gp = static_cast<const A*>(g.raw_data_ptr());
    T* dp = static_cast<T*>(out.raw_data_ptr());
    const A uniform = A(label_smoothing_ / double(classes)), keep_w = A(1.0 - label_smoothing_);
    cpu::parallel_for(rows, row_grain(classes), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        T* drow = dp + r * classes;
        if (tp[r] == ignore) {
          std::fill(drow, drow + classes, T(0.0f));
          continue;
        }
        const T* row = xp + r * classes;
        const A gr = gp[r], l = lp[r];
        const int64_t c = tp[r];
        const A xt = A(row[c]);  // read first: with a donated buffer row_grad overwrites it
        row_grad<T, A>(row, drow, classes, l, gr, A(gr * uniform));
        drow[c] = T(A(gr * exp_of(A(xt - l)) - gr * uniform - gr * keep_w));
      }
    });
  });
}

}  // namespace alloy
