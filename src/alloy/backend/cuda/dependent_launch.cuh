// Programmatic dependent launch (Hopper and later): a kernel launched by launch_dependent may
// be scheduled while the kernel before it on the stream is still running, so its launch and
// prologue overlap that kernel's tail instead of following its completion. A decode step is
// about 200 small dependent kernels, where that gap is a large share of the time.
//
// The contract, for every kernel launched this way:
//   - it calls wait_for_prerequisites() before it reads anything an earlier kernel wrote or
//     writes anything an earlier kernel reads (reading inputs that were complete when it was
//     launched is fine: the quantized matvec issues its first weight loads first when the
//     weights' array was available at launch, and waits first otherwise). The wait returns once
//     the kernels it depends on have completed and their writes are visible;
//   - it calls allow_dependents() when the next kernel may start being scheduled (at the top:
//     the next kernel waits at its own wait_for_prerequisites anyway).
// Under stream capture the dependency becomes a programmatic edge of the CUDA graph. Below
// sm_90 the instructions compile to nothing and launch_dependent is a plain launch;
// ALLOY_CUDA_PDL=0 turns it off (for A/B measurements).
#pragma once

#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>

#include "alloy/backend/cuda/cuda_utils.h"

namespace alloy::cuda {

__device__ __forceinline__ void wait_for_prerequisites() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void allow_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

inline bool dependent_launch_enabled() {
  static const bool on = [] {
    const char* env = std::getenv("ALLOY_CUDA_PDL");
    return device_properties().major >= 9 && !(env && std::strcmp(env, "0") == 0);
  }();
  return on;
}

// kernel<<<grid, block, smem, stream>>>(args...), allowed to overlap the kernel before it.
template <typename... Params, typename... Args>
void launch_dependent(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                      const char* what, Args&&... args) {
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  config.attrs = &attribute;
  config.numAttrs = dependent_launch_enabled() ? 1 : 0;
  check(cudaLaunchKernelEx(&config, kernel, static_cast<Params>(args)...), what);
}

}  // namespace alloy::cuda
