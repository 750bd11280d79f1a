// Gather, Scatter, GatherAxis and ScatterAxis on the CPU. Indices (any integer dtype, any layout)
// are first read into a row-major int64 buffer, wrapped and range-checked, so the copy loops see
// plain offsets and an out-of-range index throws before anything is read or written. Copies move
// elements as same-sized unsigned words; scatters that combine values dispatch on the dtype.
// Scatters run in parallel only where no two index positions can touch the same element.
#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>

#include "alloy/backend/common/elementwise_ops.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/core/primitives.h"

namespace alloy {
namespace {
using ew::compute_t;

// The first (lowest position) out-of-range index found by any thread.
class BadIndex {
 public:
  void report(int64_t pos, std::string value) {
    std::lock_guard lk(mutex_);
    if (pos < pos_) {
      pos_ = pos;
      value_ = std::move(value);
    }
  }
  // Throws "[op] index V is out of range for axis A of size N".
  void throw_if_any(const std::string& op, int axis, int64_t size, int64_t slice) const {
    if (pos_ == std::numeric_limits<int64_t>::max()) return;
    std::string msg = "[" + op + "] index " + value_ + " is out of range for axis " + std::to_string(axis) +
                      " of size " + std::to_string(size);
    if (slice > 1) msg += " with a slice of size " + std::to_string(slice);
    throw std::out_of_range(msg);
  }

 private:
  std::mutex mutex_;
  int64_t pos_ = std::numeric_limits<int64_t>::max();
  std::string value_;
};

// Calls fn(I{}) with I the C++ type of an integer dtype.
template <typename Fn>
void dispatch_index(Dtype t, Fn&& fn) {
  dispatch_dtype(t, [&](auto v) {
    using I = decltype(v);
    if constexpr (std::is_integral_v<I> && !std::is_same_v<I, bool>) {
      fn(v);
    } else {
      throw std::invalid_argument(std::string("[index] indices must be integers, got ") + dtype_name(t));
    }
  });
}

// Calls fn(U{}) with U an unsigned word of `itemsize` bytes (gathers copy bits, not values).
template <typename Fn>
void dispatch_word(size_t itemsize, Fn&& fn) {
  switch (itemsize) {
    case 1: return fn(uint8_t{});
    case 2: return fn(uint16_t{});
    case 4: return fn(uint32_t{});
    case 8: return fn(uint64_t{});
  }
  throw std::logic_error("[index] unexpected item size " + std::to_string(itemsize));
}

// acc[i] (+)= wrap(idx[i]) * mult for every position i of idx (row-major). Valid wrapped indices
// lie in [0, size - slice]; negative ones count from the end.
void read_indices(const std::string& op, const array& idx, int axis, int64_t size, int64_t slice, int64_t mult,
                  std::vector<int64_t>& acc, bool first) {
  int64_t limit = size - slice;
  BadIndex bad;
  Strides rm = row_major_strides(idx.shape());
  dispatch_index(idx.dtype(), [&](auto v) {
    using I = decltype(v);
    const I* p = static_cast<const I*>(const_cast<array&>(idx).raw_data_ptr());
    cpu::for_each_row<2>(idx.shape(), {idx.strides(), rm},
                         [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                           for (int64_t e = 0; e < n; ++e) {
                             I raw = p[off[0] + e * st[0]];
                             int64_t pos = off[1] + e * st[1];
                             int64_t w;
                             bool ok;
                             if constexpr (std::is_unsigned_v<I>) {
                               ok = limit >= 0 && uint64_t(raw) <= uint64_t(limit);
                               w = int64_t(raw);
                             } else {
                               w = int64_t(raw) < 0 ? int64_t(raw) + size : int64_t(raw);
                               ok = w >= 0 && w <= limit;
                             }
                             if (!ok) {
                               bad.report(pos, std::to_string(raw));
                               continue;
                             }
                             acc[pos] = first ? w * mult : acc[pos] + w * mult;
                           }
                         });
  });
  bad.throw_if_any(op, axis, size, slice);
}

// A strided block (`shape`) walked as rows: row r starts at src[r] / dst[r] and has n elements
// with inner strides src_stride / dst_stride.
struct BlockRows {
  int64_t n = 1, src_stride = 0, dst_stride = 0;
  std::vector<int64_t> src, dst;
};

BlockRows block_rows(const Shape& shape, const Strides& src, const Strides& dst) {
  BlockRows b;
  auto [cs, st] = collapse_dims<2>(shape, {src, dst});
  if (!cs.empty()) {
    b.n = cs.back();
    b.src_stride = st[0].back();
    b.dst_stride = st[1].back();
    cs.pop_back();
  }
  int64_t rows = 1;
  for (auto d : cs) rows *= d;
  int nd = int(cs.size());
  std::vector<int64_t> idx(nd, 0);
  int64_t so = 0, dso = 0;
  for (int64_t r = 0; r < rows; ++r) {
    b.src.push_back(so);
    b.dst.push_back(dso);
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < cs[d]) {
        so += st[0][d];
        dso += st[1][d];
        break;
      }
      so -= st[0][d] * (cs[d] - 1);
      dso -= st[1][d] * (cs[d] - 1);
      idx[d] = 0;
    }
  }
  return b;
}

template <typename U>
inline void copy_run(const U* src, int64_t ss, U* dst, int64_t ds, int64_t n) {
  if (ss == 1 && ds == 1) {
    std::memcpy(dst, src, size_t(n) * sizeof(U));
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i * ds] = src[i * ss];
  }
}

// dst = op(dst, x) in the compute type; `none` overwrites. NaNs win max/min as in the reductions.
template <typename T>
inline void combine(ScatterOp op, T& dst, T x) {
  using C = compute_t<T>;
  C d = C(dst), v = C(x);
  switch (op) {
    case ScatterOp::none: dst = x; return;
    case ScatterOp::sum:
      if constexpr (std::is_same_v<T, bool>) dst = d || v;
      else dst = T(d + v);
      return;
    case ScatterOp::prod:
      if constexpr (std::is_same_v<T, bool>) dst = d && v;
      else dst = T(d * v);
      return;
    case ScatterOp::max:
      if (v > d || v != v) dst = x;
      return;
    case ScatterOp::min:
      if (v < d || v != v) dst = x;
      return;
  }
}

}  // namespace

// inputs: (a, idx_0, ..., idx_k-1), indices of one shape; out: (idx..., slice_sizes...).
void Gather::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& a = inputs[0];
  cpu::allocate(out);
  if (out.size() == 0) return;
  Shape idx_shape = inputs.size() > 1 ? inputs[1].shape() : Shape{};
  int64_t count = int64_t(shape_size(idx_shape));
  // base[i]: element offset into a of the slice start for index position i.
  std::vector<int64_t> base(count, 0);
  for (size_t k = 0; k < axes_.size(); ++k) {
    int ax = axes_[k];
    read_indices(name(), inputs[k + 1], ax, a.shape(ax), slice_sizes_[ax], a.strides()[ax], base, k == 0);
  }
  BlockRows rows = block_rows(slice_sizes_, a.strides(), row_major_strides(slice_sizes_));
  int64_t slice_size = int64_t(shape_size(slice_sizes_));
  int64_t nrows = int64_t(rows.src.size());
  dispatch_word(a.itemsize(), [&](auto w) {
    using U = decltype(w);
    const U* src = static_cast<const U*>(const_cast<array&>(a).raw_data_ptr());
    U* dst = static_cast<U*>(out.raw_data_ptr());
    if (slice_size == 1) {  // point gathers: one element per index position
      cpu::parallel_for(count, 32768, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) dst[i] = src[base[i]];
      });
      return;
    }
    cpu::parallel_for(count * nrows, std::max<int64_t>(1, 32768 / rows.n), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        int64_t i = t / nrows, r = t % nrows;
        copy_run(src + base[i] + rows.src[r], rows.src_stride, dst + i * slice_size + rows.dst[r], rows.dst_stride,
                 rows.n);
      }
    });
  });
}

// inputs: (a, idx_0, ..., idx_k-1, updates) with updates (idx..., slice...).
void Scatter::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& a = inputs[0];
  const array& upd = inputs.back();
  cpu::copy_or_donate(a, out);
  if (upd.size() == 0) return;
  int idx_nd = upd.ndim() - a.ndim();
  Shape idx_shape(upd.shape().begin(), upd.shape().begin() + idx_nd);
  Shape slice(upd.shape().begin() + idx_nd, upd.shape().end());
  Strides upd_lead(upd.strides().begin(), upd.strides().begin() + idx_nd);
  Strides upd_slice(upd.strides().begin() + idx_nd, upd.strides().end());
  int64_t count = int64_t(shape_size(idx_shape));

  std::vector<int64_t> base(count, 0);  // offsets into out
  for (size_t k = 0; k < axes_.size(); ++k) {
    int ax = axes_[k];
    read_indices(name(), inputs[k + 1], ax, a.shape(ax), slice[ax], out.strides()[ax], base, k == 0);
  }
  std::vector<int64_t> ubase(count, 0);  // offsets into updates
  cpu::for_each_row<2>(idx_shape, {upd_lead, row_major_strides(idx_shape)},
                       [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                         for (int64_t e = 0; e < n; ++e) ubase[off[1] + e * st[1]] = off[0] + e * st[0];
                       });
  BlockRows rows = block_rows(slice, upd_slice, out.strides());
  int64_t nrows = int64_t(rows.src.size());

  // Distinct index positions write disjoint elements when every indexed axis has slice size 1;
  // then the slice is split across threads and each thread applies the indices in order.
  bool disjoint = count == 1;
  if (!disjoint) {
    disjoint = true;
    for (int ax : axes_) disjoint = disjoint && slice[ax] == 1;
  }
  constexpr int64_t kCols = 4096;
  int64_t col_blocks = (rows.n + kCols - 1) / kCols;
  ScatterOp op = op_;
  dispatch_dtype(out.dtype(), [&](auto v) {
    using T = decltype(v);
    const T* u = static_cast<const T*>(const_cast<array&>(upd).raw_data_ptr());
    T* o = static_cast<T*>(out.raw_data_ptr());
    auto apply = [&](int64_t i, int64_t r, int64_t c0, int64_t c1) {
      const T* us = u + ubase[i] + rows.src[r];
      T* os = o + base[i] + rows.dst[r];
      for (int64_t c = c0; c < c1; ++c) combine<T>(op, os[c * rows.dst_stride], us[c * rows.src_stride]);
    };
    if (!disjoint) {
      for (int64_t i = 0; i < count; ++i) {
        for (int64_t r = 0; r < nrows; ++r) apply(i, r, 0, rows.n);
      }
      return;
    }
    int64_t units = nrows * col_blocks;
    int64_t work_per_unit = std::max<int64_t>(1, count * std::min(rows.n, kCols));
    cpu::parallel_for(units, std::max<int64_t>(1, 32768 / work_per_unit), [&](int64_t b, int64_t e) {
      for (int64_t i = 0; i < count; ++i) {
        for (int64_t t = b; t < e; ++t) {
          int64_t r = t / col_blocks, c0 = (t % col_blocks) * kCols;
          apply(i, r, c0, std::min(rows.n, c0 + kCols));
        }
      }
    });
  });
}

// inputs: (a, idx) with idx's shape equal to a's outside axis_; out has idx's shape.
void GatherAxis::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& a = inputs[0];
  const array& idx = inputs[1];
  cpu::allocate(out);
  if (out.size() == 0) return;
  std::vector<int64_t> pos(out.size());
  read_indices(name(), idx, axis_, a.shape(axis_), 1, 1, pos, true);
  // Walk out (row-major) beside a with its axis stride zeroed; the index supplies that part.
  Strides a_st = a.strides();
  int64_t axis_stride = a_st[axis_];
  a_st[axis_] = 0;
  dispatch_word(a.itemsize(), [&](auto w) {
    using U = decltype(w);
    const U* src = static_cast<const U*>(const_cast<array&>(a).raw_data_ptr());
    U* dst = static_cast<U*>(out.raw_data_ptr());
    cpu::for_each_row<2>(out.shape(), {a_st, out.strides()},
                         [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                           for (int64_t e = 0; e < n; ++e) {
                             int64_t o = off[1] + e * st[1];
                             dst[o] = src[off[0] + e * st[0] + pos[o] * axis_stride];
                           }
                         });
  });
}

// inputs: (a, idx, values), idx and values of one shape, equal to a's outside axis_.
void ScatterAxis::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& a = inputs[0];
  const array& idx = inputs[1];
  const array& vals = inputs[2];
  cpu::copy_or_donate(a, out);
  if (idx.size() == 0) return;
  std::vector<int64_t> pos(idx.size());
  read_indices(name(), idx, axis_, a.shape(axis_), 1, 1, pos, true);
  // Lines along axis_ are disjoint in out, so they run in parallel; within a line the indices
  // apply in order (the last write wins).
  Shape line_shape = idx.shape();
  Strides pos_st = row_major_strides(idx.shape()), val_st = vals.strides(), out_st = out.strides();
  int64_t m = line_shape[axis_];
  int64_t pos_axis = pos_st[axis_], val_axis = val_st[axis_], out_axis = out_st[axis_];
  line_shape.erase(line_shape.begin() + axis_);
  pos_st.erase(pos_st.begin() + axis_);
  val_st.erase(val_st.begin() + axis_);
  out_st.erase(out_st.begin() + axis_);
  ScatterOp op = op_;
  dispatch_dtype(out.dtype(), [&](auto v) {
    using T = decltype(v);
    const T* src = static_cast<const T*>(const_cast<array&>(vals).raw_data_ptr());
    T* dst = static_cast<T*>(out.raw_data_ptr());
    cpu::for_each_row<3>(line_shape, {pos_st, val_st, out_st},
                         [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                           for (int64_t e = 0; e < n; ++e) {
                             const int64_t* p = pos.data() + off[0] + e * st[0];
                             const T* s = src + off[1] + e * st[1];
                             T* d = dst + off[2] + e * st[2];
                             for (int64_t j = 0; j < m; ++j) combine<T>(op, d[p[j * pos_axis] * out_axis], s[j * val_axis]);
                           }
                         });
  });
}

}  // namespace alloy
