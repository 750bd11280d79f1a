// GPU kernels of fused max pooling, mirroring backend/cpu/fast_pooling.cpp. The forward has a
// thread per output element, which folds its window as the composition does (pool::fold_step,
// the last pooled axis innermost). The gradient has a thread per input element: it folds each
// window that contains it (at most ceil(k / s) per axis) and adds the cotangents of the windows
// it wins, in row-major order of the outputs. No atomics, and the sums equal the CPU's.
#include <type_traits>

#include "alloy/backend/common/max_pool.h"
#include "alloy/backend/cuda/kernel_utils.cuh"
#include "alloy/core/fast_primitives.h"

namespace alloy {
namespace cuda {
namespace {

// The fold of output o = (o0, o1, o2) at channel c of a batch entry whose x starts at xb: the
// best value, and in `where` the offset (from xb) of the input that gets the gradient.
template <typename T, typename A>
__device__ A fold_window(const pool::Geometry& g, const T* xb, const int64_t* o, int64_t c, int64_t& where) {
  A best0 = 0;
  int64_t where0 = 0;
  for (int64_t k0 = 0; k0 < g.kernel[0]; ++k0) {
    const int64_t at0 = (o[0] * g.stride[0] + k0) * g.in_step[0];
    A best1 = 0;
    int64_t where1 = 0;
    for (int64_t k1 = 0; k1 < g.kernel[1]; ++k1) {
      const int64_t at1 = at0 + (o[1] * g.stride[1] + k1) * g.in_step[1];
      A best2 = 0;
      int64_t where2 = 0;
      for (int64_t k2 = 0; k2 < g.kernel[2]; ++k2) {
        const int64_t at = at1 + (o[2] * g.stride[2] + k2) * g.in_step[2] + c;
        const A v = convert<A>(xb[at]);
        if (k2 == 0) best2 = v, where2 = at;
        else pool::fold_step(best2, where2, v, at);
      }
      if (k1 == 0) best1 = best2, where1 = where2;
      else pool::fold_step(best1, where1, best2, where2);
    }
    if (k0 == 0) best0 = best1, where0 = where1;
    else pool::fold_step(best0, where0, best1, where1);
  }
  where = where0;
  return best0;
}

// Element i of a (batch, P0, P1, P2, channels) array: its batch entry, position and channel.
__device__ __forceinline__ int64_t unravel(int64_t i, const int64_t* size, int64_t channels, int64_t* p,
                                           int64_t& c) {
  c = i % channels;
  int64_t r = i / channels;
  for (int a = 2; a >= 0; --a) {
    p[a] = r % size[a];
    r /= size[a];
  }
  return r;
}

template <typename T, typename A>
__global__ void max_pool_kernel(const T* x, T* out, pool::Geometry g, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t o[3], c, where;
    const int64_t b = unravel(i, g.out_size, g.channels, o, c);
    out[i] = convert<T>(fold_window<T, A>(g, x + b * g.in_batch, o, c, where));
  }
}

template <typename T, typename A>
__global__ void max_pool_grad_kernel(const T* x, const T* gy, T* dx, pool::Geometry g, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t p[3], c;
    const int64_t b = unravel(i, g.in_size, g.channels, p, c);
    const int64_t self = i - b * g.in_batch;
    // Outputs whose window holds p along axis a: o * s <= p < o * s + k, inside [0, O).
    int64_t lo[3], hi[3];
    for (int a = 0; a < 3; ++a) {
      const int64_t first = p[a] - g.kernel[a] + 1;
      lo[a] = first <= 0 ? 0 : (first + g.stride[a] - 1) / g.stride[a];
      hi[a] = min(g.out_size[a] - 1, p[a] / g.stride[a]);
    }
    A sum = 0;
    int64_t o[3];
    for (o[0] = lo[0]; o[0] <= hi[0]; ++o[0]) {
      for (o[1] = lo[1]; o[1] <= hi[1]; ++o[1]) {
        for (o[2] = lo[2]; o[2] <= hi[2]; ++o[2]) {
          int64_t where;
          fold_window<T, A>(g, x + b * g.in_batch, o, c, where);
          if (where != self) continue;
          const int64_t out = b * g.out_batch + o[0] * g.out_step[0] + o[1] * g.out_step[1] + o[2] * g.out_step[2] + c;
          sum += convert<A>(gy[out]);
        }
      }
    }
    dx[i] = convert<T>(sum);
  }
}

}  // namespace
}  // namespace cuda

void MaxPool::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = cuda::as_row_contiguous(inputs[0], stream());
  array& out = outputs[0];
  cuda::allocate(out);
  const int64_t n = int64_t(out.size());
  if (n == 0) return;
  const pool::Geometry g = pool::geometry(x.shape(), kernel_, stride_);
  cudaStream_t st = cuda::stream_of(stream());
  cuda::dispatch_float(x.dtype(), "max_pool", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int threads = 256;
    cuda::max_pool_kernel<T, cuda::compute_t<T>><<<cuda::grid_blocks(n, threads), threads, 0, st>>>(
        cuda::in_ptr<T>(x, stream()), cuda::out_ptr<T>(out), g, n);
    ALLOY_CUDA_LAUNCH_CHECK("max_pool");
  });
}

void MaxPoolGrad::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = cuda::as_row_contiguous(inputs[0], stream());
  array gy = cuda::as_row_contiguous(inputs[1], stream(), x.dtype());
  array& dx = outputs[0];
  cuda::allocate(dx);
  const int64_t n = int64_t(dx.size());
  if (n == 0) return;
  const pool::Geometry g = pool::geometry(x.shape(), kernel_, stride_);
  cudaStream_t st = cuda::stream_of(stream());
  cuda::dispatch_float(x.dtype(), "max_pool", [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int threads = 256;
    cuda::max_pool_grad_kernel<T, cuda::compute_t<T>><<<cuda::grid_blocks(n, threads), threads, 0, st>>>(
        cuda::in_ptr<T>(x, stream()), cuda::in_ptr<T>(gy, stream()), cuda::out_ptr<T>(dx), g, n);
    ALLOY_CUDA_LAUNCH_CHECK("max_pool_grad");
  });
}

}  // namespace alloy
