// Scans (cumsum, cumprod, cummax, cummin) along one axis of a (outer, R, inner) view; inner > 1
// scans vectorize across inner.
#include <limits>
#include <memory>

#include "alloy/backend/common/elementwise_ops.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/core/primitives.h"

namespace alloy {
namespace {
using ew::compute_t;

template <typename A>
A scan_init(ScanOp op) {
  switch (op) {
    case ScanOp::sum: return A(0);
    case ScanOp::prod: return A(1);
    case ScanOp::max:
      if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
      else return std::numeric_limits<A>::lowest();
    case ScanOp::min:
      if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
      else return std::numeric_limits<A>::max();
  }
  return A(0);
}

template <typename A>
inline A scan_apply(ScanOp op, A a, A x) {
  switch (op) {
    case ScanOp::sum: return A(a + x);
    case ScanOp::prod: return A(a * x);
    case ScanOp::max: return (x > a || x != x) ? x : a;
    case ScanOp::min: return (x < a || x != x) ? x : a;
  }
  return a;
}

}  // namespace

void Scan::eval_cpu(const std::vector<array>& inputs, array& out) {
  array in = cpu::as_row_contiguous(inputs[0]);
  cpu::allocate(out);
  int64_t outer = 1, R = in.shape(axis_), inner = 1;
  for (int d = 0; d < axis_; ++d) outer *= in.shape(d);
  for (int d = axis_ + 1; d < in.ndim(); ++d) inner *= in.shape(d);
  dispatch_dtype(in.dtype(), [&](auto v) {
    using T = decltype(v);
    using A = compute_t<T>;
    const T* x = static_cast<const T*>(in.raw_data_ptr());
    T* o = static_cast<T*>(out.raw_data_ptr());
    ScanOp op = op_;
    bool rev = reverse_, incl = inclusive_;
    cpu::parallel_for(outer, std::max<int64_t>(1, 16384 / std::max<int64_t>(R * inner, 1)), [&](int64_t b, int64_t e) {
      std::unique_ptr<A[]> acc(new A[inner]);
      for (int64_t oi = b; oi < e; ++oi) {
        std::fill(acc.get(), acc.get() + inner, scan_init<A>(op));
        for (int64_t step = 0; step < R; ++step) {
          int64_t r = rev ? R - 1 - step : step;
          const T* xr = x + (oi * R + r) * inner;
          T* orow = o + (oi * R + r) * inner;
          if (incl) {
            for (int64_t j = 0; j < inner; ++j) {
              acc[j] = scan_apply(op, acc[j], A(xr[j]));
              orow[j] = T(acc[j]);
            }
          } else {
            for (int64_t j = 0; j < inner; ++j) {
              orow[j] = T(acc[j]);
              acc[j] = scan_apply(op, acc[j], A(xr[j]));
            }
          }
        }
      }
    });
  });
}

}  // namespace alloy
