// cuBLASLt's heuristic candidates (up to 16) for square bf16 GEMMs of 4096 and 8192, each timed
// in three rounds back to back with cublasGemmEx, with the candidate's configuration: whether
// the algorithm that alloy's matmul picks (backend/cuda/matmul.cpp) is the one to beat, apart
// from the card's clock changes. Built as probe_cublaslt_candidates; or on the GPU machine:
//   nvcc -std=c++17 -arch=sm_90 -O2 bench/probe_cublaslt_candidates.cu -lcublasLt -lcublas -o /tmp/pg && /tmp/pg
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>

#include <cstdio>
#include <vector>
#define CK(x)                                                    \
  do {                                                           \
    auto e = (x);                                                \
    if (int(e) != 0) {                                           \
      printf("error %d at %s:%d\n", int(e), __FILE__, __LINE__); \
      exit(1);                                                   \
    }                                                            \
  } while (0)
__global__ void fill(__nv_bfloat16* p, size_t n, unsigned seed) {
  size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  unsigned x = unsigned(i) * 2654435761u ^ seed;
  x ^= x >> 13;
  x *= 0x5bd1e995;
  x ^= x >> 15;
  p[i] = __float2bfloat16(float(x & 0xffff) / 32768.0f - 1.0f);
}
int main() {
  cublasHandle_t h;
  CK(cublasCreate(&h));
  cublasLtHandle_t lt;
  CK(cublasLtCreate(&lt));
  size_t wsb = 32 << 20;
  void* ws;
  CK(cudaMalloc(&ws, wsb));
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  for (int n : {4096, 8192}) {
    size_t nn = size_t(n) * n;
    __nv_bfloat16 *a, *b, *c;
    CK(cudaMalloc(&a, nn * 2));
    CK(cudaMalloc(&b, nn * 2));
    CK(cudaMalloc(&c, nn * 2));
    fill<<<(nn + 255) / 256, 256>>>(a, nn, 1);
    fill<<<(nn + 255) / 256, 256>>>(b, nn, 2);
    float alpha = 1, beta = 0;
    const int reps = n == 8192 ? 20 : 50;
    auto time = [&](auto&& f) {
      f();
      f();
      cudaEventRecord(e0);
      for (int i = 0; i < reps; ++i) f();
      cudaEventRecord(e1);
      cudaEventSynchronize(e1);
      float ms;
      cudaEventElapsedTime(&ms, e0, e1);
      return 2.0 * n * double(n) * n / (ms / reps * 1e-3) / 1e12;
    };
    auto gemmex = [&] {
      cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, b, CUDA_R_16BF, n, a, CUDA_R_16BF, n, &beta, c,
                   CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    };
    cublasLtMatmulDesc_t op;
    CK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasLtMatrixLayout_t la, lb, lc;
    CK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, n, n, n));
    CK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, n, n, n));
    CK(cublasLtMatrixLayoutCreate(&lc, CUDA_R_16BF, n, n, n));
    cublasLtMatmulPreference_t pref;
    CK(cublasLtMatmulPreferenceCreate(&pref));
    CK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof(wsb)));
    cublasLtMatmulHeuristicResult_t res[16];
    int found = 0;
    CK(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, 16, res, &found));
    printf("n=%d: %d candidates; cublasGemmEx %.1f TFLOP/s\n", n, found, time(gemmex));
    for (int i = 0; i < found; ++i) {
      auto run = [&] { cublasLtMatmul(lt, op, &alpha, b, la, a, lb, &beta, c, lc, c, lc, &res[i].algo, ws, wsb, 0); };
      double best_c = 0, best_g = 0;
      for (int r = 0; r < 3; ++r) {
        best_c = std::max(best_c, time(run));
        best_g = std::max(best_g, time(gemmex));
      }
      int id = 0, tile = 0, stages = 0, splitk = 0, swz = 0, cluster = 0;
      size_t sz;
      cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof(id), &sz);
      cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof(tile), &sz);
      cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof(stages), &sz);
      cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof(splitk), &sz);
      cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &swz, sizeof(swz), &sz);
      cublasLtMatmulAlgoConfigGetAttribute(&res[i].algo, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &cluster,
                                           sizeof(cluster), &sz);
      printf(
          "  candidate %2d: %.1f TFLOP/s, cublasGemmEx beside it %.1f (%.1f%%); id %d tile %d stages %d splitk %d "
          "swizzle %d cluster %d ws %zu\n",
          i, best_c, best_g, 100 * best_c / best_g, id, tile, stages, splitk, swz, cluster, res[i].workspaceSize);
    }
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
  }
}
