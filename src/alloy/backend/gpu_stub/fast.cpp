// eval_gpu of the fused ops when alloy is built without CUDA.
#include <stdexcept>

#include "alloy/core/fast_primitives.h"
#include "alloy/core/quantized_primitives.h"

namespace alloy {

#define ALLOY_NO_GPU_FUSED(P)                                              \
  void P::eval_gpu(const std::vector<array>&, std::vector<array>&) {       \
    throw std::runtime_error("[" #P "] alloy was built without CUDA");     \
  }
ALLOY_NO_GPU_FUSED(RMSNorm)
ALLOY_NO_GPU_FUSED(RMSNormGrad)
ALLOY_NO_GPU_FUSED(RMSNormResidual)
ALLOY_NO_GPU_FUSED(AdamUpdate)
ALLOY_NO_GPU_FUSED(LayerNorm)
ALLOY_NO_GPU_FUSED(RoPE)
ALLOY_NO_GPU_FUSED(ScaledDotProductAttention)
ALLOY_NO_GPU_FUSED(ScaledDotProductAttentionGrad)
ALLOY_NO_GPU_FUSED(CrossEntropy)
ALLOY_NO_GPU_FUSED(CrossEntropyGrad)
ALLOY_NO_GPU_FUSED(MaxPool)
ALLOY_NO_GPU_FUSED(MaxPoolGrad)
ALLOY_NO_GPU_FUSED(SwiGLU)
ALLOY_NO_GPU_FUSED(SwiGLUGrad)
ALLOY_NO_GPU_FUSED(QuantizedMatmulSwiGLU)

}  // namespace alloy
