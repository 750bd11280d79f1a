// Reductions on the GPU. As on the CPU, the input is viewed as (outer, R, inner) with R the
// reduced extent; reduced axes that are not one block (or an input that is not row-contiguous)
// are first moved last by a row-contiguous copy. inner == 1 is a row reduction: one warp per
// short row, one block per long row (16-byte vector loads, several in flight per thread, warp
// shuffles); few long rows are split into parts across blocks and the parts reduced by a second
// pass. inner > 1 is a column reduction: a thread reads 16 bytes of adjacent columns per row
// (when the rows are 16-byte aligned), a block covers up to 32 such column groups with its
// threads across the groups and R, and R is split across blocks (second pass over the partials)
// when there are few columns.
// Accumulation is in compute_t<T> (float32 for 16-bit floats); max/min propagate NaN.
// ArgReduce: the first max/min index (a NaN counts as the best, first occurrence).
#include <algorithm>
#include <limits>
#include <utility>

#include "alloy/backend/cuda/combine_ops.cuh"
#include "alloy/backend/cuda/kernel_utils.cuh"

namespace alloy {
namespace cuda {
namespace {


// __shfl_xor_sync for any arithmetic type of up to 8 bytes.
template <typename A>
__device__ __forceinline__ A shfl_xor(A v, int mask) {
  if constexpr (sizeof(A) == 8) {
    long long b;
    memcpy(&b, &v, 8);
    b = __shfl_xor_sync(0xffffffffu, b, mask);
    memcpy(&v, &b, 8);
  } else {
    int b = 0;
    memcpy(&b, &v, sizeof(A));
    b = __shfl_xor_sync(0xffffffffu, b, mask);
    memcpy(&v, &b, sizeof(A));
  }
  return v;
}

template <typename A, typename Op>
__device__ __forceinline__ A warp_reduce(A v) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v = Op::apply(v, shfl_xor(v, m));
  return v;
}

// The block's result in thread 0 (blockDim.x a multiple of 32); callers sync before reusing
// smem.
template <typename A, typename Op>
__device__ __forceinline__ A block_reduce(A v, A* smem) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  v = warp_reduce<A, Op>(v);
  if (lane == 0) smem[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < warps ? smem[lane] : Op::init();
    v = warp_reduce<A, Op>(v);
  }
  return v;
}

// Loads in flight per thread in the streaming loops (independent 16-byte loads per iteration).
constexpr int kUnroll = 4;

// Accumulates x[0, n) stepping by `step` from `first`, with 16-byte loads on the aligned body
// (kUnroll independent loads per iteration, each into its own accumulator).
template <typename In, typename A, typename Op>
__device__ __forceinline__ A reduce_segment(const In* x, int64_t n, int first, int step) {
  A acc = Op::init();
  constexpr int V = int(16 / sizeof(In));
  int64_t head = int64_t(((16 - (reinterpret_cast<uintptr_t>(x) & 15)) & 15) / sizeof(In));
  head = head < n ? head : n;
  for (int64_t i = first; i < head; i += step) acc = Op::apply(acc, convert<A>(x[i]));
  const In* body = x + head;
  const uint4* body4 = reinterpret_cast<const uint4*>(body);
  int64_t nv = (n - head) / V;
  A accs[kUnroll];
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) accs[u] = Op::init();
  int64_t v = first;
  for (; v + int64_t(kUnroll - 1) * step < nv; v += int64_t(kUnroll) * step) {
    uint4 raw[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) raw[u] = body4[v + int64_t(u) * step];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      In vals[V];
      memcpy(vals, &raw[u], 16);
#pragma unroll
      for (int k = 0; k < V; ++k) accs[u] = Op::apply(accs[u], convert<A>(vals[k]));
    }
  }
  for (; v < nv; v += step) {
    uint4 raw = body4[v];
    In vals[V];
    memcpy(vals, &raw, 16);
#pragma unroll
    for (int k = 0; k < V; ++k) accs[0] = Op::apply(accs[0], convert<A>(vals[k]));
  }
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) acc = Op::apply(acc, accs[u]);
  for (int64_t i = head + nv * V + first; i < n; i += step) acc = Op::apply(acc, convert<A>(x[i]));
  return acc;
}

// x (rows, R) -> out (rows, parts): out[row * parts + p] reduces part p of the row. One warp
// per task.
template <typename In, typename A, typename Out, typename Op>
__global__ void row_reduce_warp(const In* x, Out* out, int64_t rows, int64_t R, int64_t parts) {
  int lane = threadIdx.x & 31;
  int64_t warps = int64_t(gridDim.x) * (blockDim.x >> 5);
  for (int64_t t = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); t < rows * parts; t += warps) {
    int64_t row = t / parts, p = t % parts;
    int64_t r0 = R * p / parts, r1 = R * (p + 1) / parts;
    A acc = reduce_segment<In, A, Op>(x + row * R + r0, r1 - r0, lane, 32);
    acc = warp_reduce<A, Op>(acc);
    if (lane == 0) out[t] = convert<Out>(acc);
  }
}

// As row_reduce_warp with one block per task.
template <typename In, typename A, typename Out, typename Op>
__global__ void row_reduce_block(const In* x, Out* out, int64_t rows, int64_t R, int64_t parts) {
  __shared__ A smem[32];
  for (int64_t t = blockIdx.x; t < rows * parts; t += gridDim.x) {
    int64_t row = t / parts, p = t % parts;
    int64_t r0 = R * p / parts, r1 = R * (p + 1) / parts;
    A acc = reduce_segment<In, A, Op>(x + row * R + r0, r1 - r0, int(threadIdx.x), int(blockDim.x));
    acc = block_reduce<A, Op>(acc, smem);
    if (threadIdx.x == 0) out[t] = convert<Out>(acc);
    __syncthreads();
  }
}

// x (outer, R, inner) -> out (parts, outer, inner). A block of 256 threads = TX column groups x
// TY rows (TX = 1 << tx_log2); a thread covers V adjacent columns (one 16-byte load per row when
// V > 1: inner % V == 0 and x 16-byte aligned), so a task is TX * V adjacent columns of one outer
// index over part p of R. Each thread keeps kUnroll rows' loads in flight; the TY partial
// results are then combined by a tree in shared memory.
template <typename In, typename A, typename Out, typename Op, int V>
__global__ void col_reduce(const In* x, Out* out, int64_t outer, int64_t R, int64_t inner, int64_t parts,
                           int tx_log2) {
  __shared__ A smem[V * 256];
  int TX = 1 << tx_log2, TY = int(blockDim.x) >> tx_log2;
  int tx = int(threadIdx.x) & (TX - 1), ty = int(threadIdx.x) >> tx_log2;
  int64_t tile_cols = int64_t(TX) * V;
  int64_t col_tiles = (inner + tile_cols - 1) / tile_cols;
  int64_t tasks = outer * col_tiles * parts;
  for (int64_t t = blockIdx.x; t < tasks; t += gridDim.x) {
    int64_t p = t % parts, tile = t / parts;
    int64_t o = tile / col_tiles, j = (tile % col_tiles) * tile_cols + int64_t(tx) * V;
    int64_t r0 = R * p / parts, r1 = R * (p + 1) / parts;
    A acc[V];
#pragma unroll
    for (int k = 0; k < V; ++k) acc[k] = Op::init();
    if (j < inner) {
      const In* base = x + o * R * inner + j;
      int64_t r = r0 + ty;
      if constexpr (V == 1) {
        for (; r + int64_t(kUnroll - 1) * TY < r1; r += int64_t(kUnroll) * TY) {
          In vals[kUnroll];
#pragma unroll
          for (int u = 0; u < kUnroll; ++u) vals[u] = base[(r + int64_t(u) * TY) * inner];
#pragma unroll
          for (int u = 0; u < kUnroll; ++u) acc[0] = Op::apply(acc[0], convert<A>(vals[u]));
        }
        for (; r < r1; r += TY) acc[0] = Op::apply(acc[0], convert<A>(base[r * inner]));
      } else {
        static_assert(V * sizeof(In) == 16);
        for (; r + int64_t(kUnroll - 1) * TY < r1; r += int64_t(kUnroll) * TY) {
          uint4 raw[kUnroll];
#pragma unroll
          for (int u = 0; u < kUnroll; ++u) raw[u] = *reinterpret_cast<const uint4*>(base + (r + int64_t(u) * TY) * inner);
#pragma unroll
          for (int u = 0; u < kUnroll; ++u) {
            In vals[V];
            memcpy(vals, &raw[u], 16);
#pragma unroll
            for (int k = 0; k < V; ++k) acc[k] = Op::apply(acc[k], convert<A>(vals[k]));
          }
        }
        for (; r < r1; r += TY) {
          uint4 raw = *reinterpret_cast<const uint4*>(base + r * inner);
          In vals[V];
          memcpy(vals, &raw, 16);
#pragma unroll
          for (int k = 0; k < V; ++k) acc[k] = Op::apply(acc[k], convert<A>(vals[k]));
        }
      }
    }
#pragma unroll
    for (int k = 0; k < V; ++k) smem[k * 256 + threadIdx.x] = acc[k];
    __syncthreads();
    for (int h = TY >> 1; h > 0; h >>= 1) {
      if (ty < h) {
#pragma unroll
        for (int k = 0; k < V; ++k) {
          acc[k] = Op::apply(acc[k], smem[k * 256 + (ty + h) * TX + tx]);
          smem[k * 256 + threadIdx.x] = acc[k];
        }
      }
      __syncthreads();
    }
    if (ty == 0 && j < inner) {
      Out* dst = out + p * outer * inner + o * inner + j;
#pragma unroll
      for (int k = 0; k < V; ++k) {
        if (j + k < inner) dst[k] = convert<Out>(acc[k]);
      }
    }
  }
}

int sm_count() { return device_properties().multiProcessorCount; }

// Blocks of 256 threads resident per SM for a kernel (queried once per kernel).
template <typename K>
int blocks_per_sm(K kernel) {
  int n = 0;
  ALLOY_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, 256, 0));
  return std::max(n, 1);
}

template <typename In, typename A, typename Out, typename Op>
void launch_rows(const In* x, Out* out, int64_t rows, int64_t R, int64_t parts, cudaStream_t st) {
  int64_t tasks = rows * parts;
  if (R / parts <= 512) {
    int64_t blocks = std::min<int64_t>((tasks + 7) / 8, int64_t(sm_count()) * 32);
    row_reduce_warp<In, A, Out, Op><<<unsigned(std::max<int64_t>(blocks, 1)), 256, 0, st>>>(x, out, rows, R, parts);
    ALLOY_CUDA_LAUNCH_CHECK("row_reduce_warp");
  } else {
    static const int occ = blocks_per_sm(row_reduce_block<In, A, Out, Op>);
    // One block per task up to many waves (the scheduler balances them), then grid-stride.
    int64_t blocks = std::min<int64_t>(tasks, int64_t(sm_count()) * occ * 64);
    row_reduce_block<In, A, Out, Op><<<unsigned(std::max<int64_t>(blocks, 1)), 256, 0, st>>>(x, out, rows, R, parts);
    ALLOY_CUDA_LAUNCH_CHECK("row_reduce_block");
  }
}

// Columns per thread of col_reduce for x (outer, R, inner): a 16-byte vector when every row
// start is 16-byte aligned, else 1; and tx_log2 (column groups per block).
template <typename In>
std::pair<int, int> col_config(const In* x, int64_t inner) {
  constexpr int VW = int(16 / sizeof(In));
  int v = (VW > 1 && inner % VW == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0) ? VW : 1;
  int64_t groups = (inner + v - 1) / v;
  int tx_log2 = 0;
  while (tx_log2 < 5 && (int64_t(1) << tx_log2) < groups) ++tx_log2;
  return {v, tx_log2};
}

template <typename In, typename A, typename Out, typename Op>
void launch_cols(const In* x, Out* out, int64_t outer, int64_t R, int64_t inner, int64_t parts, cudaStream_t st) {
  constexpr int VW = int(16 / sizeof(In));
  auto [v, tx_log2] = col_config(x, inner);
  int64_t tile_cols = int64_t(v) << tx_log2;
  int64_t tasks = outer * ((inner + tile_cols - 1) / tile_cols) * parts;
  unsigned blocks = unsigned(std::max<int64_t>(std::min<int64_t>(tasks, int64_t(sm_count()) * 64), 1));
  if constexpr (VW > 1) {
    if (v == VW) {
      col_reduce<In, A, Out, Op, VW><<<blocks, 256, 0, st>>>(x, out, outer, R, inner, parts, tx_log2);
      ALLOY_CUDA_LAUNCH_CHECK("col_reduce");
      return;
    }
  }
  col_reduce<In, A, Out, Op, 1><<<blocks, 256, 0, st>>>(x, out, outer, R, inner, parts, tx_log2);
  ALLOY_CUDA_LAUNCH_CHECK("col_reduce");
}

// x (outer, R, inner) -> out (outer, inner), splitting R across blocks when the other work is
// too little to fill the GPU (about two waves of blocks for rows, four for columns).
template <typename T, typename A, typename Op>
void reduce_3d(const T* x, T* out, int64_t outer, int64_t R, int64_t inner, const Stream& s) {
  cudaStream_t st = stream_of(s);
  if (inner == 1) {
    int64_t target = int64_t(sm_count()) * 16;
    int64_t parts = 1;
    if (outer < target && R >= 32768) parts = std::clamp<int64_t>(target / outer, 1, std::min<int64_t>(4096, R / 8192));
    if (parts == 1) return launch_rows<T, A, T, Op>(x, out, outer, R, 1, st);
    A* partial = static_cast<A*>(scratch(s, size_t(outer * parts) * sizeof(A)));  // (outer, parts)
    launch_rows<T, A, A, Op>(x, partial, outer, R, parts, st);
    return launch_rows<A, A, T, Op>(partial, out, outer, parts, 1, st);
  }
  int64_t target = int64_t(sm_count()) * 32;
  auto [v, tx_log2] = col_config(x, inner);
  int64_t tile_cols = int64_t(v) << tx_log2;
  int64_t tiles = outer * ((inner + tile_cols - 1) / tile_cols);
  int64_t parts = 1;
  if (tiles < target && R >= 256) parts = std::clamp<int64_t>(target / tiles, 1, std::min<int64_t>(1024, R / 128));
  if (parts == 1) return launch_cols<T, A, T, Op>(x, out, outer, R, inner, 1, st);
  A* partial = static_cast<A*>(scratch(s, size_t(parts * outer * inner) * sizeof(A)));  // (parts, outer*inner)
  launch_cols<T, A, A, Op>(x, partial, outer, R, inner, parts, st);
  launch_cols<A, A, T, Op>(partial, out, 1, parts, outer * inner, 1, st);
}

// ---------- arg reductions ----------
constexpr uint32_t kEmpty = 0xffffffffu;

template <typename C>
__device__ __forceinline__ bool is_nan(C v) {
  if constexpr (std::is_floating_point_v<C>) return v != v;
  else return false;
}

// The better of two candidates (value, index): NaN first, then strictly better, then lower index.
template <typename C>
__device__ __forceinline__ void arg_combine(C& v, uint32_t& i, C v2, uint32_t i2, bool is_max) {
  if (i2 == kEmpty) return;
  if (i == kEmpty) {
    v = v2, i = i2;
    return;
  }
  bool n1 = is_nan(v), n2 = is_nan(v2);
  bool take;
  if (n1 || n2) take = n1 && n2 ? i2 < i : n2;
  else if (is_max ? v2 > v : v2 < v) take = true;
  else if (is_max ? v > v2 : v < v2) take = false;
  else take = i2 < i;
  if (take) v = v2, i = i2;
}

// x (rows, R) -> out (rows): one warp per row.
template <typename T>
__global__ void arg_rows(const T* x, uint32_t* out, int64_t rows, int64_t R, bool is_max) {
  using C = compute_t<T>;
  int lane = threadIdx.x & 31;
  int64_t warps = int64_t(gridDim.x) * (blockDim.x >> 5);
  for (int64_t row = int64_t(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5); row < rows; row += warps) {
    C v{};
    uint32_t i = kEmpty;
    for (int64_t r = lane; r < R; r += 32) arg_combine<C>(v, i, convert<C>(x[row * R + r]), uint32_t(r), is_max);
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) {
      C v2 = shfl_xor(v, m);
      uint32_t i2 = __shfl_xor_sync(0xffffffffu, i, m);
      arg_combine<C>(v, i, v2, i2, is_max);
    }
    if (lane == 0) out[row] = i == kEmpty ? 0u : i;
  }
}

// x (outer, R, inner) -> out (outer, inner): one thread per column, scanning R in order.
template <typename T>
__global__ void arg_cols(const T* x, uint32_t* out, int64_t outer, int64_t R, int64_t inner, bool is_max) {
  using C = compute_t<T>;
  ALLOY_GRID_STRIDE(t, outer * inner) {
    int64_t o = t / inner, j = t % inner;
    const T* p = x + o * R * inner + j;
    C v{};
    uint32_t i = kEmpty;
    for (int64_t r = 0; r < R; ++r) {
      if (i != kEmpty && is_nan(v)) break;
      arg_combine<C>(v, i, convert<C>(p[r * inner]), uint32_t(r), is_max);
    }
    out[t] = i == kEmpty ? 0u : i;
  }
}

}  // namespace
}  // namespace cuda

void Reduce::eval_gpu(const std::vector<array>& inputs, array& out) {
  array in = inputs[0];
  std::vector<int> axes = axes_;
  bool block = axes.back() - axes.front() + 1 == int(axes.size());
  bool need_copy = !block || !in.flags().row_contiguous;
  if (in.dtype() != out.dtype() || (need_copy && in.ndim() > cuda::kMaxDims)) {
    return cuda::fallback_to_cpu(*this, inputs, out);
  }
  cuda::allocate(out);
  if (out.size() == 0) return;
  int64_t outer = 1, R = 1, inner = 1;
  if (in.size() == 0) {
    // Nothing to read: every output is the identity (outer = outputs, R = 0).
    outer = int64_t(out.size()), R = 0;
  } else {
    if (need_copy) {
      // Row-contiguous copy with the non-reduced axes first, then the reduced ones (in order);
      // a block keeps the axis order. The copy writes `in` through the permuted strides of tmp.
      std::vector<int> perm;
      if (block) {
        for (int d = 0; d < in.ndim(); ++d) perm.push_back(d);
      } else {
        for (int d = 0; d < in.ndim(); ++d) {
          if (!std::binary_search(axes.begin(), axes.end(), d)) perm.push_back(d);
        }
        int first = int(perm.size());
        perm.insert(perm.end(), axes.begin(), axes.end());
        for (size_t i = 0; i < axes.size(); ++i) axes[i] = first + int(i);
      }
      Shape shape;
      for (int d : perm) shape.push_back(in.shape(d));
      array tmp(shape, in.dtype(), nullptr, {});
      cuda::allocate(tmp);
      Strides dst(in.ndim());
      for (int k = 0; k < in.ndim(); ++k) dst[perm[k]] = tmp.strides()[k];
      cuda::copy_into(in, cuda::device_out_ptr(tmp), tmp.dtype(), dst, in.shape(), stream());
      tmp.set_status(array::Status::available);
      cuda::keep_until_complete(stream(), tmp);
      in = tmp;
    }
    for (int d = 0; d < in.ndim(); ++d) {
      if (d < axes.front()) outer *= in.shape(d);
      else if (d <= axes.back()) R *= in.shape(d);
      else inner *= in.shape(d);
    }
  }
  cuda::dispatch(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = cuda::compute_t<T>;
    const T* x = in.size() == 0 ? nullptr : cuda::in_ptr<T>(in, stream());
    T* o = cuda::out_ptr<T>(out);
    switch (op_) {
      case ReduceOp::sum: return cuda::reduce_3d<T, A, cuda::SumOp<A>>(x, o, outer, R, inner, stream());
      case ReduceOp::prod: return cuda::reduce_3d<T, A, cuda::ProdOp<A>>(x, o, outer, R, inner, stream());
      case ReduceOp::max: return cuda::reduce_3d<T, A, cuda::MaxOp<A>>(x, o, outer, R, inner, stream());
      case ReduceOp::min: return cuda::reduce_3d<T, A, cuda::MinOp<A>>(x, o, outer, R, inner, stream());
      case ReduceOp::any:
      case ReduceOp::all:
        if constexpr (std::is_same_v<T, bool>) {
          if (op_ == ReduceOp::any) cuda::reduce_3d<bool, bool, cuda::AnyOp>(x, o, outer, R, inner, stream());
          else cuda::reduce_3d<bool, bool, cuda::AllOp>(x, o, outer, R, inner, stream());
          return;
        } else {
          throw std::invalid_argument("[any/all] expects a bool input");
        }
    }
  });
}

void ArgReduce::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (out.dtype() != uint32) return cuda::fallback_to_cpu(*this, inputs, out);
  array in = cuda::as_row_contiguous(inputs[0], stream());
  int64_t outer = 1, R = in.shape(axis_), inner = 1;
  for (int d = 0; d < axis_; ++d) outer *= in.shape(d);
  for (int d = axis_ + 1; d < in.ndim(); ++d) inner *= in.shape(d);
  cuda::allocate(out);
  if (out.size() == 0) return;
  bool is_max = op_ == ArgReduceOp::argmax;
  cudaStream_t st = cuda::stream_of(stream());
  cuda::dispatch(in.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = in.size() == 0 ? nullptr : cuda::in_ptr<T>(in, stream());
    uint32_t* o = cuda::out_ptr<uint32_t>(out);
    constexpr int threads = 256;
    if (inner == 1) {
      int64_t blocks = std::min<int64_t>((outer + 7) / 8, int64_t(cuda::sm_count()) * 32);
      cuda::arg_rows<T><<<unsigned(std::max<int64_t>(blocks, 1)), threads, 0, st>>>(x, o, outer, R, is_max);
      ALLOY_CUDA_LAUNCH_CHECK("arg_rows");
    } else {
      cuda::arg_cols<T><<<cuda::grid_blocks(outer * inner, threads), threads, 0, st>>>(x, o, outer, R, inner, is_max);
      ALLOY_CUDA_LAUNCH_CHECK("arg_cols");
    }
  });
}

}  // namespace alloy
