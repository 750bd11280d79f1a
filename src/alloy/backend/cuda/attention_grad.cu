// GPU kernels of scaled_dot_product_attention's backward (ScaledDotProductAttentionGrad), in the
// manner of FlashAttention-2: P is recomputed tile by tile from the forward's log-sum-exp, so no
// (Tq, Tk) tensor exists. bf16/f16, D == Dv in {64, 128}, tensor cores (mma.sync m16n8k16,
// float32 accumulators), any mask kind. Three kernels, deterministic (no atomics):
//  * delta_kernel: delta = rowsum(dO * O) per query row, float32.
//  * dkdv_kernel: a CTA of 4 warps owns 64 keys of one (b, kv head) (16 per warp) and loops over
//    the query tiles of every query head of its group (Q, dO, lse and delta staged with cp.async,
//    two stages): S^T = K Q^T, P^T = exp(S^T - lse), dV += P^T dO, dP^T = V dO^T,
//    dS^T = P^T (dP^T - delta), dK += dS^T Q. dK and dV stay in registers to the end.
//  * dq_kernel: a CTA of 4 warps owns 64 queries of one (b, head) (16 per warp) and loops over key
//    tiles as the forward does: S = Q K^T, dP = dO V^T, dS = P (dP - delta), dQ += dS K.
// The dq pass recomputes S and dP (two more GEMMs than one pass with float32 atomics on dQ), for
// a result that does not depend on scheduling. Rows that see no key (lse = -inf) get zero
// gradients: lse is replaced by +inf, so their P is 0.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "alloy/backend/cuda/attention_common.cuh"
#include "alloy/core/fast_primitives.h"

namespace alloy {
namespace cuda {
namespace {

constexpr int kGradThreads = 128;  // 4 warps, 16 rows (keys or queries) each
constexpr int kGradBlock = 64;     // keys per dK/dV CTA, queries per dQ CTA, keys per dQ tile
constexpr float kLog2e = 1.4426950408889634f;

struct GradArgs {
  AttnArgs fw;  // q, k, v, mask, shapes, scale, causal of the forward (out and lse unused)
  const void* out;
  const void* dout;
  const float* lse;  // (B, Hq, Tq), natural log
  float* delta;      // (B, Hq, Tq): written by delta_kernel
  void* dq;
  void* dk;
  void* dv;
};

// The query tile of dK/dV: 64 queries for D = 64; 32 for D = 128, so that the dK and dV
// accumulators (2 x 16 x 128 floats per warp) leave registers for the scores.
template <int D>
constexpr int dkdv_query_tile() {
  return D == 64 ? 64 : 32;
}

template <int D>
constexpr int dkdv_smem_bytes() {
  constexpr int QT = dkdv_query_tile<D>();
  // K and V of the CTA's keys; two stages of (Q, dO) tiles; two stages of (lse, delta) rows.
  return (2 * kGradBlock + 2 * 2 * QT) * (D + 8) * 2 + 2 * 2 * QT * 4;
}

template <int D>
constexpr int dq_smem_bytes() {
  // Two stages of K and V tiles; Q and dO are staged in the second one before the loop.
  return 4 * kGradBlock * (D + 8) * 2;
}

// lse in log2 units for ex2, or +inf (P = 0) for rows past Tq or rows that see no key.
__device__ __forceinline__ float lse_log2(const float* lse, int64_t row, bool valid) {
  const float l = valid ? lse[row] : kNegInf;
  return l > kNegInf ? l * kLog2e : INFINITY;
}

// A warp per row: delta[row] = sum_d dO[row, d] O[row, d].
template <typename T>
__global__ void __launch_bounds__(256) delta_kernel(const T* out, const T* dout, float* delta, int64_t rows, int D) {
  const int64_t row = int64_t(blockIdx.x) * 8 + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= rows) return;
  const T* o = out + row * D;
  const T* g = dout + row * D;
  float acc = 0.0f;
  for (int d = 2 * lane; d < D; d += 64) {
    const float2 x = Pair<T>::to_float2(*reinterpret_cast<const typename Pair<T>::type*>(o + d));
    const float2 y = Pair<T>::to_float2(*reinterpret_cast<const typename Pair<T>::type*>(g + d));
    acc = fmaf(x.x, y.x, fmaf(x.y, y.y, acc));
  }
  acc = warp_sum(acc);
  if (lane == 0) delta[row] = acc;
}

// C (16 x 8 NT) += A (16 x 16 KD, rows of As) B^T where B's rows are Bs (8 NT rows): the
// pattern of Q K^T. A's fragments come from shared memory by ldmatrix (rows a_row0 ...).
template <typename T, int KD, int NT, int SD>
__device__ __forceinline__ void mma_abt_smem(float (&c)[NT][4], const T* As, const T* Bs, int lane) {
#pragma unroll
  for (int kk = 0; kk < KD; ++kk) {
    uint32_t af[4];
    ldsm_x4(af, As + (lane & 15) * SD + kk * 16 + (lane >> 4) * 8);
#pragma unroll
    for (int np = 0; np < NT / 2; ++np) {
      uint32_t r[4];
      ldsm_x4(r, Bs + (np * 16 + ((lane >> 4) << 3) + (lane & 7)) * SD + kk * 16 + ((lane >> 3) & 1) * 8);
      mma16816<T>(c[2 * np], af, r[0], r[1]);
      mma16816<T>(c[2 * np + 1], af, r[2], r[3]);
    }
  }
}

// The same with A's fragments already in registers (a[KD][4]).
template <typename T, int KD, int NT, int SD>
__device__ __forceinline__ void mma_abt_regs(float (&c)[NT][4], const uint32_t (&a)[KD][4], const T* Bs, int lane) {
#pragma unroll
  for (int kk = 0; kk < KD; ++kk) {
#pragma unroll
    for (int np = 0; np < NT / 2; ++np) {
      uint32_t r[4];
      ldsm_x4(r, Bs + (np * 16 + ((lane >> 4) << 3) + (lane & 7)) * SD + kk * 16 + ((lane >> 3) & 1) * 8);
      mma16816<T>(c[2 * np], a[kk], r[0], r[1]);
      mma16816<T>(c[2 * np + 1], a[kk], r[2], r[3]);
    }
  }
}

// C (16 x D) += P (16 x 16 NP, in C-fragment registers p[NP * 2][4]) B where B (16 NP x D) is
// row-major in shared memory: the pattern of P V.
template <typename T, int D, int NP2, int SD>
__device__ __forceinline__ void mma_pb(float (&c)[D / 8][4], const float (&p)[NP2][4], const T* Bs, int lane) {
#pragma unroll
  for (int j = 0; j < NP2 / 2; ++j) {
    uint32_t pa[4];
    pa[0] = pack2<T>(p[2 * j][0], p[2 * j][1]);
    pa[1] = pack2<T>(p[2 * j][2], p[2 * j][3]);
    pa[2] = pack2<T>(p[2 * j + 1][0], p[2 * j + 1][1]);
    pa[3] = pack2<T>(p[2 * j + 1][2], p[2 * j + 1][3]);
    const int brow = j * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
#pragma unroll
    for (int dt = 0; dt < D / 16; ++dt) {
      uint32_t r[4];
      ldsm_x4_trans(r, Bs + brow * SD + dt * 16 + (lane >> 4) * 8);
      mma16816<T>(c[2 * dt], pa, r[0], r[1]);
      mma16816<T>(c[2 * dt + 1], pa, r[2], r[3]);
    }
  }
}

template <int N, int M>
__device__ __forceinline__ void zero(float (&c)[N][M]) {
#pragma unroll
  for (int i = 0; i < N; ++i) {
#pragma unroll
    for (int j = 0; j < M; ++j) c[i][j] = 0.0f;
  }
}

// Rows r0 and r0 + 8 of a C-fragment accumulator (16 x D) times `scale` into dst (rows of D).
template <typename T, int D>
__device__ __forceinline__ void store_rows(T* dst, const float (&c)[D / 8][4], int r0, int nrows, float scale,
                                           int t4) {
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = r0 + 8 * r;
    if (row >= nrows) continue;
    T* p = dst + int64_t(row) * D;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      *reinterpret_cast<typename Pair<T>::type*>(p + i * 8 + 2 * t4) =
          Pair<T>::from_float2(c[i][2 * r] * scale, c[i][2 * r + 1] * scale);
    }
  }
}

// grid (ceil(Tk / 64), Hkv, B), 128 threads, dkdv_smem_bytes<D>() dynamic shared memory.
template <typename T, int D, MaskKind MK>
__global__ void __launch_bounds__(kGradThreads) dkdv_kernel(GradArgs g) {
  constexpr int SD = D + 8;
  constexpr int QT = dkdv_query_tile<D>();
  constexpr int NT = QT / 8;  // n8 tiles of S^T per warp (queries)
  constexpr int KD = D / 16;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* const Ks = reinterpret_cast<T*>(smem_raw);
  T* const Vs = Ks + kGradBlock * SD;
  T* const stages = Vs + kGradBlock * SD;                                  // stage s: Q, dO (QT rows each)
  float* const stats = reinterpret_cast<float*>(stages + 4 * QT * SD);     // stage s: lse_log2[QT], delta[QT]

  const AttnArgs& a = g.fw;
  const int n0 = blockIdx.x * kGradBlock;  // causal: the first keys see the most queries, and run first
  const int hk = blockIdx.y, b = blockIdx.z;
  const int Tq = a.Tq, Tk = a.Tk, diag = Tk - Tq;  // query i sees keys j <= i + diag
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int gq = lane >> 2, t4 = lane & 3;
  const int wk0 = n0 + warp * 16;  // the warp's first key; this thread's rows: wk0 + gq, + 8

  const T* K = static_cast<const T*>(a.k) + (int64_t(b) * a.Hkv + hk) * Tk * D;
  const T* V = static_cast<const T*>(a.v) + (int64_t(b) * a.Hkv + hk) * Tk * D;
  load_tile_async<T, D, kGradBlock, kGradThreads>(Ks, K, n0, Tk);
  load_tile_async<T, D, kGradBlock, kGradThreads>(Vs, V, n0, Tk);

  // Query tiles that see any of these keys (causal: queries i >= n0 - diag), for every head of
  // the group in turn.
  const int m_first = a.causal ? max(0, n0 - diag) / QT * QT : 0;
  const int tiles_per_head = m_first < Tq ? (Tq - m_first + QT - 1) / QT : 0;
  const int total = tiles_per_head * a.groups;
  auto stage_tile = [&](int it, int stg) {
    const int h = hk * a.groups + it / tiles_per_head;
    const int m0 = m_first + (it % tiles_per_head) * QT;
    const int64_t head = (int64_t(b) * a.Hq + h) * Tq;
    T* dst = stages + stg * 2 * QT * SD;
    load_tile_async<T, D, QT, kGradThreads>(dst, static_cast<const T*>(a.q) + head * D, m0, Tq);
    load_tile_async<T, D, QT, kGradThreads>(dst + QT * SD, static_cast<const T*>(g.dout) + head * D, m0, Tq);
    if (tid < QT) {
      const bool valid = m0 + tid < Tq;
      stats[stg * 2 * QT + tid] = lse_log2(g.lse, head + m0 + tid, valid);
      stats[stg * 2 * QT + QT + tid] = valid ? g.delta[head + m0 + tid] : 0.0f;
    }
  };
  if (total > 0) stage_tile(0, 0);
  cp_async_commit();

  float dk[D / 8][4], dv[D / 8][4];
  zero(dk);
  zero(dv);
  for (int it = 0; it < total; ++it) {
    const int stg = it & 1;
    if (it + 1 < total) stage_tile(it + 1, stg ^ 1);
    cp_async_commit();
    cp_async_wait<1>();  // tile it (and K, V) have landed
    __syncthreads();

    const int h = hk * a.groups + it / tiles_per_head;
    const int m0 = m_first + (it % tiles_per_head) * QT;
    const T* Qs = stages + stg * 2 * QT * SD;
    const T* dOs = Qs + QT * SD;
    const float* lse_s = stats + stg * 2 * QT;
    const float* delta_s = lse_s + QT;
    // Causal: skip when every key of the warp lies above the diagonal of every query of the tile.
    if (!a.causal || wk0 <= m0 + QT - 1 + diag) {
      float s[NT][4];  // S^T: rows keys wk0 + gq (+ 8), columns queries m0 + nt * 8 + 2 t4 (+ 1)
      zero(s);
      mma_abt_smem<T, KD, NT, SD>(s, Ks + warp * 16 * SD, Qs, lane);
      const bool edge = (a.causal && m0 + diag < wk0 + 15) || MK != MaskKind::none;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int col = nt * 8 + 2 * t4 + (e & 1);
          float x = s[nt][e] * a.scale;
          if (edge) {
            const int kj = wk0 + gq + (e >> 1) * 8, qi = m0 + col;
            if (a.causal && kj > qi + diag) {
              x = kNegInf;
            } else if (qi < Tq && kj < Tk) {
              x = apply_mask<T, MK>(a, b, h, qi, kj, x);
            }
          }
          s[nt][e] = fast_exp2(x * kLog2e - lse_s[col]);  // P^T
        }
      }
      mma_pb<T, D, NT, SD>(dv, s, dOs, lane);  // dV += P^T dO

      float dp[NT][4];  // dP^T = V dO^T, then dS^T
      zero(dp);
      mma_abt_smem<T, KD, NT, SD>(dp, Vs + warp * 16 * SD, dOs, lane);
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) dp[nt][e] = s[nt][e] * (dp[nt][e] - delta_s[nt * 8 + 2 * t4 + (e & 1)]);
      }
      mma_pb<T, D, NT, SD>(dk, dp, Qs, lane);  // dK += dS^T Q
    }
    __syncthreads();  // every warp is done with this stage
  }
  cp_async_wait<0>();

  const int64_t kv_head = (int64_t(b) * a.Hkv + hk) * Tk;
  store_rows<T, D>(static_cast<T*>(g.dk) + kv_head * D, dk, wk0 + gq, Tk, a.scale, t4);
  store_rows<T, D>(static_cast<T*>(g.dv) + kv_head * D, dv, wk0 + gq, Tk, 1.0f, t4);
}

// grid (ceil(Tq / 64), Hq, B), 128 threads, dq_smem_bytes<D>() dynamic shared memory.
template <typename T, int D, MaskKind MK>
__global__ void __launch_bounds__(kGradThreads) dq_kernel(GradArgs g) {
  constexpr int SD = D + 8;
  constexpr int NT = kGradBlock / 8;  // n8 tiles of scores per warp (keys)
  constexpr int KD = D / 16;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* const buf = reinterpret_cast<T*>(smem_raw);  // K0, V0, K1, V1: 64 rows each

  const AttnArgs& a = g.fw;
  const int mb = int(gridDim.x) - 1 - int(blockIdx.x);  // the heaviest (causal) query tiles first
  const int h = blockIdx.y, b = blockIdx.z;
  const int hk = h / a.groups;
  const int Tq = a.Tq, Tk = a.Tk, diag = Tk - Tq;
  const int m0 = mb * kGradBlock;
  const int64_t head = (int64_t(b) * a.Hq + h) * Tq;
  const T* K = static_cast<const T*>(a.k) + (int64_t(b) * a.Hkv + hk) * Tk * D;
  const T* V = static_cast<const T*>(a.v) + (int64_t(b) * a.Hkv + hk) * Tk * D;

  int n_end = Tk;
  if (a.causal) n_end = min(Tk, m0 + kGradBlock + diag);
  const int ntiles = n_end > 0 ? (n_end + kGradBlock - 1) / kGradBlock : 0;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int gq = lane >> 2, t4 = lane & 3;
  const int wq0 = m0 + warp * 16;  // the warp's first query
  const int qi0 = wq0 + gq;        // this thread's rows: qi0 and qi0 + 8

  load_tile_async<T, D, kGradBlock, kGradThreads>(buf + 2 * kGradBlock * SD, static_cast<const T*>(a.q) + head * D,
                                                  m0, Tq);
  load_tile_async<T, D, kGradBlock, kGradThreads>(buf + 3 * kGradBlock * SD,
                                                  static_cast<const T*>(g.dout) + head * D, m0, Tq);
  if (ntiles > 0) {
    load_tile_async<T, D, kGradBlock, kGradThreads>(buf, K, 0, Tk);
    load_tile_async<T, D, kGradBlock, kGradThreads>(buf + kGradBlock * SD, V, 0, Tk);
  }
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  // Q and dO fragments of the warp's 16 rows (A operands), and the rows' lse and delta.
  uint32_t qf[KD][4], df[KD][4];
#pragma unroll
  for (int kk = 0; kk < KD; ++kk) {
    ldsm_x4(qf[kk], buf + (2 * kGradBlock + warp * 16 + (lane & 15)) * SD + kk * 16 + (lane >> 4) * 8);
    ldsm_x4(df[kk], buf + (3 * kGradBlock + warp * 16 + (lane & 15)) * SD + kk * 16 + (lane >> 4) * 8);
  }
  float lse_r[2], delta_r[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int qi = qi0 + 8 * r;
    lse_r[r] = lse_log2(g.lse, head + qi, qi < Tq);
    delta_r[r] = qi < Tq ? g.delta[head + qi] : 0.0f;
  }
  __syncthreads();  // every warp has its fragments: stage 1 is free
  if (ntiles > 1) {
    load_tile_async<T, D, kGradBlock, kGradThreads>(buf + 2 * kGradBlock * SD, K, kGradBlock, Tk);
    load_tile_async<T, D, kGradBlock, kGradThreads>(buf + 3 * kGradBlock * SD, V, kGradBlock, Tk);
  }
  cp_async_commit();

  float dq[D / 8][4];
  zero(dq);
  for (int it = 0; it < ntiles; ++it) {
    const int n0 = it * kGradBlock;
    const int stg = it & 1;
    const T* Ks = buf + (2 * stg) * kGradBlock * SD;
    const T* Vs = Ks + kGradBlock * SD;
    cp_async_wait<1>();
    __syncthreads();
    if (!a.causal || n0 <= wq0 + 15 + diag) {
      float s[NT][4], dp[NT][4];
      zero(s);
      zero(dp);
      mma_abt_regs<T, KD, NT, SD>(s, qf, Ks, lane);   // S = Q K^T
      mma_abt_regs<T, KD, NT, SD>(dp, df, Vs, lane);  // dP = dO V^T
      const bool edge =
          n0 + kGradBlock > Tk || (a.causal && n0 + kGradBlock - 1 > wq0 + diag) || MK != MaskKind::none;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int r = e >> 1;
          float x = s[nt][e] * a.scale;
          if (edge) {
            const int qi = qi0 + 8 * r, kj = n0 + nt * 8 + 2 * t4 + (e & 1);
            if (kj >= Tk || (a.causal && kj > qi + diag)) {
              x = kNegInf;
            } else if (qi < Tq) {
              x = apply_mask<T, MK>(a, b, h, qi, kj, x);
            }
          }
          const float p = fast_exp2(x * kLog2e - lse_r[r]);
          s[nt][e] = p * (dp[nt][e] - delta_r[r]);  // dS
        }
      }
      mma_pb<T, D, NT, SD>(dq, s, Ks, lane);  // dQ += dS K
    }
    __syncthreads();
    if (it + 2 < ntiles) {
      load_tile_async<T, D, kGradBlock, kGradThreads>(buf + (2 * stg) * kGradBlock * SD, K, n0 + 2 * kGradBlock, Tk);
      load_tile_async<T, D, kGradBlock, kGradThreads>(buf + (2 * stg + 1) * kGradBlock * SD, V,
                                                      n0 + 2 * kGradBlock, Tk);
    }
    cp_async_commit();
  }
  cp_async_wait<0>();
  store_rows<T, D>(static_cast<T*>(g.dq) + head * D, dq, qi0, Tq, a.scale, t4);
}

template <typename Kernel>
void set_smem(Kernel kernel, int bytes) {
  if (bytes > 48 * 1024) {
    ALLOY_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  }
}

template <typename T, int D, MaskKind MK>
void launch_attention_grad(const GradArgs& g, cudaStream_t st) {
  const AttnArgs& a = g.fw;
  const int64_t rows = int64_t(a.B) * a.Hq * a.Tq;
  delta_kernel<T><<<unsigned((rows + 7) / 8), 256, 0, st>>>(static_cast<const T*>(g.out),
                                                            static_cast<const T*>(g.dout), g.delta, rows, D);
  ALLOY_CUDA_LAUNCH_CHECK("scaled_dot_product_attention_grad (delta)");

  constexpr int kv_smem = dkdv_smem_bytes<D>();
  auto kv_kernel = dkdv_kernel<T, D, MK>;
  set_smem(kv_kernel, kv_smem);
  dim3 kv_grid(unsigned((a.Tk + kGradBlock - 1) / kGradBlock), unsigned(a.Hkv), unsigned(a.B));
  kv_kernel<<<kv_grid, kGradThreads, kv_smem, st>>>(g);
  ALLOY_CUDA_LAUNCH_CHECK("scaled_dot_product_attention_grad (dk, dv)");

  constexpr int q_smem = dq_smem_bytes<D>();
  auto q_kernel = dq_kernel<T, D, MK>;
  set_smem(q_kernel, q_smem);
  dim3 q_grid(unsigned((a.Tq + kGradBlock - 1) / kGradBlock), unsigned(a.Hq), unsigned(a.B));
  q_kernel<<<q_grid, kGradThreads, q_smem, st>>>(g);
  ALLOY_CUDA_LAUNCH_CHECK("scaled_dot_product_attention_grad (dq)");
}

template <typename T, MaskKind MK>
void launch_attention_grad(const GradArgs& g, cudaStream_t st) {
  if (g.fw.D == 64) return launch_attention_grad<T, 64, MK>(g, st);
  return launch_attention_grad<T, 128, MK>(g, st);
}

}  // namespace
}  // namespace cuda

void ScaledDotProductAttentionGrad::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  // Inputs (q, k, v[, mask], out, lse, d_out).
  const size_t n = inputs.size();
  const array& q_in = inputs[0];
  const Dtype t = q_in.dtype();
  const int64_t B = q_in.shape(0), Hq = q_in.shape(1), Tq = q_in.shape(2), D = q_in.shape(3);
  const int64_t Hkv = inputs[1].shape(1), Tk = inputs[1].shape(2), Dv = inputs[2].shape(3);
  bool supported = gpu_supports(t, D, Dv) && inputs[1].dtype() == t && inputs[2].dtype() == t &&
                   inputs[n - 3].dtype() == t && inputs[n - 1].dtype() == t && inputs[n - 2].dtype() == float32;
  if (has_mask_) supported = supported && (inputs[3].dtype() == bool_ || inputs[3].dtype() == t);
  constexpr int64_t kIntMax = 0x7fffffff;
  supported = supported && Tq > 0 && Tk > 0 && B <= 65535 && Hq <= 65535 &&
              B * Hq * Tq <= kIntMax && B * Hkv * Tk <= kIntMax;
  for (auto& o : outputs) supported = supported && o.dtype() == t;
  if (!supported) return cuda::fallback_to_cpu(*this, inputs, outputs);

  const Stream& s = stream();
  array q = cuda::as_row_contiguous(inputs[0], s);
  array k = cuda::as_row_contiguous(inputs[1], s);
  array v = cuda::as_row_contiguous(inputs[2], s);
  array out = cuda::as_row_contiguous(inputs[n - 3], s);
  array lse = cuda::as_row_contiguous(inputs[n - 2], s);
  array dout = cuda::as_row_contiguous(inputs[n - 1], s);
  // The kernels stage rows with 16-byte copies: a view at an odd offset takes the CPU's path.
  for (const array* x : {&q, &k, &v, &out, &dout}) {
    if (!cuda::aligned_to(cuda::device_ptr(*x, s), 16)) return cuda::fallback_to_cpu(*this, inputs, outputs);
  }
  for (auto& o : outputs) cuda::allocate(o);

  cuda::GradArgs g{};
  cuda::AttnArgs& a = g.fw;
  a.B = int(B);
  a.Hq = int(Hq);
  a.Hkv = int(Hkv);
  a.Tq = int(Tq);
  a.Tk = int(Tk);
  a.D = int(D);
  a.Dv = int(Dv);
  a.groups = int(Hq / Hkv);
  a.scale = scale_;
  a.causal = causal_;
  g.lse = static_cast<const float*>(cuda::device_ptr(lse, s));
  g.delta = static_cast<float*>(cuda::scratch(s, size_t(B * Hq * Tq) * sizeof(float)));
  cudaStream_t st = cuda::stream_of(s);
  cuda::dispatch(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (cuda::is_half_v<T>) {
      a.q = cuda::in_ptr<T>(q, s);
      a.k = cuda::in_ptr<T>(k, s);
      a.v = cuda::in_ptr<T>(v, s);
      g.out = cuda::in_ptr<T>(out, s);
      g.dout = cuda::in_ptr<T>(dout, s);
      g.dq = cuda::out_ptr<T>(outputs[0]);
      g.dk = cuda::out_ptr<T>(outputs[1]);
      g.dv = cuda::out_ptr<T>(outputs[2]);
      if (!has_mask_) return cuda::launch_attention_grad<T, cuda::MaskKind::none>(g, st);
      const array& m = inputs[3];
      a.mask = cuda::device_ptr(m, s);
      for (int d = 0; d < 4; ++d) a.ms[d] = m.strides()[d];
      if (m.dtype() == bool_) return cuda::launch_attention_grad<T, cuda::MaskKind::boolean>(g, st);
      return cuda::launch_attention_grad<T, cuda::MaskKind::additive>(g, st);
    }
  });
}

}  // namespace alloy
