#include "alloy/backend/cpu/blas.h"

#include <cblas.h>

#include <algorithm>

#include "alloy/backend/cpu/threading.h"

// OpenBLAS's pthread build stops its server threads with this (it does so before a fork); weak,
// so that a serial or OpenMP OpenBLAS, which has none, links too.
extern "C" void blas_thread_shutdown_(void) __attribute__((weak));

namespace alloy::cpu {
namespace {

// OpenBLAS starts its own threads as it loads, and they spin (sched_yield) for about 0.1 s
// waiting for work that never comes, alloy driving it single-threaded. They are stopped as alloy
// starts: on the 2-core machine they held a core for the first 0.1 s of every process (the
// stories260K pp64 bench, about that long, spread by +-40%).
[[maybe_unused]] const bool openblas_single_threaded = [] {
  openblas_set_num_threads(1);
  if (blas_thread_shutdown_) blas_thread_shutdown_();
  return true;
}();

// Below this many multiply-adds a product runs as one call: splitting costs more than it saves.
constexpr int64_t kSplitWork = int64_t(1) << 20;
constexpr int64_t kBlockAlign = 16;  // block edges on whole micro-kernel tiles

template <typename T>
void blas_call(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
               const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  auto ta = trans_a ? CblasTrans : CblasNoTrans, tb = trans_b ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, ta, tb, int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
  } else {
    cblas_dgemm(CblasRowMajor, ta, tb, int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
  }
}

}  // namespace

template <typename T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
          const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  const int threads = num_threads();
  if (threads == 1 || M * N * K < kSplitWork) {
    blas_call(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  // One block per thread along the longer side of C.
  const bool by_rows = M >= N;
  const int64_t len = by_rows ? M : N;
  const int64_t per = std::max(kBlockAlign, (len + threads - 1) / threads / kBlockAlign * kBlockAlign);
  const int64_t blocks = (len + per - 1) / per;
  parallel_for(blocks, 1, [&](int64_t first, int64_t last) {
    for (int64_t blk = first; blk < last; ++blk) {
      const int64_t b = blk * per, n = std::min(len, b + per) - b;
      if (by_rows) {  // rows b..b+n of op(A) and of C
        const T* a = trans_a ? A + b : A + b * lda;
        blas_call(trans_a, trans_b, n, N, K, alpha, a, lda, B, ldb, beta, C + b * ldc, ldc);
      } else {  // columns b..b+n of op(B) and of C
        const T* bp = trans_b ? B + b * ldb : B + b;
        blas_call(trans_a, trans_b, M, n, K, alpha, A, lda, bp, ldb, beta, C + b, ldc);
      }
    }
  });
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                          float, float*, int64_t);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*,
                           int64_t, double, double*, int64_t);

}  // namespace alloy::cpu
