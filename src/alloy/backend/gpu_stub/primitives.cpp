// eval_gpu of every primitive when alloy is built without CUDA. Unreachable in practice (no GPU
// stream can be made), but defined so the core links and fails clearly if it ever is reached.
#include <stdexcept>

#include "alloy/core/primitives.h"
#include "alloy/core/quantized_primitives.h"

namespace alloy {

#define ALLOY_NO_GPU(P)                                                   \
  void P::eval_gpu(const std::vector<array>&, array&) {                   \
    throw std::runtime_error("[" #P "] alloy was built without CUDA");    \
  }
#define ALLOY_NO_GPU_MULTI(P)                                                          \
  void P::eval_gpu(const std::vector<array>&, std::vector<array>&) {                   \
    throw std::runtime_error("[" #P "] alloy was built without CUDA");                 \
  }

ALLOY_NO_GPU(Unary)
ALLOY_NO_GPU(Binary)
ALLOY_NO_GPU(Select)
ALLOY_NO_GPU(AsType)
ALLOY_NO_GPU(Copy)
ALLOY_NO_GPU(Full)
ALLOY_NO_GPU(Arange)
ALLOY_NO_GPU(Reshape)
ALLOY_NO_GPU(Transpose)
ALLOY_NO_GPU(Slice)
ALLOY_NO_GPU(Broadcast)
ALLOY_NO_GPU(AsStrided)
ALLOY_NO_GPU(SliceUpdate)
ALLOY_NO_GPU(DynamicSliceUpdate)
ALLOY_NO_GPU(QuantizedMatmul)
ALLOY_NO_GPU(Dequantize)
ALLOY_NO_GPU(Quantize)
ALLOY_NO_GPU(Reduce)
ALLOY_NO_GPU(ArgReduce)
ALLOY_NO_GPU(Scan)
ALLOY_NO_GPU(Softmax)
ALLOY_NO_GPU(Matmul)
ALLOY_NO_GPU(AddMM)
ALLOY_NO_GPU(Convolution)
ALLOY_NO_GPU(RandomBits)
ALLOY_NO_GPU(Concatenate)
ALLOY_NO_GPU(Gather)
ALLOY_NO_GPU(Scatter)
ALLOY_NO_GPU(GatherAxis)
ALLOY_NO_GPU(ScatterAxis)
ALLOY_NO_GPU(Sort)
ALLOY_NO_GPU_MULTI(CustomVjp)
ALLOY_NO_GPU_MULTI(Depends)

}  // namespace alloy
