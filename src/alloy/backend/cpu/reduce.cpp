// Reductions. The input is viewed as (outer, R, inner) with R the reduced extent: inner == 1 is
// a row reduction (contiguous runs, 16 independent lanes so the compiler vectorizes without
// reassociating), inner > 1 a column reduction (vectorized across inner). Reduced axes that are
// not one block are moved last by a copy first. 16-bit floats accumulate in float32; float32
// sums add 4096-element blocks in float32 lanes and the blocks in float64.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "alloy/backend/common/elementwise_ops.h"
#include "alloy/backend/cpu/simd.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/core/ops.h"
#include "alloy/core/primitives.h"

namespace alloy {
namespace {
using ew::compute_t;

template <typename A>
struct SumOp {
  static A init() { return A(0); }
  static A apply(A a, A x) { return A(a + x); }
};
template <typename A>
struct ProdOp {
  static A init() { return A(1); }
  static A apply(A a, A x) { return A(a * x); }
};
// max/min propagate NaN like NumPy. apply() is branch-free so lanes vectorize: a NaN input makes
// the comparison false, so NaN is carried by `x != x` through a separate or-mask in the lanes
// loop (see reduce_run), and apply() keeps the ordered comparison only.
template <typename A>
struct MaxOp {
  static constexpr bool tracks_nan = std::is_floating_point_v<A>;
  static A init() {
    if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::lowest();
  }
  static A apply(A a, A x) { return x > a ? x : a; }
};
template <typename A>
struct MinOp {
  static constexpr bool tracks_nan = std::is_floating_point_v<A>;
  static A init() {
    if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::max();
  }
  static A apply(A a, A x) { return x < a ? x : a; }
};
template <typename Op>
constexpr bool tracks_nan() {
  if constexpr (requires { Op::tracks_nan; }) return Op::tracks_nan;
  else return false;
}
struct AnyOp {
  static bool init() { return false; }
  static bool apply(bool a, bool x) { return a || x; }
};
struct AllOp {
  static bool init() { return true; }
  static bool apply(bool a, bool x) { return a && x; }
};

constexpr int kLanes = 16;

// 64-byte vectors (GCC/Clang vector extensions): the compiler maps them to AVX-512, AVX2 or
// NEON registers per target, where a plain lanes loop is not reliably vectorized.
template <typename A>
struct Vec {
  typedef A type __attribute__((vector_size(64)));
  static constexpr int lanes = int(64 / sizeof(A));
};

template <typename V, typename A, typename Op>
inline V vapply(V acc, V v) {
  if constexpr (std::is_same_v<Op, SumOp<A>>) return acc + v;
  else if constexpr (std::is_same_v<Op, ProdOp<A>>) return acc * v;
  else if constexpr (std::is_same_v<Op, MaxOp<A>>) return v > acc ? v : acc;
  else return v < acc ? v : acc;
}

// Reduces n contiguous elements into one accumulator value.
template <typename T, typename A, typename Op>
ALLOY_SIMD_CLONES A reduce_run(const T* x, int64_t n) {
  A acc = Op::init();
  bool any_nan = false;
  int64_t i = 0;
  if constexpr (std::is_same_v<T, A> && std::is_floating_point_v<A>) {
    using V = typename Vec<A>::type;
    constexpr int L = Vec<A>::lanes;
    using M = decltype(V{} != V{});
    V vacc, v;
    M nan_mask = {};
    for (int j = 0; j < L; ++j) vacc[j] = Op::init();
    for (; i + L <= n; i += L) {
      std::memcpy(&v, x + i, sizeof(V));
      vacc = vapply<V, A, Op>(vacc, v);
      if constexpr (tracks_nan<Op>()) nan_mask |= v != v;
    }
    for (int j = 0; j < L; ++j) {
      acc = Op::apply(acc, vacc[j]);
      any_nan |= nan_mask[j] != 0;
    }
  } else {
    A lanes[kLanes];
    for (int j = 0; j < kLanes; ++j) lanes[j] = Op::init();
    for (; i + kLanes <= n; i += kLanes) {
      for (int j = 0; j < kLanes; ++j) lanes[j] = Op::apply(lanes[j], A(x[i + j]));
      if constexpr (tracks_nan<Op>()) {
        for (int j = 0; j < kLanes; ++j) any_nan |= A(x[i + j]) != A(x[i + j]);
      }
    }
    for (int j = 0; j < kLanes; ++j) acc = Op::apply(acc, lanes[j]);
  }
  for (; i < n; ++i) {
    A v = A(x[i]);
    acc = Op::apply(acc, v);
    any_nan |= v != v;
  }
  if constexpr (tracks_nan<Op>()) {
    if (any_nan) return std::numeric_limits<A>::quiet_NaN();
  }
  return acc;
}

// A float32 sum in blocks: float lanes inside a block, double across blocks.
template <typename T, typename A, typename Op>
A reduce_row(const T* x, int64_t n) {
  if constexpr (std::is_same_v<Op, SumOp<float>>) {
    double total = 0;
    for (int64_t b = 0; b < n; b += 4096) total += reduce_run<T, A, Op>(x + b, std::min<int64_t>(4096, n - b));
    return A(total);
  } else {
    return reduce_run<T, A, Op>(x, n);
  }
}

// acc[j] = op(acc[j], x0[j], x1[j], x2[j], x3[j]): four rows per pass, so the accumulators are
// loaded and stored a quarter as often and four input streams are in flight.
template <typename T, typename A, typename Op>
ALLOY_SIMD_CLONES void accumulate_rows4(A* acc, const T* x, int64_t stride, int64_t n) {
  const T *x0 = x, *x1 = x + stride, *x2 = x + 2 * stride, *x3 = x + 3 * stride;
  for (int64_t j = 0; j < n; ++j) {
    A a = acc[j];
    A v0 = A(x0[j]), v1 = A(x1[j]), v2 = A(x2[j]), v3 = A(x3[j]);
    A r = Op::apply(Op::apply(Op::apply(Op::apply(a, v0), v1), v2), v3);
    if constexpr (tracks_nan<Op>()) {
      bool nan = a != a || v0 != v0 || v1 != v1 || v2 != v2 || v3 != v3;
      r = nan ? std::numeric_limits<A>::quiet_NaN() : r;
    }
    acc[j] = r;
  }
}

// acc[j] = op(acc[j], x[j]) for a row of the column reduction (NaN kept sticky for max/min).
template <typename T, typename A, typename Op>
ALLOY_SIMD_CLONES void accumulate_row(A* acc, const T* x, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    A v = A(x[j]);
    A r = Op::apply(acc[j], v);
    if constexpr (tracks_nan<Op>()) r = (v != v || acc[j] != acc[j]) ? v + acc[j] : r;
    acc[j] = r;
  }
}

template <typename T, typename A, typename Op>
void reduce_3d(const T* x, T* out, int64_t outer, int64_t R, int64_t inner) {
  if (inner == 1) {
    if (outer == 1) {
      // One long row: split it across threads, then combine.
      int64_t parts = std::min<int64_t>(cpu::num_threads() * 4, std::max<int64_t>(1, R / 65536));
      std::vector<A> partial(parts, Op::init());
      int64_t per = (R + parts - 1) / parts;
      cpu::parallel_for(parts, 1, [&](int64_t b, int64_t e) {
        for (int64_t p = b; p < e; ++p) {
          int64_t s = p * per, n = std::min(R, s + per) - s;
          if (n > 0) partial[p] = reduce_row<T, A, Op>(x + s, n);
        }
      });
      A acc = Op::init();
      bool any_nan = false;
      for (auto v : partial) {
        acc = Op::apply(acc, v);
        any_nan |= v != v;
      }
      if constexpr (tracks_nan<Op>()) {
        if (any_nan) acc = std::numeric_limits<A>::quiet_NaN();
      }
      out[0] = T(acc);
      return;
    }
    cpu::parallel_for(outer, std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) out[o] = T(reduce_row<T, A, Op>(x + o * R, R));
    });
    return;
  }
  // Column reduction, parallel over (outer, blocks of inner); each task streams whole rows of a
  // block (4096 elements: 16 KiB of float accumulators stay in L1).
  constexpr int64_t kBlock = 4096;
  int64_t blocks = (inner + kBlock - 1) / kBlock;
  int64_t tasks = outer * blocks;
  int64_t r_parts = 1;
  if (tasks < cpu::num_threads() * 2 && R >= 64) r_parts = std::min<int64_t>(cpu::num_threads() * 2, R / 32);
  // partial[(t * r_parts + p) * kBlock + j]: accumulators of task t over part p of R.
  std::unique_ptr<A[]> partial(new A[r_parts > 1 ? size_t(tasks * r_parts * kBlock) : 1]);
  cpu::parallel_for(tasks * r_parts, 1, [&](int64_t b, int64_t e) {
    std::unique_ptr<A[]> own(new A[kBlock]);
    for (int64_t u = b; u < e; ++u) {
      int64_t t = u / r_parts, p = u % r_parts;
      int64_t o = t / blocks, j0 = (t % blocks) * kBlock;
      int64_t n = std::min(kBlock, inner - j0);
      int64_t r0 = R * p / r_parts, r1 = R * (p + 1) / r_parts;
      A* acc = r_parts > 1 ? partial.get() + u * kBlock : own.get();
      std::fill(acc, acc + n, Op::init());
      const T* base = x + o * R * inner + j0;
      int64_t r = r0;
      for (; r + 4 <= r1; r += 4) accumulate_rows4<T, A, Op>(acc, base + r * inner, inner, n);
      for (; r < r1; ++r) accumulate_row<T, A, Op>(acc, base + r * inner, n);
      if (r_parts == 1) {
        for (int64_t j = 0; j < n; ++j) out[o * inner + j0 + j] = T(acc[j]);
      }
    }
  });
  if (r_parts > 1) {
    for (int64_t t = 0; t < tasks; ++t) {
      int64_t o = t / blocks, j0 = (t % blocks) * kBlock;
      int64_t n = std::min(kBlock, inner - j0);
      A* acc = partial.get() + t * r_parts * kBlock;
      for (int64_t p = 1; p < r_parts; ++p) accumulate_row<A, A, Op>(acc, acc + p * kBlock, n);
      for (int64_t j = 0; j < n; ++j) out[o * inner + j0 + j] = T(acc[j]);
    }
  }
}

template <typename T, template <typename> class OpT>
void reduce_typed(const T* x, T* out, int64_t outer, int64_t R, int64_t inner) {
  using A = compute_t<T>;
  reduce_3d<T, A, OpT<A>>(x, out, outer, R, inner);
}

}  // namespace

void Reduce::eval_cpu(const std::vector<array>& inputs, array& out) {
  array in = inputs[0];
  std::vector<int> axes = axes_;
  // Bring the reduced axes into one block when they are not: move them last with a copy.
  bool block = axes.back() - axes.front() + 1 == int(axes.size());
  if (!block || !in.flags().row_contiguous) {
    std::vector<int> perm, red;
    for (int d = 0; d < in.ndim(); ++d) {
      if (!std::binary_search(axes.begin(), axes.end(), d)) perm.push_back(d);
    }
    int first_reduced = int(perm.size());
    if (block) {
      perm.clear();
      for (int d = 0; d < in.ndim(); ++d) perm.push_back(d);
      first_reduced = axes.front();
    } else {
      perm.insert(perm.end(), axes.begin(), axes.end());
    }
    Shape shape;
    Strides strides;
    for (int d : perm) {
      shape.push_back(in.shape(d));
      strides.push_back(in.strides()[d]);
    }
    array tmp(shape, in.dtype(), nullptr, {});
    cpu::allocate(tmp);
    // Copy the permuted view densely.
    array view(shape, in.dtype(), nullptr, {});
    view.copy_shared_buffer(in, strides, cpu::view_flags(shape, strides), in.data_size(), in.offset());
    cpu::copy_into(view, tmp.raw_data_ptr(), tmp.dtype(), tmp.strides(), shape);
    in = tmp;
    for (size_t i = 0; i < axes.size(); ++i) axes[i] = first_reduced + int(i);
  }
  int64_t outer = 1, R = 1, inner = 1;
  for (int d = 0; d < in.ndim(); ++d) {
    if (d < axes.front()) outer *= in.shape(d);
    else if (d <= axes.back()) R *= in.shape(d);
    else inner *= in.shape(d);
  }
  cpu::allocate(out);
  dispatch_dtype(in.dtype(), [&](auto v) {
    using T = decltype(v);
    const T* x = static_cast<const T*>(in.raw_data_ptr());
    T* o = static_cast<T*>(out.raw_data_ptr());
    switch (op_) {
      case ReduceOp::sum: return reduce_typed<T, SumOp>(x, o, outer, R, inner);
      case ReduceOp::prod: return reduce_typed<T, ProdOp>(x, o, outer, R, inner);
      case ReduceOp::max: return reduce_typed<T, MaxOp>(x, o, outer, R, inner);
      case ReduceOp::min: return reduce_typed<T, MinOp>(x, o, outer, R, inner);
      case ReduceOp::any:
      case ReduceOp::all:
        if constexpr (std::is_same_v<T, bool>) {
          if (op_ == ReduceOp::any) reduce_3d<bool, bool, AnyOp>(x, o, outer, R, inner);
          else reduce_3d<bool, bool, AllOp>(x, o, outer, R, inner);
          return;
        } else {
          throw std::invalid_argument("[any/all] expects a bool input");
        }
    }
  });
}

void ArgReduce::eval_cpu(const std::vector<array>& inputs, array& out) {
  array in = cpu::as_row_contiguous(inputs[0]);
  int64_t outer = 1, R = in.shape(axis_), inner = 1;
  for (int d = 0; d < axis_; ++d) outer *= in.shape(d);
  for (int d = axis_ + 1; d < in.ndim(); ++d) inner *= in.shape(d);
  cpu::allocate(out);
  bool is_max = op_ == ArgReduceOp::argmax;
  dispatch_dtype(in.dtype(), [&](auto v) {
    using T = decltype(v);
    using C = compute_t<T>;
    const T* x = static_cast<const T*>(in.raw_data_ptr());
    uint32_t* o = static_cast<uint32_t*>(out.raw_data_ptr());
    cpu::parallel_for(outer * inner, std::max<int64_t>(1, 16384 / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        int64_t oi = t / inner, j = t % inner;
        const T* p = x + oi * R * inner + j;
        C best = C(p[0]);
        uint32_t idx = 0;
        for (int64_t r = 1; r < R; ++r) {
          C val = C(p[r * inner]);
          if (best != best) break;  // NaN wins, first occurrence
          bool better = is_max ? (val > best || val != val) : (val < best || val != val);
          if (better) {
            best = val;
            idx = uint32_t(r);
          }
        }
        o[t] = idx;
      }
    });
  });
}

}  // namespace alloy
