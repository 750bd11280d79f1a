// Scans (cumsum, cumprod, cummax, cummin) along one axis on the GPU.
//
// Design: the scan axis is made last with dense rows (a row-contiguous input with inner == 1 is
// used in place; otherwise a transposing copy into a temporary), then every row is scanned by
// row_scan, and a scan through a temporary is copied back to `out` in the original axis order.
// row_scan: a block (32 threads for rows of at most 256 elements, else 256) owns a chunk of a
// row and walks it in tiles of THREADS * ITEMS elements: coalesced (striped) loads into shared
// memory, a cub::BlockScan over each thread's ITEMS consecutive elements with a running prefix
// carried across tiles, and coalesced stores. Reverse scans walk the row from its end. Rows are
// one chunk each unless there are too few rows to fill the GPU, in which case long rows are split
// into chunks scanned reduce-then-scan: a block reduction per chunk, an exclusive row_scan of the
// chunk totals (recursively), and the chunk scans seeded with those prefixes.
// As on the CPU: accumulation in compute_t<T> (float32 for 16-bit floats, rounded to T per
// element), max/min propagate NaN, exclusive scans start from the op's identity.
#include <cub/cub.cuh>

#include <algorithm>
#include <limits>

#include "alloy/backend/cuda/combine_ops.cuh"
#include "alloy/backend/cuda/kernel_utils.cuh"

namespace alloy {
namespace cuda {
namespace {

// BlockScan prefix callback: hands out the running total and folds in each tile's aggregate.
template <typename A, typename Op>
struct RunningPrefix {
  A running;
  __device__ __forceinline__ A operator()(A tile_aggregate) {
    A old = running;
    running = Op{}(running, tile_aggregate);
    return old;
  }
};

// Shared-memory index with one pad slot per 32 so blocked reads avoid bank conflicts.
__device__ __forceinline__ int padded(int i) { return i + (i >> 5); }

// Block b scans chunk b % chunks of row b / chunks: logical positions [c * chunk_len, ...) of
// the row, physical position R - 1 - s when reversed; seeded with prefixes[b] when given.
template <typename T, typename A, typename Op, int THREADS, int ITEMS>
__global__ void __launch_bounds__(THREADS)
scan_chunks(const T* x, T* y, int64_t tasks, int64_t R, int64_t chunk_len, int64_t chunks,
            const A* prefixes, bool reverse, bool inclusive) {
  constexpr int TILE = THREADS * ITEMS;
  using BlockScan = cub::BlockScan<A, THREADS>;
  __shared__ typename BlockScan::TempStorage scan_tmp;
  __shared__ A tile[TILE + TILE / 32];
  const int t = threadIdx.x;
  for (int64_t b = blockIdx.x; b < tasks; b += gridDim.x) {
    int64_t row = b / chunks, c = b % chunks;
    const T* xr = x + row * R;
    T* yr = y + row * R;
    int64_t begin = c * chunk_len, end = begin + chunk_len < R ? begin + chunk_len : R;
    RunningPrefix<A, Op> prefix{prefixes ? prefixes[b] : Op::init()};
    for (int64_t s0 = begin; s0 < end; s0 += TILE) {
#pragma unroll
      for (int k = 0; k < ITEMS; ++k) {
        int idx = k * THREADS + t;
        int64_t s = s0 + idx;
        tile[padded(idx)] = s < end ? convert<A>(xr[reverse ? R - 1 - s : s]) : Op::init();
      }
      __syncthreads();
      A v[ITEMS];
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) v[i] = tile[padded(t * ITEMS + i)];
      if (inclusive) BlockScan(scan_tmp).InclusiveScan(v, v, Op{}, prefix);
      else BlockScan(scan_tmp).ExclusiveScan(v, v, Op{}, prefix);
      // Each thread overwrites only the slots it read.
#pragma unroll
      for (int i = 0; i < ITEMS; ++i) tile[padded(t * ITEMS + i)] = v[i];
      __syncthreads();
#pragma unroll
      for (int k = 0; k < ITEMS; ++k) {
        int idx = k * THREADS + t;
        int64_t s = s0 + idx;
        if (s < end) yr[reverse ? R - 1 - s : s] = convert<T>(tile[padded(idx)]);
      }
      __syncthreads();  // tile and scan_tmp are reused by the next tile
    }
  }
}

// agg[b] = the op over chunk b % chunks of row b / chunks (logical positions, as scan_chunks).
template <typename T, typename A, typename Op, int THREADS>
__global__ void __launch_bounds__(THREADS)
reduce_chunks(const T* x, A* agg, int64_t tasks, int64_t R, int64_t chunk_len, int64_t chunks,
              bool reverse) {
  using BlockReduce = cub::BlockReduce<A, THREADS>;
  __shared__ typename BlockReduce::TempStorage tmp;
  for (int64_t b = blockIdx.x; b < tasks; b += gridDim.x) {
    int64_t row = b / chunks, c = b % chunks;
    const T* xr = x + row * R;
    int64_t begin = c * chunk_len, end = begin + chunk_len < R ? begin + chunk_len : R;
    A acc = Op::init();
    // Logical positions, as in scan_chunks (the ops are commutative, so the order is free).
    for (int64_t s = begin + threadIdx.x; s < end; s += THREADS) {
      acc = Op{}(acc, convert<A>(xr[reverse ? R - 1 - s : s]));
    }
    A total = BlockReduce(tmp).Reduce(acc, Op{});
    if (threadIdx.x == 0) agg[b] = total;
    __syncthreads();
  }
}

inline unsigned task_blocks(int64_t tasks) {
  return unsigned(std::min<int64_t>(tasks, int64_t(std::numeric_limits<int>::max())));
}

// Scans `rows` dense rows of length R from x into y.
template <typename T, typename A, typename Op>
void row_scan(const T* x, T* y, int64_t rows, int64_t R, bool reverse, bool inclusive, const Stream& s) {
  cudaStream_t st = stream_of(s);
  if (R <= 256) {
    scan_chunks<T, A, Op, 32, 8><<<task_blocks(rows), 32, 0, st>>>(x, y, rows, R, R, 1, nullptr, reverse, inclusive);
    ALLOY_CUDA_LAUNCH_CHECK("scan_rows");
    return;
  }
  constexpr int THREADS = 256, ITEMS = sizeof(A) > 4 ? 4 : 8, TILE = THREADS * ITEMS;
  int64_t target = int64_t(device_properties().multiProcessorCount) * 8;
  int64_t tiles = (R + TILE - 1) / TILE;
  int64_t chunks = 1;
  if (rows < target && tiles > 4) chunks = std::min(tiles, (target + rows - 1) / rows);
  int64_t chunk_len = ((R + chunks - 1) / chunks + TILE - 1) / TILE * TILE;
  chunks = (R + chunk_len - 1) / chunk_len;
  int64_t tasks = rows * chunks;
  A* pre = nullptr;
  if (chunks > 1) {
    A* agg = static_cast<A*>(scratch(s, size_t(tasks) * sizeof(A)));
    pre = static_cast<A*>(scratch(s, size_t(tasks) * sizeof(A)));
    reduce_chunks<T, A, Op, THREADS><<<task_blocks(tasks), THREADS, 0, st>>>(x, agg, tasks, R, chunk_len, chunks, reverse);
    ALLOY_CUDA_LAUNCH_CHECK("scan_reduce_chunks");
    // Chunk totals are in logical order: a forward exclusive scan gives each chunk's prefix.
    row_scan<A, A, Op>(agg, pre, rows, chunks, false, false, s);
  }
  scan_chunks<T, A, Op, THREADS, ITEMS><<<task_blocks(tasks), THREADS, 0, st>>>(
      x, y, tasks, R, chunk_len, chunks, pre, reverse, inclusive);
  ALLOY_CUDA_LAUNCH_CHECK("scan_rows");
}

}  // namespace
}  // namespace cuda

void Scan::eval_gpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  if (out.dtype() != in.dtype()) return cuda::fallback_to_cpu(*this, inputs, out);
  cuda::allocate(out);
  if (out.size() == 0) return;
  const Stream& s = stream();
  int nd = in.ndim();
  int64_t R = in.shape(axis_), inner = 1;
  for (int d = axis_ + 1; d < nd; ++d) inner *= in.shape(d);
  int64_t rows = int64_t(in.size()) / R;
  auto run = [&](const array& src, void* dst) {
    cuda::dispatch(in.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using A = cuda::compute_t<T>;
      const T* x = cuda::in_ptr<T>(src, s);
      T* y = static_cast<T*>(dst);
      switch (op_) {
        case ScanOp::sum: return cuda::row_scan<T, A, cuda::SumOp<A>>(x, y, rows, R, reverse_, inclusive_, s);
        case ScanOp::prod: return cuda::row_scan<T, A, cuda::ProdOp<A>>(x, y, rows, R, reverse_, inclusive_, s);
        case ScanOp::max: return cuda::row_scan<T, A, cuda::MaxOp<A>>(x, y, rows, R, reverse_, inclusive_, s);
        case ScanOp::min: return cuda::row_scan<T, A, cuda::MinOp<A>>(x, y, rows, R, reverse_, inclusive_, s);
      }
    });
  };
  if (inner == 1) {
    run(cuda::as_row_contiguous(in, s), cuda::device_out_ptr(out));
    return;
  }
  cuda::along_last_axis(in, out, axis_, s, run);
}

}  // namespace alloy
