// Hopper's tensor memory accelerator (TMA, sm_90) and the shared-memory barriers its copies
// complete on. A tile copy (cp.async.bulk.tensor) is issued by one thread from a tensor map
// (made on the host by cuTensorMapEncodeTiled, passed to the kernel as a __grid_constant__
// parameter) and lands in shared memory with the map's swizzle; the mbarrier it names counts
// the bytes, so a thread waiting on that barrier's phase sees the whole tile.
//
// Barrier protocol used here: a "full" barrier (one arrival, by the producer's
// arrive_expect_tx, plus the tile's bytes) and an "empty" barrier (one arrival per consumer
// warp) per pipeline stage; use u = 0, 1, 2, ... of a stage waits for parity u & 1.
#pragma once

#include <cuda.h>

#include <cstdint>

#include "alloy/backend/cuda/async_copy.cuh"

namespace alloy::cuda::tma {

__device__ __forceinline__ void barrier_init(uint64_t* bar, uint32_t arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(arrivals) : "memory");
}
// After every barrier_init, before the barriers are used by other threads (then a __syncthreads).
__device__ __forceinline__ void fence_barrier_init() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
// One arrival that also expects `bytes` more of copies to complete on the barrier.
__device__ __forceinline__ void arrive_expect_tx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void arrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}
// Returns once the barrier's phase of parity `parity` has completed.
__device__ __forceinline__ void wait(uint64_t* bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(smem_addr(bar)), "r"(parity)
        : "memory");
  } while (!done);
}

// The box of `map` at coordinates (c0, c1, c2) (innermost first) into shared memory at dst,
// completing on bar.
__device__ __forceinline__ void load_3d(void* dst, const CUtensorMap* map, uint64_t* bar, int c0, int c1, int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5}], [%2];\n" ::
          "r"(smem_addr(dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(smem_addr(bar)), "r"(c0), "r"(c1), "r"(c2)
      : "memory");
}

__device__ __forceinline__ void prefetch_map(const CUtensorMap* map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

}  // namespace alloy::cuda::tma
