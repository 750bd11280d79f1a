// CUDA kernels of the fused cross entropy over logits (N, C) with rows `ld` >= C elements apart
// (row-contiguous, or the padded rows of a wide matmul output; other layouts are copied first),
// the gradient written with the logits' row pitch: a block per row
// (grid-stride over rows) of 32..512 threads picked from C. The loss kernel reads a row once:
// each thread keeps an online (max m, sum of exp(x - m)) over 16-byte vectors, kUnroll loads in
// flight, merged across the block. A row is walked as a scalar head up to its first 16-byte
// boundary, whole vectors, and a scalar tail, so every row takes vector loads whatever C is (a
// row of 50257 bf16 starts at any even address). The gradient kernel reads the row once more and
// writes dx = g exp(x - lse) - g eps / C, less g (1 - eps) at the target, with vector stores when
// x and dx are equally aligned (scalar loads and stores otherwise), in place over logits nothing
// else reads. Math in float32 (float64 for
// float64), as on the CPU. Targets outside [0, C) other than ignore_index: CPU-resident targets
// are checked on the host before launching, with the CPU's message; GPU-resident ones by the
// kernels (cuda::device_check), raised when the primitive completes (that row's loss and
// gradient are NaN meanwhile).
#include <algorithm>
#include <limits>

#include "alloy/backend/common/cross_entropy_targets.h"
#include "alloy/backend/cuda/kernel_utils.cuh"
#include "alloy/core/fast_primitives.h"

namespace alloy {
namespace cuda {
namespace {

constexpr int kUnroll = 4;     // vector loads in flight per thread
constexpr int kMaxThreads = 512;

template <typename A>
__device__ __forceinline__ A exp_of(A x) {
  if constexpr (std::is_same_v<A, float>) return expf(x);
  else return exp(x);
}
template <typename A>
__device__ __forceinline__ A log_of(A x) {
  if constexpr (std::is_same_v<A, float>) return logf(x);
  else return log(x);
}

template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

// Elements per 16-byte vector.
template <typename T>
constexpr int vec_width() {
  return int(16 / sizeof(T));
}

// The row's split into a scalar head [0, head), vectors of V from head, and a scalar tail: head
// reaches the first 16-byte boundary (the whole row when !vectorize).
struct RowSplit {
  int64_t head, nvec, tail;  // tail: the first element after the vectors
};
template <typename T, int V>
__device__ __forceinline__ RowSplit split_row(const T* row, int64_t n, bool vectorize) {
  if (!vectorize) return {n, 0, n};
  int64_t head = int64_t(((16 - (reinterpret_cast<uintptr_t>(row) & 15)) & 15) / sizeof(T));
  head = head < n ? head : n;
  int64_t nvec = (n - head) / V;
  return {head, nvec, head + nvec * V};
}

// Calls scalar(i) for the head and tail elements and vector(first element, Vec) for the vectors
// of row, spread over the block's threads with kUnroll vector loads in flight.
template <typename T, int V, typename S, typename F>
__device__ __forceinline__ void walk_row(const T* row, int64_t n, const RowSplit& sp, S&& scalar, F&& vector) {
  const int tid = int(threadIdx.x), threads = int(blockDim.x);
  for (int64_t i = tid; i < sp.head; i += threads) scalar(i);
  for (int64_t i = sp.tail + tid; i < n; i += threads) scalar(i);
  const Vec<T, V>* vp = reinterpret_cast<const Vec<T, V>*>(row + sp.head);
  for (int64_t j = tid; j < sp.nvec; j += int64_t(threads) * kUnroll) {
    Vec<T, V> buf[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      int64_t k = j + int64_t(u) * threads;
      if (k < sp.nvec) buf[u] = vp[k];
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      int64_t k = j + int64_t(u) * threads;
      if (k < sp.nvec) vector(sp.head + k * V, buf[u]);
    }
  }
}

// Online (max m, sum s of exp(x - m)), plus the plain sum of x when Sum (label smoothing). m is
// never NaN; a NaN makes s NaN. While m is -inf (only -inf seen) s is 0, or NaN after a NaN.
template <typename A, bool Sum>
struct RowStats {
  A m, s, sx;
  __device__ __forceinline__ void add(const A* v, int count) {
    constexpr A neg_inf = -std::numeric_limits<A>::infinity();
    A vm = neg_inf;
    for (int c = 0; c < count; ++c) vm = v[c] > vm ? v[c] : vm;
    if (vm > m) {
      s = s * exp_of(A(m - vm));  // exp(-inf) = 0 at the first finite value
      m = vm;
    }
    const A base = m == neg_inf ? A(0) : m;
    for (int c = 0; c < count; ++c) {
      s += exp_of(A(v[c] - base));
      if constexpr (Sum) sx += v[c];
    }
  }
  __device__ __forceinline__ void merge(A m2, A s2, A sx2) {
    constexpr A neg_inf = -std::numeric_limits<A>::infinity();
    A mx = m2 > m ? m2 : m;
    s = mx == neg_inf ? A(s + s2) : A(s * exp_of(A(m - mx)) + s2 * exp_of(A(m2 - mx)));
    m = mx;
    if constexpr (Sum) sx += sx2;
  }
  // logsumexp of the row.
  __device__ __forceinline__ A lse() const {
    return (m == -std::numeric_limits<A>::infinity() ? A(0) : m) + log_of(s);
  }
};

// The block's merged stats in every thread. smem: 3 * 32 values.
template <typename A, bool Sum>
__device__ __forceinline__ RowStats<A, Sum> block_merge(RowStats<A, Sum> st, A* smem) {
#pragma unroll
  for (int k = 16; k > 0; k >>= 1) {
    A m2 = __shfl_xor_sync(0xffffffffu, st.m, k);
    A s2 = __shfl_xor_sync(0xffffffffu, st.s, k);
    A sx2 = Sum ? __shfl_xor_sync(0xffffffffu, st.sx, k) : A(0);
    st.merge(m2, s2, sx2);
  }
  const int warps = int(blockDim.x >> 5);
  if (warps == 1) return st;
  const int lane = int(threadIdx.x & 31), warp = int(threadIdx.x >> 5);
  if (lane == 0) smem[warp] = st.m, smem[32 + warp] = st.s, smem[64 + warp] = st.sx;
  __syncthreads();
  RowStats<A, Sum> all{-std::numeric_limits<A>::infinity(), A(0), A(0)};
  for (int w = 0; w < warps; ++w) all.merge(smem[w], smem[32 + w], smem[64 + w]);
  __syncthreads();  // smem is reused by the next row
  return all;
}

// Records an out-of-range target in the device check pair (the first to get there wins).
__device__ __forceinline__ void report_target(int64_t* bad, int64_t target) {
  if (atomicCAS(reinterpret_cast<unsigned long long*>(bad), 0ull, 1ull) == 0ull) bad[1] = target;
}

// x (N, C), rows ld apart; t (N,) int64; loss, lse (N,). bad: the device check pair, or null (checked on the host).
// The thread that reads the target's element during the walk writes the loss, so no thread waits
// on a dependent load of x[t] at the end of the row.
template <typename T, typename A, bool Smooth>
__global__ void __launch_bounds__(kMaxThreads, 2) cross_entropy_kernel(const T* x, int64_t ld, const int64_t* t, A* loss, A* lse_out, int64_t rows, int64_t classes,
                                     int64_t ignore_index, A eps, int64_t* bad) {
  constexpr int V = vec_width<T>();
  __shared__ A smem[96];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * ld;
    const int64_t target = t[r];  // the same address in every thread: one load
    const int64_t find = target == ignore_index ? -1 : target;  // the element to read; -1 matches none
    RowStats<A, Smooth> st{-std::numeric_limits<A>::infinity(), A(0), A(0)};
    A xt = A(0);
    bool owner = false;  // this thread read x[target]
    RowSplit sp = split_row<T, V>(row, classes, true);
    walk_row<T, V>(
        row, classes, sp,
        [&](int64_t i) {
          A v = convert<A>(row[i]);
          st.add(&v, 1);
          if (i == find) xt = v, owner = true;
        },
        [&](int64_t first, const Vec<T, V>& vec) {
          A v[V];
#pragma unroll
          for (int c = 0; c < V; ++c) v[c] = convert<A>(vec.v[c]);
          st.add(v, V);
          const uint64_t lane = uint64_t(find - first);  // one compare per vector
          if (lane < uint64_t(V)) {
#pragma unroll
            for (int c = 0; c < V; ++c) xt = uint64_t(c) == lane ? v[c] : xt;
            owner = true;
          }
        });
    st = block_merge(st, smem);
    const A lse = st.lse();
    if (owner) {
      A nll = lse - xt;
      loss[r] = Smooth ? A((A(1) - eps) * nll + eps * (lse - st.sx / A(classes))) : nll;
    }
    if (threadIdx.x == 0) {
      lse_out[r] = lse;
      if (target == ignore_index) {
        loss[r] = A(0);
      } else if (target < 0 || target >= classes) {
        if (bad) report_target(bad, target);
        loss[r] = std::numeric_limits<A>::quiet_NaN();
      }
    }
  }
}

// x, dx (N, C), rows ld apart; t, lse, g (N,). aligned: x and dx rows share their 16-byte
// alignment.
template <typename T, typename A>
__global__ void __launch_bounds__(kMaxThreads, 2) cross_entropy_grad_kernel(const T* x, int64_t ld, const int64_t* t, const A* lse, const A* g, T* dx, int64_t rows,
                                          int64_t classes, int64_t ignore_index, A uniform, A keep_w, bool aligned,
                                          int64_t* bad) {
  constexpr int V = vec_width<T>();
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * ld;
    T* drow = dx + r * ld;
    int64_t target = t[r];
    A gr = g[r], l = lse[r];
    const bool ignored = target == ignore_index;  // a zero row, whatever x holds (as on the CPU)
    if (ignored) {
      target = -1;
    } else if (target < 0 || target >= classes) {
      if (bad && threadIdx.x == 0) report_target(bad, target);
      gr = std::numeric_limits<A>::quiet_NaN();
      target = -1;
    }
    const A shift = gr * uniform, hit = gr * keep_w;
    auto d = [&](A v, bool at_target) {
      return convert<T>(ignored ? A(0) : A(gr * exp_of(A(v - l)) - shift - (at_target ? hit : A(0))));
    };
    RowSplit sp = split_row<T, V>(row, classes, aligned);
    walk_row<T, V>(
        row, classes, sp, [&](int64_t i) { drow[i] = d(convert<A>(row[i]), i == target); },
        [&](int64_t first, const Vec<T, V>& vec) {
          // The target's lane in this vector, or -1: one 64-bit compare per vector.
          const uint64_t lane = uint64_t(target - first);  // V or more (none) unless the target is here
          Vec<T, V> o;
#pragma unroll
          for (int c = 0; c < V; ++c) o.v[c] = d(convert<A>(vec.v[c]), uint64_t(c) == lane);
          *reinterpret_cast<Vec<T, V>*>(drow + first) = o;
        });
  }
}

// Threads per row: enough for kUnroll vectors each, 32..512.
int row_threads(int64_t classes, int vec) {
  int64_t want = (classes + int64_t(vec) * kUnroll - 1) / (int64_t(vec) * kUnroll);
  int threads = 32;
  while (threads < kMaxThreads && threads < want) threads <<= 1;
  return threads;
}

unsigned row_blocks(int64_t rows, int threads) {
  int64_t per_sm = 2048 / threads;  // resident blocks per multiprocessor at full occupancy
  int64_t cap = int64_t(device_properties().multiProcessorCount) * per_sm * 8;
  return unsigned(std::max<int64_t>(1, std::min(rows, cap)));
}

// The device check pair for GPU-resident targets; null after checking CPU-resident ones here.
int64_t* check_targets(const array& t, int64_t classes, int64_t ignore_index, const Stream& s) {
  if (t.data_home() == Device::cpu) {
    check_cross_entropy_targets(static_cast<const int64_t*>(const_cast<array&>(t).raw_data_ptr()), t.shape(0),
                                classes, ignore_index);
    return nullptr;
  }
  return device_check(s, [classes](int64_t, int64_t value) {
    return std::make_exception_ptr(std::out_of_range(cross_entropy_target_message(value, classes)));
  });
}

}  // namespace
}  // namespace cuda

void CrossEntropy::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const Stream& s = stream();
  int64_t ld;
  array x = cuda::as_unit_stride_rows(inputs[0], s, ld);  // (N, C), rows ld apart
  array t = cuda::as_row_contiguous(inputs[1], s);        // (N,) int64
  const int64_t rows = x.shape(0), classes = x.shape(1);
  for (array& o : outputs) cuda::allocate(o);
  if (rows == 0) return;
  int64_t* bad = cuda::check_targets(t, classes, ignore_index_, s);
  cuda::dispatch_float(x.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const int threads = cuda::row_threads(classes, cuda::vec_width<T>());
    const unsigned blocks = cuda::row_blocks(rows, threads);
    auto launch = [&](auto kernel) {
      kernel<<<blocks, threads, 0, cuda::stream_of(s)>>>(cuda::in_ptr<T>(x, s), ld, cuda::in_ptr<int64_t>(t, s),
                                                          cuda::out_ptr<A>(outputs[0]), cuda::out_ptr<A>(outputs[1]),
                                                          rows, classes, ignore_index_, A(label_smoothing_), bad);
    };
    if (label_smoothing_ > 0) launch(cuda::cross_entropy_kernel<T, A, true>);
    else launch(cuda::cross_entropy_kernel<T, A, false>);
    ALLOY_CUDA_LAUNCH_CHECK("cross_entropy");
  });
  if (bad) cuda::finish_device_check(s, bad);
}

void CrossEntropyGrad::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const Stream& s = stream();
  // Logits that nothing else reads are overwritten by their gradient (each element is read, then
  // written, by one thread): a (16384, 50257) bf16 step saves 1.6 GB. Otherwise the gradient
  // gets the logits' row pitch, so padded rows stay aligned for the GEMMs that read it.
  const bool donatable = inputs[0].is_donatable(Device::gpu);  // before x adds a reference
  int64_t ld;
  array x = cuda::as_unit_stride_rows(inputs[0], s, ld);  // (N, C), rows ld apart
  const bool donate = donatable && x.id() == inputs[0].id();
  array t = cuda::as_row_contiguous(inputs[1], s);    // (N,) int64
  array lse = cuda::as_row_contiguous(inputs[2], s);  // (N,)
  array g = cuda::as_row_contiguous(inputs[3], s);    // (N,), often a broadcast scalar
  const int64_t rows = x.shape(0), classes = x.shape(1);
  array& out = outputs[0];
  if (rows == 0) return cuda::allocate(out);
  int64_t* bad = cuda::check_targets(t, classes, ignore_index_, s);
  cuda::dispatch_float(x.dtype(), "cross_entropy", [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* xp = cuda::in_ptr<T>(x, s);  // before a donation moves the buffer
    if (donate) out.move_shared_buffer(x);
    else cuda::allocate_rows(out, ld);
    T* dp = cuda::out_ptr<T>(out);
    const bool aligned = ((reinterpret_cast<uintptr_t>(xp) ^ reinterpret_cast<uintptr_t>(dp)) & 15) == 0;
    const int threads = cuda::row_threads(classes, cuda::vec_width<T>());
    cuda::cross_entropy_grad_kernel<T, A><<<cuda::row_blocks(rows, threads), threads, 0, cuda::stream_of(s)>>>(
        xp, ld, cuda::in_ptr<int64_t>(t, s), cuda::in_ptr<A>(lse, s), cuda::in_ptr<A>(g, s), dp, rows, classes,
        ignore_index_, A(label_smoothing_ / double(classes)), A(1.0 - label_smoothing_), aligned, bad);
    ALLOY_CUDA_LAUNCH_CHECK("cross_entropy_grad");
  });
  if (bad) cuda::finish_device_check(s, bad);
}

}  // namespace alloy
