// Standalone probe of the Hopper prefill attention kernel (backend/cuda/hopper/attention_wgmma.cu,
// compiled in here): its output against a naive float32 GPU kernel on 28 awkward shapes (Tq, Tk
// not multiples of 128, Tk > Tq and Tq > Tk, GQA, f16 and bf16, head dims 64 and 128, more work
// items than SMs), then its time and TFLOP/s on bench_gpu's attention shapes, causal and full.
// Kernel work iterates on this: it builds in seconds without the library, on the GPU machine itself:
//   nvcc -std=c++20 -gencode=arch=compute_90a,code=sm_90a --expt-relaxed-constexpr \
//     -diag-suppress=997 -Isrc -O3 bench/probe_attention_wgmma.cu -o /tmp/probe && /tmp/probe
// (CMake builds it too, as probe_attention_wgmma, where the sm_90a kernels are built.)
#include <cstdio>
#include <random>
#include <vector>

#include "alloy/backend/cuda/hopper/attention_wgmma.cu"
// The two runtime functions the kernel file calls, so that the library is not needed.
namespace alloy::cuda {
void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    printf("CUDA error %s: %s\n", what, cudaGetErrorString(err));
    exit(1);
  }
}
const cudaDeviceProp& device_properties() {
  static cudaDeviceProp p = [] {
    cudaDeviceProp q;
    cudaGetDeviceProperties(&q, 0);
    return q;
  }();
  return p;
}
}  // namespace alloy::cuda
using namespace alloy::cuda;
template <typename T>
__global__ void ref_kernel(const T* q, const T* k, const T* v, float* out, int B, int Hq, int Hkv, int Tq, int Tk,
                           int D, float scale, bool causal) {
  int64_t row = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (row >= int64_t(B) * Hq * Tq) return;
  int qi = row % Tq;
  int h = (row / Tq) % Hq;
  int b = row / Tq / Hq;
  int hk = h / (Hq / Hkv);
  const T* Q = q + row * D;
  const T* K = k + (int64_t(b) * Hkv + hk) * Tk * D;
  const T* V = v + (int64_t(b) * Hkv + hk) * Tk * D;
  int kend = causal ? min(Tk, qi + Tk - Tq + 1) : Tk;
  float m = -INFINITY;
  for (int j = 0; j < kend; ++j) {
    float s = 0;
    for (int d = 0; d < D; ++d) s += float(Q[d]) * float(K[int64_t(j) * D + d]);
    m = fmaxf(m, s * scale);
  }
  float l = 0;
  float acc[128];
  for (int d = 0; d < D; ++d) acc[d] = 0;
  for (int j = 0; j < kend; ++j) {
    float s = 0;
    for (int d = 0; d < D; ++d) s += float(Q[d]) * float(K[int64_t(j) * D + d]);
    float p = expf(s * scale - m);
    l += p;
    for (int d = 0; d < D; ++d) acc[d] += p * float(V[int64_t(j) * D + d]);
  }
  for (int d = 0; d < D; ++d) out[row * D + d] = kend > 0 ? acc[d] / l : 0.0f;
}
template <typename T>
__global__ void fill(T* p, int64_t n, uint32_t seed) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  uint32_t x = uint32_t(i) * 2654435761u ^ seed;
  x ^= x >> 13;
  x *= 0x5bd1e995;
  x ^= x >> 15;
  p[i] = T(float(x & 0xffff) / 32768.0f - 1.0f);
}
template <typename T>
__global__ void to_f32(const T* p, float* o, int64_t n) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < n) o[i] = float(p[i]);
}
template <typename T>
void run(const char* name, int B, int Hq, int Hkv, int Tq, int Tk, int D, bool causal, bool check_ref, int reps) {
  int64_t nq = int64_t(B) * Hq * Tq * D, nk = int64_t(B) * Hkv * Tk * D;
  T *q, *k, *v, *o;
  float *lse, *ref, *of;
  cudaMalloc(&q, nq * 2);
  cudaMalloc(&k, nk * 2);
  cudaMalloc(&v, nk * 2);
  cudaMalloc(&o, nq * 2);
  cudaMalloc(&lse, int64_t(B) * Hq * Tq * 4);
  cudaMalloc(&ref, nq * 4);
  cudaMalloc(&of, nq * 4);
  fill<<<(nq + 255) / 256, 256>>>(q, nq, 1);
  fill<<<(nk + 255) / 256, 256>>>(k, nk, 2);
  fill<<<(nk + 255) / 256, 256>>>(v, nk, 3);
  AttnArgs a{};
  a.q = q;
  a.k = k;
  a.v = v;
  a.out = o;
  a.lse = lse;
  a.B = B;
  a.Hq = Hq;
  a.Hkv = Hkv;
  a.Tq = Tq;
  a.Tk = Tk;
  a.D = D;
  a.Dv = D;
  a.groups = Hq / Hkv;
  a.scale = 1.0f / sqrtf(float(D));
  a.causal = causal;
  a.nan_empty = !causal;
  launch_flash_wgmma(a, std::is_same_v<T, __nv_bfloat16>, MaskKind::none, 0);
  check(cudaDeviceSynchronize(), "kernel");
  double err = -1, refmax = 0;
  if (check_ref) {
    int64_t rows = int64_t(B) * Hq * Tq;
    ref_kernel<T><<<(rows + 127) / 128, 128>>>(q, k, v, ref, B, Hq, Hkv, Tq, Tk, D, a.scale, causal);
    to_f32<T><<<(nq + 255) / 256, 256>>>(o, of, nq);
    check(cudaDeviceSynchronize(), "ref");
    std::vector<float> hr(nq), ho(nq);
    cudaMemcpy(hr.data(), ref, nq * 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(ho.data(), of, nq * 4, cudaMemcpyDeviceToHost);
    err = 0;
    for (int64_t i = 0; i < nq; ++i) {
      double e = std::abs(double(hr[i]) - ho[i]);
      if (!(e <= err)) err = e;
      refmax = std::max(refmax, std::abs(double(hr[i])));
    }
  }
  float ms = 0;
  if (reps > 0) {
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    for (int i = 0; i < 3; ++i) launch_flash_wgmma(a, std::is_same_v<T, __nv_bfloat16>, MaskKind::none, 0);
    cudaEventRecord(e0);
    for (int i = 0; i < reps; ++i) launch_flash_wgmma(a, std::is_same_v<T, __nv_bfloat16>, MaskKind::none, 0);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    cudaEventElapsedTime(&ms, e0, e1);
    ms /= reps;
  }
  double flops = 4.0 * B * Hq * double(Tq) * Tk * D * (causal ? 0.5 : 1.0);
  printf("%-6s B=%d Hq=%d Hkv=%d Tq=%d Tk=%d D=%d %s: max err %.3g (ref max %.3g)  %.3f ms  %.1f TFLOP/s\n", name, B,
         Hq, Hkv, Tq, Tk, D, causal ? "causal" : "full  ", err, refmax, ms, reps > 0 ? flops / ms / 1e9 : 0.0);
  cudaFree(q);
  cudaFree(k);
  cudaFree(v);
  cudaFree(o);
  cudaFree(lse);
  cudaFree(ref);
  cudaFree(of);
}
int main() {
  for (bool c : {false, true})
    for (int D : {64, 128}) {
      run<__nv_bfloat16>("bf16", 1, 4, 2, 128, 128, D, c, true, 0);
      run<__nv_bfloat16>("bf16", 2, 8, 2, 33, 33, D, c, true, 0);
      run<__nv_bfloat16>("bf16", 2, 8, 2, 300, 300, D, c, true, 0);
      run<__nv_bfloat16>("bf16", 1, 4, 4, 200, 1000, D, c, true, 0);
      run<__half>("f16", 2, 8, 2, 257, 513, D, c, true, 0);
      run<__half>("f16", 1, 8, 2, 257, 129, D, c, true, 0);
    }
  // More work items than SMs (the persistent CTAs take several each, K/V stages running on
  // across items), and causal Tq > Tk, where the lightest items see no key at all.
  run<__nv_bfloat16>("bf16", 2, 32, 8, 1000, 1000, 128, true, true, 0);
  run<__nv_bfloat16>("bf16", 2, 32, 8, 1000, 1000, 64, false, true, 0);
  run<__half>("f16", 4, 32, 8, 1000, 300, 128, true, true, 0);
  run<__nv_bfloat16>("bf16", 1, 32, 8, 4096, 4096, 128, true, true, 20);
  int shapes[][2] = {{1, 512}, {1, 4096}, {4, 2048}, {8, 1024}, {1, 8192}};
  for (auto& s : shapes) run<__nv_bfloat16>("bf16", s[0], 32, 8, s[1], s[1], 128, true, false, 20);
  for (auto& s : shapes) run<__nv_bfloat16>("bf16", s[0], 32, 8, s[1], s[1], 128, false, false, 20);
  for (auto& s : shapes) run<__nv_bfloat16>("bf16", s[0], 32, 8, s[1], s[1], 64, true, false, 20);
}
