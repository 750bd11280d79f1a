// CPU kernels of fused max pooling (channels last). Each output's window is folded as the
// composition folds it, a vector of channels at a time: the last pooled axis innermost, then
// the results of those folds along the axes before it (pool::fold_step). The gradient folds
// the window again and adds the cotangent at the input that won.
#include <cstring>
#include <type_traits>
#include <vector>

#include "alloy/backend/common/max_pool.h"
#include "alloy/backend/cpu/dispatch_float.h"
#include "alloy/backend/cpu/simd.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/backend/cpu/threading.h"
#include "alloy/core/fast_primitives.h"

namespace alloy {
namespace {

// The loops over channels: the first element of a window, then each next one folded in (the
// composition's maximum, or with `where` pool::fold_step, which also follows the gradient).
template <typename S, typename A>
ALLOY_SIMD_CLONES void first_into(A* best, const S* v, int64_t n) {
  for (int64_t c = 0; c < n; ++c) best[c] = A(v[c]);
}
template <typename S, typename A>
ALLOY_SIMD_CLONES void max_into(A* best, const S* v, int64_t n) {
  for (int64_t c = 0; c < n; ++c) best[c] = ew::binary::Maximum{}(best[c], A(v[c]));
}
template <typename S, typename A>
ALLOY_SIMD_CLONES void first_into(A* best, int64_t* where, const S* v, int64_t at, int64_t n) {
  for (int64_t c = 0; c < n; ++c) best[c] = A(v[c]), where[c] = at + c;
}
template <typename S, typename A>
ALLOY_SIMD_CLONES void fold_into(A* best, int64_t* where, const S* v, int64_t at, int64_t n) {
  for (int64_t c = 0; c < n; ++c) pool::fold_step(best[c], where[c], A(v[c]), at + c);
}
template <typename A>
ALLOY_SIMD_CLONES void fold_into(A* best, int64_t* where, const A* v, const int64_t* from, int64_t n) {
  for (int64_t c = 0; c < n; ++c) pool::fold_step(best[c], where[c], v[c], from[c]);
}

// The fold of one output's window over every channel: per channel the best value and, when
// Track, the offset (into x) of the input that gets the gradient. Buffers are per level of the
// nested fold; a level whose kernel is 1 passes its inner level's result through.
template <typename T, typename A, bool Track>
class ChannelFold {
 public:
  ChannelFold(const pool::Geometry& g, const T* x)
      : g_(g), x_(x), best_(3 * g.channels), where_(Track ? 3 * g.channels : 0) {}

  struct Result {
    const A* best;
    const int64_t* where;
  };
  // o: the output position (o0, o1, o2); base: the offset of its batch entry in x.
  Result operator()(int64_t base, const int64_t* o) { return fold(0, base, o); }

 private:
  Result fold(int level, int64_t base, const int64_t* o) {
    const int64_t C = g_.channels;
    A* best = best_.data() + level * C;
    int64_t* where = Track ? where_.data() + level * C : nullptr;
    for (int64_t k = 0; k < g_.kernel[level]; ++k) {
      const int64_t at = base + (o[level] * g_.stride[level] + k) * g_.in_step[level];
      if (level == 2) {  // the last pooled axis: x itself
        if constexpr (Track) {
          k == 0 ? first_into(best, where, x_ + at, at, C) : fold_into(best, where, x_ + at, at, C);
        } else {
          k == 0 ? first_into(best, x_ + at, C) : max_into(best, x_ + at, C);
        }
        continue;
      }
      Result inner = fold(level + 1, at, o);
      if (g_.kernel[level] == 1) return inner;
      if (k == 0) {
        std::memcpy(best, inner.best, C * sizeof(A));
        if constexpr (Track) std::memcpy(where, inner.where, C * sizeof(int64_t));
      } else if constexpr (Track) {
        fold_into(best, where, inner.best, inner.where, C);
      } else {
        max_into(best, inner.best, C);
      }
    }
    return {best, where};
  }

  const pool::Geometry& g_;
  const T* x_;
  std::vector<A> best_;
  std::vector<int64_t> where_;
};

// Calls fn(base, o, out_offset) for every output position in [begin, end) of the rows
// (batch, O0, O1) (o2 runs inside).
template <typename Fn>
void for_each_output(const pool::Geometry& g, int64_t begin, int64_t end, Fn&& fn) {
  for (int64_t r = begin; r < end; ++r) {
    int64_t o[3] = {0, r % g.out_size[1], 0};
    const int64_t b = r / (g.out_size[0] * g.out_size[1]);
    o[0] = (r / g.out_size[1]) % g.out_size[0];
    for (o[2] = 0; o[2] < g.out_size[2]; ++o[2]) {
      const int64_t out = b * g.out_batch + o[0] * g.out_step[0] + o[1] * g.out_step[1] + o[2] * g.out_step[2];
      fn(b * g.in_batch, o, out);
    }
  }
}

// Rows (batch, O0, O1) per chunk for about 16K element reads.
int64_t row_grain(const pool::Geometry& g) {
  const int64_t reads = g.out_size[2] * g.channels * g.kernel[0] * g.kernel[1] * g.kernel[2];
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(reads, 1));
}

}  // namespace

void MaxPool::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = cpu::as_row_contiguous(inputs[0]);
  array& out = outputs[0];
  cpu::allocate(out);
  const pool::Geometry g = pool::geometry(x.shape(), kernel_, stride_);
  if (g.outputs() * g.channels == 0) return;
  cpu::dispatch_float(x.dtype(), "max_pool", [&](auto v) {
    using T = decltype(v);
    using A = ew::compute_t<T>;
    const T* xp = static_cast<const T*>(x.raw_data_ptr());
    T* op = static_cast<T*>(out.raw_data_ptr());
    const int64_t rows = g.batch * g.out_size[0] * g.out_size[1];
    cpu::parallel_for(rows, row_grain(g), [&](int64_t begin, int64_t end) {
      ChannelFold<T, A, false> fold(g, xp);
      for_each_output(g, begin, end, [&](int64_t base, const int64_t* o, int64_t at) {
        const A* best = fold(base, o).best;
        for (int64_t c = 0; c < g.channels; ++c) op[at + c] = T(best[c]);
      });
    });
  });
}

// Inputs (x, cotangent). Rows of outputs whose windows share no input (no overlap along O0 and
// O1, or along O0 alone) run in parallel; inside a row, outputs add in row-major order, so the
// sums equal a serial pass's.
void MaxPoolGrad::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = cpu::as_row_contiguous(inputs[0]);
  array gy = cpu::as_row_contiguous(inputs[1], x.dtype());
  array& dx = outputs[0];
  cpu::allocate(dx);
  const pool::Geometry g = pool::geometry(x.shape(), kernel_, stride_);
  const int64_t n = int64_t(x.size());
  cpu::dispatch_float(x.dtype(), "max_pool", [&](auto v) {
    using T = decltype(v);
    using A = ew::compute_t<T>;
    const T* xp = static_cast<const T*>(x.raw_data_ptr());
    const T* gp = static_cast<const T*>(gy.raw_data_ptr());
    T* dxp = static_cast<T*>(dx.raw_data_ptr());
    std::vector<A> scratch(std::is_same_v<T, A> ? 0 : n, A(0));  // 16-bit: sums in float32
    A* sum = nullptr;
    if constexpr (std::is_same_v<T, A>) {
      std::memset(dxp, 0, size_t(n) * sizeof(T));
      sum = dxp;
    } else {
      sum = scratch.data();
    }
    if (g.outputs() * g.channels > 0) {
      const bool apart0 = g.kernel[0] <= g.stride[0], apart1 = apart0 && g.kernel[1] <= g.stride[1];
      // Independent units: rows (b, o0, o1), (b, o0) or b.
      const int64_t per_unit = apart1 ? 1 : apart0 ? g.out_size[1] : g.out_size[0] * g.out_size[1];
      const int64_t units = g.batch * g.out_size[0] * g.out_size[1] / per_unit;
      cpu::parallel_for(units, std::max<int64_t>(1, row_grain(g) / per_unit), [&](int64_t begin, int64_t end) {
        ChannelFold<T, A, true> fold(g, xp);
        for_each_output(g, begin * per_unit, end * per_unit, [&](int64_t base, const int64_t* o, int64_t at) {
          const int64_t* where = fold(base, o).where;
          for (int64_t c = 0; c < g.channels; ++c) sum[where[c]] += A(gp[at + c]);
        });
      });
    }
    if constexpr (!std::is_same_v<T, A>) {
      cpu::parallel_for(n, 1 << 16, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) dxp[i] = T(scratch[i]);
      });
    }
  });
}

}  // namespace alloy
