// Softmax over the last axis, one pass for the max, one for exp and sum, one to scale; 16-bit
// inputs compute in float32.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "alloy/backend/common/elementwise_ops.h"
#include "alloy/backend/cpu/dispatch_float.h"
#include "alloy/backend/cpu/simd.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/core/primitives.h"

namespace alloy {
namespace {

template <typename T>
inline T exp_of(T x) {
  if constexpr (std::is_same_v<T, float>) return cpu::fast_expf(x);
  else return std::exp(x);
}

template <typename T, typename A>
ALLOY_SIMD_CLONES void softmax_row(const T* x, T* out, A* tmp, int64_t n) {
  A lanes[16];
  for (int j = 0; j < 16; ++j) lanes[j] = -std::numeric_limits<A>::infinity();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) lanes[j] = A(x[i + j]) > lanes[j] ? A(x[i + j]) : lanes[j];
  }
  A m = -std::numeric_limits<A>::infinity();
  for (int j = 0; j < 16; ++j) m = lanes[j] > m ? lanes[j] : m;
  for (; i < n; ++i) m = A(x[i]) > m ? A(x[i]) : m;
  if (m == -std::numeric_limits<A>::infinity()) m = 0;  // all -inf: gives NaN as NumPy
  for (int j = 0; j < 16; ++j) lanes[j] = 0;
  i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) {
      A e = exp_of(A(A(x[i + j]) - m));
      tmp[i + j] = e;
      lanes[j] += e;
    }
  }
  A s = 0;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  for (; i < n; ++i) {
    A e = exp_of(A(A(x[i]) - m));
    tmp[i] = e;
    s += e;
  }
  A inv = A(1) / s;
  for (int64_t k = 0; k < n; ++k) out[k] = T(tmp[k] * inv);
}

}  // namespace

void Softmax::eval_cpu(const std::vector<array>& inputs, array& out) {
  array in = cpu::as_row_contiguous(inputs[0]);
  const void* in_ptr = in.raw_data_ptr();  // before a donation moves the buffer
  if (in.is_donatable()) out.move_shared_buffer(in);
  else cpu::allocate(out);
  int64_t n = in.ndim() ? in.shape(-1) : 1;
  int64_t rows = n ? int64_t(in.size()) / n : 0;
  cpu::dispatch_float(in.dtype(), "softmax", [&](auto v) {
    using T = decltype(v);
    using A = ew::compute_t<T>;
    const T* x = static_cast<const T*>(in_ptr);
    T* o = static_cast<T*>(out.raw_data_ptr());
    cpu::parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(n, 1)), [&](int64_t b, int64_t e) {
      std::vector<A> tmp(n);
      for (int64_t r = b; r < e; ++r) softmax_row<T, A>(x + r * n, o + r * n, tmp.data(), n);
    });
  });
}

}  // namespace alloy
