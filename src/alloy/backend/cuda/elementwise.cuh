// Elementwise kernels for any number of inputs. The output is row-contiguous. Dense, 16-byte
// aligned inputs take the contiguous path (four elements per thread as vector accesses); a
// broadcast scalar is read once per thread, and a CPU-resident scalar is passed by value (no
// copy to the GPU); anything else (unaligned dense views included) takes the strided path,
// which walks collapsed dims with per-operand strides.
#pragma once

#include <cuda/std/tuple>
#include <utility>

#include "alloy/backend/cuda/kernel_utils.cuh"

namespace alloy::cuda {

// Four elements moved as one access (16 bytes for float32).
template <typename T>
struct alignas(4 * sizeof(T)) Vec4 {
  T v[4];
};

// One input operand as a kernel sees it.
template <typename T>
struct Operand {
  const T* ptr = nullptr;
  T value{};
  // 0: dense (contiguous path) or strided; 1: the scalar `value`; 2: the scalar ptr[0].
  int mode = 0;
  __device__ __forceinline__ T at(int64_t i) const {
    return mode == 0 ? ptr[i] : (mode == 1 ? value : ptr[0]);
  }
  // Elements base..base+3, ptr + base 4-element aligned.
  __device__ __forceinline__ void load4(int64_t base, T (&v)[4]) const {
    if (mode == 0) {
      Vec4<T> x = *reinterpret_cast<const Vec4<T>*>(ptr + base);
#pragma unroll
      for (int j = 0; j < 4; ++j) v[j] = x.v[j];
    } else {
      T s = mode == 1 ? value : ptr[0];
#pragma unroll
      for (int j = 0; j < 4; ++j) v[j] = s;
    }
  }
  bool aligned() const { return mode != 0 || reinterpret_cast<uintptr_t>(ptr) % sizeof(Vec4<T>) == 0; }
};

template <typename T>
Operand<T> make_operand(const array& a, const Stream& s) {
  Operand<T> op;
  if (a.data_size() == 1 && a.data_home() == Device::cpu) {
    op.mode = 1;
    op.value = *static_cast<const T*>(const_cast<array&>(a).raw_data_ptr());
    return op;
  }
  op.ptr = in_ptr<T>(a, s);
  op.mode = a.data_size() == 1 ? 2 : 0;
  return op;
}

inline bool dense_or_scalar(const array& a) { return a.flags().row_contiguous || a.data_size() == 1; }

template <typename... In>
using Operands = ::cuda::std::tuple<Operand<In>...>;

// fn(operand 0 at off[0], operand 1 at off[1], ...).
template <typename Fn, typename Ops, typename Off, size_t... I>
__device__ __forceinline__ auto apply_at(const Fn& fn, const Ops& ops, const Off& off,
                                         std::index_sequence<I...>) {
  return fn(::cuda::std::get<I>(ops).at(off[I])...);
}

// out[base..base+3] = fn(inputs at base..base+3), as vector accesses.
template <typename Out, typename Fn, typename... In, size_t... I>
__device__ __forceinline__ void apply4(Out* out, int64_t base, const Fn& fn, const Operands<In...>& ops,
                                       std::index_sequence<I...>) {
  ::cuda::std::tuple<Vec4<In>...> v;
  (::cuda::std::get<I>(ops).load4(base, ::cuda::std::get<I>(v).v), ...);
  Vec4<Out> r;
#pragma unroll
  for (int j = 0; j < 4; ++j) r.v[j] = fn(::cuda::std::get<I>(v).v[j]...);
  *reinterpret_cast<Vec4<Out>*>(out + base) = r;
}

// Four consecutive elements per thread, as one vector access per operand (every operand and
// the output 4-element aligned).
template <typename Out, typename Fn, typename... In>
__global__ void ew_contiguous(Out* out, int64_t n, Fn fn, Operands<In...> ops) {
  constexpr auto seq = std::index_sequence_for<In...>{};
  int64_t stride = int64_t(gridDim.x) * blockDim.x * 4;
  for (int64_t base = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * 4; base < n; base += stride) {
    if (base + 4 <= n) {
      apply4(out, base, fn, ops, seq);
    } else {
      for (int64_t i = base; i < n; ++i) {
        int64_t off[sizeof...(In)];
        for (size_t k = 0; k < sizeof...(In); ++k) off[k] = i;
        out[i] = apply_at(fn, ops, off, seq);
      }
    }
  }
}

template <int K, typename Out, typename Fn, typename... In>
__global__ void ew_strided(Out* out, int64_t n, Layout<K> layout, Fn fn, Operands<In...> ops) {
  ALLOY_GRID_STRIDE(i, n) {
    int64_t off[K];
    element_offsets<K>(i, layout, off);
    out[i] = apply_at(fn, ops, off, std::index_sequence_for<In...>{});
  }
}

inline void allocate_or_donate(const std::vector<array>& inputs, array& out);

// out = fn(inputs...) elementwise, with inputs already broadcast to out's shape. Allocates out
// (or takes over a donated input's buffer). Returns false, having done nothing, when the layout
// has more dims than the strided kernel takes (the caller falls back to the CPU).
template <typename Out, typename... In, typename Fn>
bool launch_elementwise(const std::vector<array>& inputs, array& out, const Stream& s, Fn fn) {
  constexpr int K = int(sizeof...(In));
  return [&]<size_t... I>(std::index_sequence<I...>) {
    bool dense = (dense_or_scalar(inputs[I]) && ...);
    // The strided path also takes dense operands that are not 16-byte aligned (one kernel fewer
    // per op and dtype: the elementwise files are the slowest to compile after CUB's sort). A
    // layout that does not fit the strided kernel is found before anything is done; dense
    // operands always fit (they collapse to one dim), so theirs is made only when needed.
    auto make = [&](Layout<K>& layout) {
      std::array<Strides, K> st{(inputs[I].data_size() == 1 ? Strides(out.ndim(), 0) : inputs[I].strides())...};
      return make_layout<K>(out.shape(), st, layout);
    };
    Layout<K> layout;
    if (!dense && !make(layout)) return false;
    // Operands first: donation moves an input's buffer into out.
    Operands<In...> ops{make_operand<In>(inputs[I], s)...};
    allocate_or_donate(inputs, out);
    int64_t n = int64_t(out.size());
    if (n == 0) return true;
    cudaStream_t stream = stream_of(s);
    Out* o = out_ptr<Out>(out);
    constexpr int threads = 256;
    bool aligned = (::cuda::std::get<I>(ops).aligned() && ...) &&
                   reinterpret_cast<uintptr_t>(o) % sizeof(Vec4<Out>) == 0;
    if (dense && aligned) {
      ew_contiguous<Out, Fn, In...><<<grid_blocks((n + 3) / 4, threads), threads, 0, stream>>>(o, n, fn, ops);
    } else {
      if (dense) make(layout);  // strides only: still valid after a donation
      ew_strided<K, Out, Fn, In...><<<grid_blocks(n, threads), threads, 0, stream>>>(
          o, n, layout, fn, ops);
    }
    ALLOY_CUDA_LAUNCH_CHECK("elementwise kernel");
    return true;
  }(std::index_sequence_for<In...>{});
}

// Allocates out, reusing the buffer of a donatable dense input of the output's dtype.
inline void allocate_or_donate(const std::vector<array>& inputs, array& out) {
  for (auto& in : inputs) {
    if (in.dtype() == out.dtype() && in.is_donatable(Device::gpu) && in.flags().row_contiguous &&
        in.size() == out.size()) {
      out.move_shared_buffer(in);
      return;
    }
  }
  allocate(out);
}

}  // namespace alloy::cuda
