// Gather, Scatter, GatherAxis and ScatterAxis on the GPU: one thread per output (gathers) or
// update (scatters) element; the indices add their wrapped offsets to a strided base offset.
//
// Out-of-range indices: the CPU throws std::out_of_range before writing anything. CPU-resident
// indices (index arrays built on the host: the common case) are checked on the host before
// launching, with the CPU's message. GPU-resident indices are checked by the kernels themselves
// (cuda::device_check): an out-of-range index is reported with the same message when the
// primitive completes, its element is not read or written (gathers write 0 there), and the
// arrays computed from it carry the error. uint64 indices on the GPU fall back to the CPU
// (their conversion to int64 could wrap).
//
// Scatters combine with atomics: sum via atomicAdd where native (32/64-bit ints, float, double,
// __half, __nv_bfloat16 on sm_80+), everything else (prod, max, min, 16-bit int sums) via
// atomicCAS loops on the element's 2/4/8-byte word; 1-byte dtypes (bool, int8, uint8) fall back
// to the CPU for combining scatters. Float sums may round differently from the CPU's sequential
// order. ScatterOp::none matches the CPU's "last write wins" (the CPU applies index positions in
// order): when duplicates are possible, a claim pass records the largest index position per
// output element (atomicMax in a scratch buffer) and only that position writes.
#include <cstring>
#include <stdexcept>
#include <string>

#include "alloy/backend/cuda/kernel_utils.cuh"

namespace alloy {
namespace cuda {
namespace {

constexpr int kMaxIdx = kMaxDims;

// Row-contiguous index arrays (all of one type I) and, per array, the size of the axis it
// indexes (to wrap negatives) and that axis's stride in the strided operand.
// bad: null when the host validated the indices, else the device check pair (code, value).
template <typename I>
struct Indices {
  int n = 0;
  const I* ptr[kMaxIdx];
  int64_t size[kMaxIdx];
  int64_t stride[kMaxIdx];
  int64_t limit[kMaxIdx];  // the largest valid wrapped index: size - slice
  int64_t* bad = nullptr;
};

// Offset the indices at position p contribute; ok turns false at an out-of-range index, which
// is recorded (the first one that gets there) in ix.bad as (array number + 1, index).
template <typename I>
__device__ __forceinline__ int64_t index_offset(const Indices<I>& ix, int64_t p, bool& ok) {
  int64_t off = 0;
  for (int k = 0; k < ix.n; ++k) {
    int64_t v = int64_t(ix.ptr[k][p]);
    int64_t w = v < 0 ? v + ix.size[k] : v;
    if (ix.bad && (w < 0 || w > ix.limit[k])) {
      auto* code = reinterpret_cast<unsigned long long*>(ix.bad);
      if (atomicCAS(code, 0ull, static_cast<unsigned long long>(k + 1)) == 0ull) ix.bad[1] = v;
      ok = false;
    }
    off += w * ix.stride[k];
  }
  return off;
}

// out[e] = src[base(e) + indices at position e / div]; out row-contiguous.
template <typename U, typename I>
__global__ void gather_kernel(const U* src, U* out, int64_t n, Layout<1> l, Indices<I> ix, int64_t div) {
  ALLOY_GRID_STRIDE(e, n) {
    int64_t off[1];
    element_offsets<1>(e, l, off);
    bool ok = true;
    int64_t o = off[0] + index_offset(ix, e / div, ok);
    out[e] = ok ? src[o] : U(0);
  }
}

// Update element e reads upd[s] and targets out[d].
template <typename I>
__device__ __forceinline__ bool targets(int64_t e, const Layout<2>& l, const Indices<I>& ix, int64_t div,
                                        int64_t& s, int64_t& d) {
  int64_t off[2];
  element_offsets<2>(e, l, off);
  bool ok = true;
  s = off[0];
  d = off[1] + index_offset(ix, e / div, ok);
  return ok;
}

// The write order key of update element e (the CPU's loop position): (e / key_div) % key_mod.
__device__ __forceinline__ unsigned order_key(int64_t e, int64_t key_div, int64_t key_mod) {
  return unsigned((e / key_div) % key_mod) + 1;
}

template <typename I>
__global__ void claim_kernel(unsigned* winner, int64_t n, Layout<2> l, Indices<I> ix, int64_t div, int64_t key_div,
                             int64_t key_mod) {
  ALLOY_GRID_STRIDE(e, n) {
    int64_t s, d;
    if (!targets(e, l, ix, div, s, d)) continue;
    atomicMax(winner + d, order_key(e, key_div, key_mod));
  }
}

template <typename T>
using word_t = std::conditional_t<sizeof(T) == 2, unsigned short,
                                  std::conditional_t<sizeof(T) == 4, unsigned, unsigned long long>>;

template <typename To, typename From>
__device__ __forceinline__ To bits(From v) {
  static_assert(sizeof(To) == sizeof(From));
  To r;
  memcpy(&r, &v, sizeof(To));
  return r;
}

// op(d, x) as the CPU's combine: in the compute type, NaNs win max/min.
template <typename T, ScatterOp Op>
__device__ __forceinline__ T combined(T dst, T x) {
  using C = compute_t<T>;
  C d = C(dst), v = C(x);
  if constexpr (Op == ScatterOp::sum) {
    return convert<T>(C(d + v));
  } else if constexpr (Op == ScatterOp::prod) {
    return convert<T>(C(d * v));
  } else if constexpr (Op == ScatterOp::max) {
    return (v > d || v != v) ? x : dst;
  } else {
    return (v < d || v != v) ? x : dst;
  }
}

template <typename T, ScatterOp Op>
__device__ __forceinline__ void atomic_combine(T* dst, T x) {
  if constexpr (Op == ScatterOp::sum) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, int32_t> ||
                  std::is_same_v<T, uint32_t> || std::is_same_v<T, __half>) {
      atomicAdd(dst, x);
      return;
    } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>) {
      atomicAdd(reinterpret_cast<unsigned long long*>(dst), static_cast<unsigned long long>(x));
      return;
    }
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      atomicAdd(dst, x);
      return;
    }
#endif
  }
  using W = word_t<T>;
  W* p = reinterpret_cast<W*>(dst);
  W old = *p, assumed;
  do {
    assumed = old;
    W next = bits<W>(combined<T, Op>(bits<T>(assumed), x));
    if (next == assumed) return;
    old = atomicCAS(p, assumed, next);
  } while (old != assumed);
}

// Op none: T is a same-sized word; winner (when set) picks the last write per element.
template <typename T, ScatterOp Op, typename I>
__global__ void scatter_kernel(const T* upd, T* out, int64_t n, Layout<2> l, Indices<I> ix, int64_t div,
                               const unsigned* winner, int64_t key_div, int64_t key_mod) {
  ALLOY_GRID_STRIDE(e, n) {
    int64_t s, d;
    if (!targets(e, l, ix, div, s, d)) continue;
    if constexpr (Op == ScatterOp::none) {
      if (winner == nullptr || winner[d] == order_key(e, key_div, key_mod)) out[d] = upd[s];
    } else {
      atomic_combine<T, Op>(out + d, upd[s]);
    }
  }
}

// ---------- host side ----------

Strides strides_of(const array& a) { return a.data_size() == 1 ? Strides(a.ndim(), 0) : a.strides(); }

// Where index arrays are checked: on the host (all CPU-resident), by the kernels (GPU-resident
// and convertible to int64 without wrapping), or not on the GPU at all (fall back).
enum class IndexCheck { host, device, none };
IndexCheck index_check(const std::vector<array>& idx) {
  bool on_host = true;
  for (auto& i : idx) {
    if (!is_integral(i.dtype())) return IndexCheck::none;
    if (i.data_home() != Device::cpu) {
      if (i.dtype() == Dtype::uint64) return IndexCheck::none;
      on_host = false;
    }
  }
  if (idx.size() > size_t(kMaxIdx)) return IndexCheck::none;
  return on_host ? IndexCheck::host : IndexCheck::device;
}

std::string out_of_range_message(const std::string& op, int64_t index, int axis, int64_t size, int64_t slice) {
  std::string msg = "[" + op + "] index " + std::to_string(index) + " is out of range for axis " +
                    std::to_string(axis) + " of size " + std::to_string(size);
  if (slice > 1) msg += " with a slice of size " + std::to_string(slice);
  return msg;
}

// Throws as the CPU does ("[op] index V is out of range for axis A of size N") at the first
// row-major index whose wrapped value is outside [0, size - slice].
void check_indices(const std::string& op, const array& idx, int axis, int64_t size, int64_t slice) {
  if (idx.size() == 0) return;
  int64_t limit = size - slice;
  dispatch(idx.dtype(), [&](auto tag) {
    using I = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<I> && !std::is_same_v<I, bool>) {
      const I* p = static_cast<const I*>(const_cast<array&>(idx).raw_data_ptr());
      const Shape& sh = idx.shape();
      Strides st = strides_of(idx);
      int nd = int(sh.size());
      int64_t inner = nd ? sh[nd - 1] : 1, istride = nd ? st[nd - 1] : 0;
      int64_t rows = int64_t(idx.size()) / inner, off = 0;
      std::vector<int64_t> c(nd, 0);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t e = 0; e < inner; ++e) {
          I raw = p[off + e * istride];
          bool ok;
          if constexpr (std::is_unsigned_v<I>) {
            ok = limit >= 0 && uint64_t(raw) <= uint64_t(limit);
          } else {
            int64_t w = int64_t(raw) < 0 ? int64_t(raw) + size : int64_t(raw);
            ok = w >= 0 && w <= limit;
          }
          if (ok) continue;
          throw std::out_of_range(out_of_range_message(op, int64_t(raw), axis, size, slice));
        }
        for (int d = nd - 2; d >= 0; --d) {  // next row
          if (++c[d] < sh[d]) {
            off += st[d];
            break;
          }
          off -= st[d] * (sh[d] - 1);
          c[d] = 0;
        }
      }
    }
  });
}

// Per indexed axis: its size, its stride in the strided operand, the slice taken along it, and
// the largest valid wrapped index (size - slice).
struct IndexedAxes {
  std::vector<int64_t> sizes, strides, slices, limits;
};
IndexedAxes indexed_axes(const std::vector<int>& axes, const Shape& shape, const Strides& strides,
                         const Shape& slice) {
  IndexedAxes r;
  for (int ax : axes) {
    r.sizes.push_back(shape[ax]);
    r.strides.push_back(strides[ax]);
    r.slices.push_back(slice[ax]);
    r.limits.push_back(shape[ax] - slice[ax]);
  }
  return r;
}

// Checks index array k against (axes[k], sizes[k], slices[k]): on the host now, or on the
// device (returns the check pair for the kernels; call finish_device_check after them).
int64_t* validate_indices(IndexCheck where, const std::string& op, const std::vector<array>& idx,
                          const std::vector<int>& axes, const std::vector<int64_t>& sizes,
                          const std::vector<int64_t>& slices, const Stream& s) {
  if (where == IndexCheck::host) {
    for (size_t k = 0; k < idx.size(); ++k) check_indices(op, idx[k], axes[k], sizes[k], slices[k]);
    return nullptr;
  }
  return device_check(s, [=](int64_t code, int64_t value) {
    size_t k = size_t(code - 1);
    return std::make_exception_ptr(std::out_of_range(out_of_range_message(op, value, axes[k], sizes[k], slices[k])));
  });
}

// Calls fn(ix) with the index arrays row-contiguous on the GPU as int32 (when all are) or int64.
// sizes/strides: per array, the indexed axis's size and stride in the strided operand.
// limits: per array, the largest valid wrapped index; bad: the device check pair or null.
template <typename Fn>
void with_indices(const std::vector<array>& idx, const std::vector<int64_t>& sizes,
                  const std::vector<int64_t>& strides, const std::vector<int64_t>& limits, int64_t* bad,
                  const Stream& s, Fn&& fn) {
  bool all32 = true;
  for (auto& i : idx) all32 = all32 && i.dtype() == Dtype::int32;
  auto run = [&](auto tag) {
    using I = typename decltype(tag)::type;
    Indices<I> ix;
    ix.n = int(idx.size());
    for (int k = 0; k < ix.n; ++k) {
      array c = as_row_contiguous(idx[k], s, all32 ? Dtype::int32 : Dtype::int64);
      ix.ptr[k] = in_ptr<I>(c, s);
      ix.size[k] = sizes[k];
      ix.stride[k] = strides[k];
      ix.limit[k] = limits[k];
    }
    ix.bad = bad;
    fn(ix);
    if (bad) finish_device_check(s, bad);
  };
  if (all32) run(Tag<int32_t>{});
  else run(Tag<int64_t>{});
}

// Calls fn(Tag<U>{}) with U an unsigned word of `itemsize` bytes (copies move bits).
template <typename Fn>
void dispatch_word(size_t itemsize, Fn&& fn) {
  switch (itemsize) {
    case 1: return fn(Tag<uint8_t>{});
    case 2: return fn(Tag<uint16_t>{});
    case 4: return fn(Tag<uint32_t>{});
    case 8: return fn(Tag<uint64_t>{});
  }
  throw std::logic_error("[index] unexpected item size " + std::to_string(itemsize));
}

// out becomes a row-contiguous GPU copy of `a` (its buffer, when this op holds the last reference).
void copy_for_update(const array& a, array& out, const Stream& s) {
  if (a.is_donatable(Device::gpu) && a.flags().row_contiguous) {
    out.move_shared_buffer(a);
  } else {
    copy_contiguous(a, out, s);
  }
}

// Combining scatters need a 2/4/8-byte word for atomicCAS.
bool gpu_scatter_supported(ScatterOp op, Dtype t) { return op == ScatterOp::none || size_of(t) >= 2; }

// Runs the scatter kernels over n update elements (see scatter_kernel); key_mod > 1 means two
// update elements may target one output element, so `none` needs the claim pass.
template <typename I>
void launch_scatter(ScatterOp op, const array& upd, array& out, int64_t n, const Layout<2>& l, const Indices<I>& ix,
                    int64_t div, int64_t key_div, int64_t key_mod, const Stream& s) {
  cudaStream_t stream = stream_of(s);
  constexpr int threads = 256;
  unsigned blocks = grid_blocks(n, threads);
  auto go = [&](auto op_c) {
    constexpr ScatterOp Op = decltype(op_c)::value;
    if constexpr (Op == ScatterOp::none) {
      unsigned* winner = nullptr;
      if (key_mod > 1) {
        size_t bytes = out.size() * sizeof(unsigned);
        winner = static_cast<unsigned*>(scratch(s, bytes));
        check(cudaMemsetAsync(winner, 0, bytes, stream), "scatter claim reset");
        claim_kernel<I><<<blocks, threads, 0, stream>>>(winner, n, l, ix, div, key_div, key_mod);
        ALLOY_CUDA_LAUNCH_CHECK("scatter claim");
      }
      dispatch_word(out.itemsize(), [&](auto wt) {
        using U = typename decltype(wt)::type;
        scatter_kernel<U, Op, I><<<blocks, threads, 0, stream>>>(in_ptr<U>(upd, s), out_ptr<U>(out), n, l, ix, div,
                                                                  winner, key_div, key_mod);
      });
    } else {
      dispatch(out.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (sizeof(T) >= 2) {
          scatter_kernel<T, Op, I><<<blocks, threads, 0, stream>>>(in_ptr<T>(upd, s), out_ptr<T>(out), n, l, ix,
                                                                    div, nullptr, key_div, key_mod);
        } else {
          throw std::logic_error("[scatter] no GPU atomic for this dtype");
        }
      });
    }
    ALLOY_CUDA_LAUNCH_CHECK("scatter");
  };
  using C = ScatterOp;
  switch (op) {
    case C::none: return go(std::integral_constant<C, C::none>{});
    case C::sum: return go(std::integral_constant<C, C::sum>{});
    case C::prod: return go(std::integral_constant<C, C::prod>{});
    case C::max: return go(std::integral_constant<C, C::max>{});
    case C::min: return go(std::integral_constant<C, C::min>{});
  }
}

}  // namespace
}  // namespace cuda

// inputs: (a, idx_0, ..., idx_k-1), indices of one shape; out: (idx..., slice_sizes...).
void Gather::eval_gpu(const std::vector<array>& inputs, array& out) {
  const array& a = inputs[0];
  std::vector<array> idx(inputs.begin() + 1, inputs.end());
  if (out.size() == 0) return cuda::allocate(out);
  // a's offset of out element e without the indices: slice position (trailing dims) only.
  int idx_nd = out.ndim() - a.ndim();
  Strides a_st = cuda::strides_of(a);
  Strides st(idx_nd, 0);
  st.insert(st.end(), a_st.begin(), a_st.end());
  cuda::Layout<1> l;
  cuda::IndexCheck where = cuda::index_check(idx);
  if (where == cuda::IndexCheck::none || !cuda::make_layout<1>(out.shape(), {st}, l)) {
    return cuda::fallback_to_cpu(*this, inputs, out);
  }
  auto [sizes, strides, slices, limits] = cuda::indexed_axes(axes_, a.shape(), a_st, slice_sizes_);
  int64_t n = int64_t(out.size());
  int64_t slice = int64_t(shape_size(slice_sizes_));
  const Stream& s = stream();
  int64_t* bad = cuda::validate_indices(where, name(), idx, axes_, sizes, slices, s);
  cuda::with_indices(idx, sizes, strides, limits, bad, s, [&](const auto& ix) {
    using I = std::remove_cvref_t<decltype(*ix.ptr[0])>;
    cuda::dispatch_word(a.itemsize(), [&](auto wt) {
      using U = typename decltype(wt)::type;
      const U* src = cuda::in_ptr<U>(a, s);
      cuda::allocate(out);
      constexpr int threads = 256;
      cuda::gather_kernel<U, I><<<cuda::grid_blocks(n, threads), threads, 0, cuda::stream_of(s)>>>(
          src, cuda::out_ptr<U>(out), n, l, ix, slice);
      ALLOY_CUDA_LAUNCH_CHECK("gather");
    });
  });
}

// inputs: (a, idx_0, ..., idx_k-1, updates) with updates (idx..., slice...).
void Scatter::eval_gpu(const std::vector<array>& inputs, array& out) {
  const array& a = inputs[0];
  const array& upd = inputs.back();
  std::vector<array> idx(inputs.begin() + 1, inputs.end() - 1);
  const Stream& s = stream();
  if (upd.size() == 0) return cuda::copy_for_update(a, out, s);
  int idx_nd = upd.ndim() - a.ndim();
  Shape slice(upd.shape().begin() + idx_nd, upd.shape().end());
  int64_t count = int64_t(upd.size()) / int64_t(shape_size(slice));
  // Update element e: its own offset in upd, and the slice part of its offset in out.
  Strides out_st = row_major_strides(a.shape());
  Strides dst(idx_nd, 0);
  dst.insert(dst.end(), out_st.begin(), out_st.end());
  cuda::Layout<2> l;
  cuda::IndexCheck where = cuda::index_check(idx);
  if (where == cuda::IndexCheck::none || !cuda::gpu_scatter_supported(op_, out.dtype()) ||
      count >= int64_t(UINT32_MAX) || !cuda::make_layout<2>(upd.shape(), {cuda::strides_of(upd), dst}, l)) {
    return cuda::fallback_to_cpu(*this, inputs, out);
  }
  auto [sizes, strides, slices, limits] = cuda::indexed_axes(axes_, a.shape(), out_st, slice);
  int64_t* bad = cuda::validate_indices(where, name(), idx, axes_, sizes, slices, s);
  cuda::copy_for_update(a, out, s);
  int64_t per = int64_t(shape_size(slice));
  cuda::with_indices(idx, sizes, strides, limits, bad, s, [&](const auto& ix) {
    // Order key: the index position e / per (positions apply in order on the CPU).
    cuda::launch_scatter(op_, upd, out, int64_t(upd.size()), l, ix, per, per, count, s);
  });
}

// inputs: (a, idx) with idx's shape equal to a's outside axis_; out has idx's shape.
void GatherAxis::eval_gpu(const std::vector<array>& inputs, array& out) {
  const array& a = inputs[0];
  std::vector<array> idx{inputs[1]};
  if (out.size() == 0) return cuda::allocate(out);
  Strides a_st = cuda::strides_of(a);
  int64_t axis_stride = a_st[axis_];
  a_st[axis_] = 0;  // the index supplies the axis part
  cuda::Layout<1> l;
  cuda::IndexCheck where = cuda::index_check(idx);
  if (where == cuda::IndexCheck::none || !cuda::make_layout<1>(out.shape(), {a_st}, l)) {
    return cuda::fallback_to_cpu(*this, inputs, out);
  }
  int64_t n = int64_t(out.size());
  const Stream& s = stream();
  int64_t size = a.shape(axis_);
  int64_t* bad = cuda::validate_indices(where, name(), idx, {axis_}, {size}, {1}, s);
  cuda::with_indices(idx, {size}, {axis_stride}, {size - 1}, bad, s, [&](const auto& ix) {
    using I = std::remove_cvref_t<decltype(*ix.ptr[0])>;
    cuda::dispatch_word(a.itemsize(), [&](auto wt) {
      using U = typename decltype(wt)::type;
      const U* src = cuda::in_ptr<U>(a, s);
      cuda::allocate(out);
      constexpr int threads = 256;
      cuda::gather_kernel<U, I><<<cuda::grid_blocks(n, threads), threads, 0, cuda::stream_of(s)>>>(
          src, cuda::out_ptr<U>(out), n, l, ix, 1);
      ALLOY_CUDA_LAUNCH_CHECK("take_along_axis");
    });
  });
}

// inputs: (a, idx, values), idx and values of one shape, equal to a's outside axis_.
void ScatterAxis::eval_gpu(const std::vector<array>& inputs, array& out) {
  const array& a = inputs[0];
  std::vector<array> idx{inputs[1]};
  const array& vals = inputs[2];
  const Stream& s = stream();
  if (idx[0].size() == 0) return cuda::copy_for_update(a, out, s);
  Strides out_st = row_major_strides(a.shape());
  int64_t axis_stride = out_st[axis_];
  Strides dst = out_st;
  dst[axis_] = 0;  // the index supplies the axis part
  const Shape& ish = idx[0].shape();
  int64_t m = ish[axis_], inner = 1;
  for (int d = axis_ + 1; d < int(ish.size()); ++d) inner *= ish[d];
  cuda::Layout<2> l;
  cuda::IndexCheck where = cuda::index_check(idx);
  if (where == cuda::IndexCheck::none || !cuda::gpu_scatter_supported(op_, out.dtype()) ||
      m >= int64_t(UINT32_MAX) || !cuda::make_layout<2>(ish, {cuda::strides_of(vals), dst}, l)) {
    return cuda::fallback_to_cpu(*this, inputs, out);
  }
  int64_t size = a.shape(axis_);
  int64_t* bad = cuda::validate_indices(where, name(), idx, {axis_}, {size}, {1}, s);
  cuda::copy_for_update(a, out, s);
  cuda::with_indices(idx, {size}, {axis_stride}, {size - 1}, bad, s, [&](const auto& ix) {
    // Order key: the position j along the axis (lines along axis_ are disjoint).
    cuda::launch_scatter(op_, vals, out, int64_t(vals.size()), l, ix, 1, inner, m, s);
  });
}

}  // namespace alloy
