// The Hopper (sm_90a) prefill attention kernel, compiled apart from the rest of the backend
// (CMakeLists.txt: only where sm_90 is among the CUDA architectures; ALLOY_WGMMA_KERNELS is
// then defined for the backend).
#pragma once

#include <cuda_runtime.h>

#include "alloy/backend/cuda/attention_args.h"

namespace alloy::cuda {

// Whether the wgmma kernel runs here: a compute capability 9.0 device, and ALLOY_CUDA_WGMMA is
// not 0 (which keeps the portable mma.sync kernel, for A/B measurements and its tests).
bool wgmma_attention_enabled();

// scaled_dot_product_attention for bf16 (`bf16`) or f16 q, k, v, out; D == Dv in {64, 128};
// q, k, v and out 16-byte aligned and row-contiguous; Tq > 4, Tk > 0; B * Hq < 2^31;
// Tq <= 65535 * 128.
void launch_flash_wgmma(const AttnArgs& a, bool bf16, MaskKind mk, cudaStream_t st);

}  // namespace alloy::cuda
