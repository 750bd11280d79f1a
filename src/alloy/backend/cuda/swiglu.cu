// GPU kernels of fused SwiGLU, mirroring backend/cpu/fast_swiglu.cpp: a grid-stride pass over
// the elements each way, 16-byte loads and stores where every buffer is aligned and the count
// divides, in float32 (float64 for float64).
#include <cstdint>
#include <type_traits>

#include "alloy/backend/common/swiglu.h"
#include "alloy/backend/cuda/dependent_launch.cuh"
#include "alloy/backend/cuda/kernel_utils.cuh"
#include "alloy/core/fast_primitives.h"

namespace alloy {
namespace cuda {
namespace {

// V elements of T as one 16-byte access (V = 1: plain loads).
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <typename T, int V>
__global__ void swiglu_kernel(const T* gate, const T* up, T* out, int64_t packs) {
  wait_for_prerequisites();
  allow_dependents();
  using A = compute_t<T>;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < packs; i += int64_t(gridDim.x) * blockDim.x) {
    const Pack<T, V> g = reinterpret_cast<const Pack<T, V>*>(gate)[i], u = reinterpret_cast<const Pack<T, V>*>(up)[i];
    Pack<T, V> o;
#pragma unroll
    for (int k = 0; k < V; ++k) o.v[k] = convert<T>(ew::swiglu(convert<A>(g.v[k]), convert<A>(u.v[k])));
    reinterpret_cast<Pack<T, V>*>(out)[i] = o;
  }
}

template <typename T, int V>
__global__ void swiglu_grad_kernel(const T* gate, const T* up, const T* cot, T* d_gate, T* d_up, int64_t packs) {
  using A = compute_t<T>;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < packs; i += int64_t(gridDim.x) * blockDim.x) {
    const Pack<T, V> g = reinterpret_cast<const Pack<T, V>*>(gate)[i], u = reinterpret_cast<const Pack<T, V>*>(up)[i];
    const Pack<T, V> c = reinterpret_cast<const Pack<T, V>*>(cot)[i];
    Pack<T, V> dg, du;
#pragma unroll
    for (int k = 0; k < V; ++k) {
      A a, b;
      ew::swiglu_grad(convert<A>(g.v[k]), convert<A>(u.v[k]), convert<A>(c.v[k]), a, b);
      dg.v[k] = convert<T>(a);
      du.v[k] = convert<T>(b);
    }
    reinterpret_cast<Pack<T, V>*>(d_gate)[i] = dg;
    reinterpret_cast<Pack<T, V>*>(d_up)[i] = du;
  }
}

bool aligned16(std::initializer_list<const void*> ptrs) {
  for (const void* p : ptrs) {
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  }
  return true;
}

// Launches kernel<T, 16 / sizeof(T)> when every pointer is 16-byte aligned and n divides, else
// kernel<T, 1>; launch(V, packs, blocks).
template <typename T, typename Launch>
void launch_packed(int64_t n, std::initializer_list<const void*> ptrs, Launch&& launch) {
  constexpr int threads = 256;
  constexpr int V = 16 / sizeof(T);
  if (n % V == 0 && aligned16(ptrs)) {
    launch(std::integral_constant<int, V>{}, n / V, cuda::grid_blocks(n / V, threads), threads);
  } else {
    launch(std::integral_constant<int, 1>{}, n, cuda::grid_blocks(n, threads), threads);
  }
}

}  // namespace
}  // namespace cuda

void SwiGLU::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array gate = cuda::as_row_contiguous(inputs[0], stream()), up = cuda::as_row_contiguous(inputs[1], stream());
  array& out = outputs[0];
  cuda::allocate(out);
  const int64_t n = int64_t(out.size());
  if (n == 0) return;
  cudaStream_t st = cuda::stream_of(stream());
  cuda::dispatch_float(gate.dtype(), "swiglu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* g = cuda::in_ptr<T>(gate, stream());
    const T* u = cuda::in_ptr<T>(up, stream());
    T* o = cuda::out_ptr<T>(out);
    cuda::launch_packed<T>(n, {g, u, o}, [&](auto v, int64_t packs, unsigned blocks, int threads) {
      cuda::launch_dependent(cuda::swiglu_kernel<T, decltype(v)::value>, blocks, threads, 0, st, "swiglu", g, u, o,
                             packs);
    });
    ALLOY_CUDA_LAUNCH_CHECK("swiglu");
  });
}

void SwiGLUGrad::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array gate = cuda::as_row_contiguous(inputs[0], stream()), up = cuda::as_row_contiguous(inputs[1], stream());
  array cot = cuda::as_row_contiguous(inputs[2], stream(), gate.dtype());
  cuda::allocate(outputs[0]);
  cuda::allocate(outputs[1]);
  const int64_t n = int64_t(gate.size());
  if (n == 0) return;
  cudaStream_t st = cuda::stream_of(stream());
  cuda::dispatch_float(gate.dtype(), "swiglu", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* g = cuda::in_ptr<T>(gate, stream());
    const T* u = cuda::in_ptr<T>(up, stream());
    const T* c = cuda::in_ptr<T>(cot, stream());
    T* dg = cuda::out_ptr<T>(outputs[0]);
    T* du = cuda::out_ptr<T>(outputs[1]);
    cuda::launch_packed<T>(n, {g, u, c, dg, du}, [&](auto v, int64_t packs, unsigned blocks, int threads) {
      cuda::swiglu_grad_kernel<T, decltype(v)::value><<<blocks, threads, 0, st>>>(g, u, c, dg, du, packs);
    });
    ALLOY_CUDA_LAUNCH_CHECK("swiglu_grad");
  });
}

}  // namespace alloy
