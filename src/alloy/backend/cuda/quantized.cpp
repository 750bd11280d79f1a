// GPU evaluation of the quantized ops. Until the CUDA kernels for the block formats exist they
// run on the CPU through the counted, announced fallback (cuda_utils.h).
#include "alloy/backend/cuda/cuda_utils.h"
#include "alloy/core/quantized_primitives.h"

namespace alloy {

void QuantizedMatmul::eval_gpu(const std::vector<array>& inputs, array& out) {
  cuda::fallback_to_cpu(*this, inputs, out);
}

void Dequantize::eval_gpu(const std::vector<array>& inputs, array& out) {
  cuda::fallback_to_cpu(*this, inputs, out);
}

}  // namespace alloy
