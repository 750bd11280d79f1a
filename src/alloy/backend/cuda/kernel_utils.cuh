// Device-side helpers for the CUDA kernels: dtype dispatch to CUDA storage types, conversion to
// and from the compute type (float for 16-bit floats), and strided index arithmetic.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <stdexcept>
#include <string>
#include <type_traits>

#include "alloy/backend/common/collapse.h"
#include "alloy/backend/cuda/cuda_utils.h"
#include "alloy/core/dtype.h"

namespace alloy::cuda {

template <typename T>
struct Tag {
  using type = T;
};

// Calls fn(Tag<T>{}) for the floating dtypes; others are an error naming op.
template <typename Fn>
void dispatch_float(Dtype t, const char* op, Fn&& fn) {
  switch (t) {
    case Dtype::float16: return fn(Tag<__half>{});
    case Dtype::bfloat16: return fn(Tag<__nv_bfloat16>{});
    case Dtype::float32: return fn(Tag<float>{});
    case Dtype::float64: return fn(Tag<double>{});
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      throw std::invalid_argument(std::string("[") + op + "] needs a floating-point input, got " + dtype_name(t));
  }
}

// Calls f(Tag<T>{}) with T the CUDA storage type of `d`.
template <typename F>
decltype(auto) dispatch(Dtype d, F&& f) {
  switch (d) {
    case Dtype::bool_: return f(Tag<bool>{});
    case Dtype::uint8: return f(Tag<uint8_t>{});
    case Dtype::uint16: return f(Tag<uint16_t>{});
    case Dtype::uint32: return f(Tag<uint32_t>{});
    case Dtype::uint64: return f(Tag<uint64_t>{});
    case Dtype::int8: return f(Tag<int8_t>{});
    case Dtype::int16: return f(Tag<int16_t>{});
    case Dtype::int32: return f(Tag<int32_t>{});
    case Dtype::int64: return f(Tag<int64_t>{});
    case Dtype::float16: return f(Tag<__half>{});
    case Dtype::bfloat16: return f(Tag<__nv_bfloat16>{});
    case Dtype::float32: return f(Tag<float>{});
    case Dtype::float64: return f(Tag<double>{});
  }
  throw std::invalid_argument("[gpu] unknown dtype");
}

template <typename T>
inline constexpr bool is_half_v = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;
template <typename T>
inline constexpr bool is_float_v = is_half_v<T> || std::is_floating_point_v<T>;
template <typename T>
using compute_t = std::conditional_t<is_half_v<T>, float, T>;

// Value conversion between any two storage types (bool: nonzero; 16-bit floats via float).
template <typename Dst, typename Src>
__device__ __forceinline__ Dst convert(Src v) {
  if constexpr (std::is_same_v<Src, Dst>) {
    return v;
  } else if constexpr (is_half_v<Src>) {
    return convert<Dst>(float(v));
  } else if constexpr (std::is_same_v<Dst, bool>) {
    return v != Src(0);
  } else if constexpr (std::is_same_v<Dst, __half>) {
    return __float2half_rn(float(v));
  } else if constexpr (std::is_same_v<Dst, __nv_bfloat16>) {
    return __float2bfloat16_rn(float(v));
  } else {
    return static_cast<Dst>(v);
  }
}

constexpr int kMaxDims = 8;

// Shape and per-operand strides (elements) of a collapsed strided iteration space.
template <int K>
struct Layout {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t strides[K][kMaxDims];
};

// Collapses shape/strides for K operands; false when more than kMaxDims dims remain.
template <int K>
bool make_layout(const Shape& shape, const std::array<Strides, K>& strides, Layout<K>& out) {
  auto [cs, cst] = collapse_dims<K>(shape, strides);
  if (cs.size() > size_t(kMaxDims)) return false;
  out.ndim = int(cs.size());
  for (int d = 0; d < out.ndim; ++d) {
    out.shape[d] = cs[d];
    for (int k = 0; k < K; ++k) out.strides[k][d] = cst[k][d];
  }
  return true;
}

// Offsets of row-major element i in each operand.
template <int K>
__device__ __forceinline__ void element_offsets(int64_t i, const Layout<K>& l, int64_t (&off)[K]) {
#pragma unroll
  for (int k = 0; k < K; ++k) off[k] = 0;
  for (int d = l.ndim - 1; d >= 0; --d) {
    int64_t idx = i % l.shape[d];
    i /= l.shape[d];
#pragma unroll
    for (int k = 0; k < K; ++k) off[k] += idx * l.strides[k][d];
  }
}

#define ALLOY_GRID_STRIDE(i, n) \
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

}  // namespace alloy::cuda
