// cp.async (sm_80 and later): 16-byte copies from global to shared memory that complete in the
// background, tracked per thread in commit groups. A thread sees its own copies after
// cp_async_wait<N> (at most N of its latest groups still pending); other threads see them after
// that and a barrier (__syncwarp for the warp, __syncthreads for the block).
#pragma once

#include <cstdint>

namespace alloy::cuda {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, zero-filled when !valid (src is then not read).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid = true) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

}  // namespace alloy::cuda
