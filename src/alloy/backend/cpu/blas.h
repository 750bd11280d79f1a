// GEMM on the CPU: OpenBLAS kernels driven by alloy's thread pool.
//
// OpenBLAS runs single-threaded; a large product is split into blocks of rows (or of columns,
// whichever side is longer) and the blocks run on alloy's pool, one OpenBLAS call each. Why: with
// OpenBLAS's own threads beside the pool, its workers spin (sched_yield) after every call while
// the pool's workers need the same cores; on a 2-core machine that was 28% of a CNN training step.
// Called from inside a pool job, the product runs inline on the calling thread.
#pragma once

#include <cstdint>

namespace alloy::cpu {

// C (M, N) = alpha * op(A) (M, K) @ op(B) (K, N) + beta * C, row-major with leading dimensions
// lda, ldb, ldc; op(X) = X^T when trans_x (then A is stored (K, M), B (N, K)). T: float, double.
template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc);

}  // namespace alloy::cpu
