// Combining operators of reductions and scans: an identity and a binary op on the accumulation
// type A. apply() for kernels, operator() for CUB. max/min keep NaN sticky in either operand
// (a NaN x replaces a; a NaN a stays because x > NaN is false), as on the CPU.
#pragma once

#include <limits>
#include <type_traits>

namespace alloy::cuda {

template <typename Derived, typename A>
struct Combine {
  __device__ __forceinline__ A operator()(A a, A x) const { return Derived::apply(a, x); }
};

template <typename A>
struct SumOp : Combine<SumOp<A>, A> {
  static __device__ __forceinline__ A init() { return A(0); }
  static __device__ __forceinline__ A apply(A a, A x) { return A(a + x); }
};
template <typename A>
struct ProdOp : Combine<ProdOp<A>, A> {
  static __device__ __forceinline__ A init() { return A(1); }
  static __device__ __forceinline__ A apply(A a, A x) { return A(a * x); }
};
template <typename A>
struct MaxOp : Combine<MaxOp<A>, A> {
  static __device__ __forceinline__ A init() {
    if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::lowest();
  }
  static __device__ __forceinline__ A apply(A a, A x) {
    if constexpr (std::is_floating_point_v<A>) return (x > a || x != x) ? x : a;
    else return x > a ? x : a;
  }
};
template <typename A>
struct MinOp : Combine<MinOp<A>, A> {
  static __device__ __forceinline__ A init() {
    if constexpr (std::is_floating_point_v<A>) return std::numeric_limits<A>::infinity();
    else return std::numeric_limits<A>::max();
  }
  static __device__ __forceinline__ A apply(A a, A x) {
    if constexpr (std::is_floating_point_v<A>) return (x < a || x != x) ? x : a;
    else return x < a ? x : a;
  }
};
struct AnyOp : Combine<AnyOp, bool> {
  static __device__ __forceinline__ bool init() { return false; }
  static __device__ __forceinline__ bool apply(bool a, bool x) { return a || x; }
};
struct AllOp : Combine<AllOp, bool> {
  static __device__ __forceinline__ bool init() { return true; }
  static __device__ __forceinline__ bool apply(bool a, bool x) { return a && x; }
};

}  // namespace alloy::cuda
