// Primitives that have no GPU kernel yet: they run on the CPU through the automatic fallback
// (cuda_utils.h), which moves their inputs to the host and leaves their outputs there. The GPU
// test suite lists every op that falls back, so this file can only shrink.
#include "alloy/backend/cuda/cuda_utils.h"

namespace alloy {

#define ALLOY_GPU_FALLBACK(P)                                       \
  void P::eval_gpu(const std::vector<array>& inputs, array& out) {  \
    cuda::fallback_to_cpu(*this, inputs, out);                      \
  }

ALLOY_GPU_FALLBACK(Scan)
ALLOY_GPU_FALLBACK(Convolution)
ALLOY_GPU_FALLBACK(Gather)
ALLOY_GPU_FALLBACK(Scatter)
ALLOY_GPU_FALLBACK(GatherAxis)
ALLOY_GPU_FALLBACK(ScatterAxis)
ALLOY_GPU_FALLBACK(Sort)
#undef ALLOY_GPU_FALLBACK

}  // namespace alloy
