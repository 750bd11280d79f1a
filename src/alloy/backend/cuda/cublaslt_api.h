// cuBLASLt, loaded at the first GPU matrix product instead of with the program. Mapping the
// library registers all its kernels: ~200 MB of resident memory and 50-370 ms at every start,
// which a CPU-only run of a CUDA build paid for nothing (the 2-core machine: stories260K's
// `alloy bench` at 207-224 MB RSS against 12 MB for the CPU-only build).
#pragma once

#include <cublasLt.h>

namespace alloy::cuda {

// The entry points matmul.cpp uses, with their own signatures.
struct CublasLt {
  decltype(&cublasLtCreate) create;
  decltype(&cublasLtMatmul) matmul;
  decltype(&cublasLtMatmulAlgoGetHeuristic) algo_get_heuristic;
  decltype(&cublasLtMatmulDescCreate) desc_create;
  decltype(&cublasLtMatmulDescDestroy) desc_destroy;
  decltype(&cublasLtMatmulDescSetAttribute) desc_set_attribute;
  decltype(&cublasLtMatmulPreferenceCreate) preference_create;
  decltype(&cublasLtMatmulPreferenceDestroy) preference_destroy;
  decltype(&cublasLtMatmulPreferenceSetAttribute) preference_set_attribute;
  decltype(&cublasLtMatrixLayoutCreate) layout_create;
  decltype(&cublasLtMatrixLayoutDestroy) layout_destroy;
  decltype(&cublasLtMatrixLayoutSetAttribute) layout_set_attribute;
};

// Loaded once: libcublasLt.so.<the major version built against> from the loader's path, else
// from beside the CUDA runtime in use. Throws std::runtime_error naming the library and the
// loader's reason when neither is there (and again on the next call).
const CublasLt& cublaslt();

}  // namespace alloy::cuda
