// cuBLASLt, loaded at the first GPU matrix product instead of with the program. Mapping the
// library registers all its kernels: ~200 MB of resident memory and 50-370 ms at every start,
// which a CPU-only run of a CUDA build paid for nothing (the 2-core machine: stories260K's
// `alloy bench` at 207-224 MB RSS against 12 MB for the CPU-only build).
#pragma once

#include <cublasLt.h>

namespace alloy::cuda {

// The entry points matmul.cpp uses: X(member, cuBLASLt function) for each.
#define ALLOY_CUBLASLT_FUNCTIONS(X)                               \
  X(create, cublasLtCreate)                                       \
  X(matmul, cublasLtMatmul)                                       \
  X(algo_get_heuristic, cublasLtMatmulAlgoGetHeuristic)           \
  X(desc_create, cublasLtMatmulDescCreate)                        \
  X(desc_destroy, cublasLtMatmulDescDestroy)                      \
  X(desc_set_attribute, cublasLtMatmulDescSetAttribute)           \
  X(preference_create, cublasLtMatmulPreferenceCreate)            \
  X(preference_destroy, cublasLtMatmulPreferenceDestroy)          \
  X(preference_set_attribute, cublasLtMatmulPreferenceSetAttribute) \
  X(layout_create, cublasLtMatrixLayoutCreate)                    \
  X(layout_destroy, cublasLtMatrixLayoutDestroy)                  \
  X(layout_set_attribute, cublasLtMatrixLayoutSetAttribute)

// Each entry point with its own signature.
struct CublasLt {
#define ALLOY_CUBLASLT_MEMBER(member, function) decltype(&function) member;
  ALLOY_CUBLASLT_FUNCTIONS(ALLOY_CUBLASLT_MEMBER)
#undef ALLOY_CUBLASLT_MEMBER
};

// Loaded once: libcublasLt.so.<the major version built against> from the loader's path, else
// from beside the CUDA runtime in use. Throws std::runtime_error naming the library and the
// loader's reason when neither is there (and again on the next call).
const CublasLt& cublaslt();

}  // namespace alloy::cuda
