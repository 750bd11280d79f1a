// GPU kernels of scaled_dot_product_attention, mirroring backend/cpu/fast.cpp: scores, softmax
// statistics and the weighted sum of V are all float32; the output is rounded once to the
// storage type. Three kernels, none of which materializes (Tq, Tk):
//  * flash_kernel (bf16/f16, D == Dv in {64, 128}, Tq > 4; on Hopper the wgmma kernel of
//    hopper/attention_wgmma.cu takes these calls instead): a CTA of 8 warps takes 128 queries
//    of one (b, h) (16 per warp) and loops over key tiles of 64 staged in shared memory with
//    cp.async, two stages deep (K and V of tile i + 1 load while tile i is used); Q K^T and P V run
//    on tensor cores (mma.sync m16n8k16, float32 accumulators, K and V fragments by ldmatrix, P
//    from registers) with an online softmax in registers (log2 units, ex2).
//    Causal: key tiles wholly above the diagonal are never visited (by the CTA, or by a warp).
//  * decode_kernel + decode_combine (Tq <= 4, D == Dv in {64, 128}, bf16/f16/f32): split-K.
//    One CTA holds the query rows (groups * Tq; 4, 8 or up to 32 per CTA) of one kv head for one
//    chunk of keys, so K and V are read once per kv head; K/V tiles are staged with cp.async,
//    double-buffered where they fit; it writes a float32 partial (max, sum, sum of p * V), and
//    decode_combine (a CTA per row) merges the chunks of each row.
//  * rowwise_kernel (everything else: f32 prefill, other head dims up to 256, Dv != D,
//    unaligned data, Tk == 0): a warp per query row, float32 online softmax.
// Masks (boolean or additive, any broadcast strides) are read in place by all three kernels.
// Rows that see no key: 0 for causal attention (as the CPU's causal path), NaN otherwise (a
// fully masked row, or Tk == 0; as the CPU).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

#include "alloy/backend/cuda/dependent_launch.cuh"
#include "alloy/backend/cuda/attention_common.cuh"
#include "alloy/core/fast_primitives.h"
#if ALLOY_WGMMA_KERNELS
#include "alloy/backend/cuda/hopper/attention_wgmma.h"
#endif

namespace alloy {
namespace cuda {
namespace {

// ------------------------------------------------------------------------------------------
// Flash attention (prefill), tensor cores.

constexpr int kFlashBM = 128;       // queries per CTA (16 per warp)
constexpr int kFlashBN = 64;        // keys per tile
constexpr int kFlashThreads = 256;  // 8 warps
static_assert(kFlashBM == 2 * kFlashBN, "Q is staged in the second K/V stage");

template <int D>
constexpr int flash_smem_bytes() {
  // Two stages of K and V tiles of 16-bit elements, rows padded by 16 bytes; the Q tile is staged
  // in the second stage before the loop.
  return 4 * kFlashBN * (D + 8) * 2;
}

// grid (ceil(Tq / 128), Hq, B), 256 threads, flash_smem_bytes<D>() dynamic shared memory.
// Two-stage pipeline: key tile it + 1 (K and V) loads while tile it is used. Scores are kept in
// log2 units (scale * log2 e folded in) for ex2. A warp skips (causal) tiles that none of its 16
// rows can see, which leaves its state exactly as visiting them would.
template <typename T, int D, MaskKind MK>
__global__ void __launch_bounds__(kFlashThreads, 1) flash_kernel(AttnArgs a) {
  constexpr int SD = D + 8;
  constexpr int NT = kFlashBN / 8;  // n8 tiles of scores per warp
  constexpr int KD = D / 16;        // k16 steps over the head dim
  constexpr float kLog2e = 1.4426950408889634f;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* const buf = reinterpret_cast<T*>(smem_raw);  // K0, V0, K1, V1: kFlashBN rows each
  T* const Qs = buf + 2 * kFlashBN * SD;          // over K1, V1

  // The heaviest (causal) query tiles first.
  const int mb = int(gridDim.x) - 1 - int(blockIdx.x);
  const int h = blockIdx.y, b = blockIdx.z;
  const int hk = h / a.groups;
  const int Tq = a.Tq, Tk = a.Tk;
  const int m0 = mb * kFlashBM;
  const T* Q = static_cast<const T*>(a.q) + (int64_t(b) * a.Hq + h) * Tq * D;
  const T* K = static_cast<const T*>(a.k) + (int64_t(b) * a.Hkv + hk) * Tk * D;
  const T* V = static_cast<const T*>(a.v) + (int64_t(b) * a.Hkv + hk) * Tk * D;
  T* O = static_cast<T*>(a.out) + (int64_t(b) * a.Hq + h) * Tq * D;

  const int diag = Tk - Tq;  // query i sees keys j <= i + diag
  int n_end = Tk;
  if (a.causal) n_end = min(Tk, m0 + kFlashBM + diag);
  const int ntiles = n_end > 0 ? (n_end + kFlashBN - 1) / kFlashBN : 0;

  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t4 = lane & 3;
  const int row0 = warp * 16 + g;  // this thread's rows in the tile: row0 and row0 + 8
  const int qi0 = m0 + row0, qi1 = qi0 + 8;
  const int wq0 = m0 + warp * 16;  // the warp's first query
  const float scale = a.scale, scale_l2 = a.scale * kLog2e;

  load_tile_async<T, D, kFlashBM, kFlashThreads>(Qs, Q, m0, Tq);
  if (ntiles > 0) {
    load_tile_async<T, D, kFlashBN, kFlashThreads>(buf, K, 0, Tk);
    load_tile_async<T, D, kFlashBN, kFlashThreads>(buf + kFlashBN * SD, V, 0, Tk);
  }
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();

  uint32_t qf[KD][4];
#pragma unroll
  for (int kk = 0; kk < KD; ++kk) {
    const int c = kk * 16 + 2 * t4;
    qf[kk][0] = *reinterpret_cast<const uint32_t*>(Qs + row0 * SD + c);
    qf[kk][1] = *reinterpret_cast<const uint32_t*>(Qs + (row0 + 8) * SD + c);
    qf[kk][2] = *reinterpret_cast<const uint32_t*>(Qs + row0 * SD + c + 8);
    qf[kk][3] = *reinterpret_cast<const uint32_t*>(Qs + (row0 + 8) * SD + c + 8);
  }
  __syncthreads();  // every warp has its Q fragments: stage 1 is free
  if (ntiles > 1) {
    load_tile_async<T, D, kFlashBN, kFlashThreads>(buf + 2 * kFlashBN * SD, K, kFlashBN, Tk);
    load_tile_async<T, D, kFlashBN, kFlashThreads>(buf + 3 * kFlashBN * SD, V, kFlashBN, Tk);
  }
  cp_async_commit();

  float o[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
  float m_r[2] = {kNegInf, kNegInf};  // log2 units
  float l_r[2] = {0.0f, 0.0f};  // this thread's share of the row sums (summed over 4 lanes at the end)

  for (int it = 0; it < ntiles; ++it) {
    const int n0 = it * kFlashBN;
    const int stg = it & 1;
    const T* Ks = buf + (2 * stg) * kFlashBN * SD;
    const T* Vs = Ks + kFlashBN * SD;
    cp_async_wait<1>();  // tile it has landed (the newest group, tile it + 1, may be in flight)
    __syncthreads();     // ... visible to all

    // Causal: keys from n0 on are all above the diagonal of the warp's rows when n0 > wq0 + 15 + diag.
    if (!a.causal || n0 <= wq0 + 15 + diag) {
      float s[NT][4];
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < KD; ++kk) {
#pragma unroll
        for (int np = 0; np < NT / 2; ++np) {
          // K fragments of n8 tiles 2 np and 2 np + 1 (k halves 0-7 and 8-15) by one ldmatrix.x4.
          const T* kp = Ks + (np * 16 + ((lane >> 4) << 3) + (lane & 7)) * SD + kk * 16 + ((lane >> 3) & 1) * 8;
          uint32_t r0, r1, r2, r3;
          asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                       : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                       : "r"(smem_addr(kp)));
          mma16816<T>(s[2 * np], qf[kk], r0, r1);
          mma16816<T>(s[2 * np + 1], qf[kk], r2, r3);
        }
      }

      // Scale; mask keys past Tk, above the diagonal, or by the mask input.
      const bool edge =
          n0 + kFlashBN > Tk || (a.causal && n0 + kFlashBN - 1 > wq0 + diag) || MK != MaskKind::none;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          float val;
          if (edge) {
            val = s[nt][e] * scale;
            const int qi = e < 2 ? qi0 : qi1;
            const int kj = n0 + nt * 8 + 2 * t4 + (e & 1);
            if (kj >= Tk || (a.causal && kj > qi + diag)) {
              val = kNegInf;
            } else if (qi < Tq) {
              val = apply_mask<T, MK>(a, b, h, qi, kj, val);
            }
            val *= kLog2e;
          } else {
            val = s[nt][e] * scale_l2;
          }
          s[nt][e] = val;
        }
      }

      // Online softmax over this tile, rows r = 0 (row0) and 1 (row0 + 8).
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        float mx = kNegInf;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(m_r[r], mx);
        const float ref = m_new == kNegInf ? 0.0f : m_new;
        const float alpha = fast_exp2(m_r[r] - ref);
        float sum = 0.0f;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
          float p0 = fast_exp2(s[nt][2 * r] - ref), p1 = fast_exp2(s[nt][2 * r + 1] - ref);
          s[nt][2 * r] = p0;
          s[nt][2 * r + 1] = p1;
          sum += p0 + p1;
        }
        l_r[r] = l_r[r] * alpha + sum;
        m_r[r] = m_new;
#pragma unroll
        for (int i = 0; i < D / 8; ++i) {
          o[i][2 * r] *= alpha;
          o[i][2 * r + 1] *= alpha;
        }
      }

      // O += P V: P from the score registers, V fragments by ldmatrix.trans.
#pragma unroll
      for (int j = 0; j < kFlashBN / 16; ++j) {
        uint32_t pa[4];
        pa[0] = pack2<T>(s[2 * j][0], s[2 * j][1]);
        pa[1] = pack2<T>(s[2 * j][2], s[2 * j][3]);
        pa[2] = pack2<T>(s[2 * j + 1][0], s[2 * j + 1][1]);
        pa[3] = pack2<T>(s[2 * j + 1][2], s[2 * j + 1][3]);
        const int vrow = j * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
#pragma unroll
        for (int dt = 0; dt < D / 16; ++dt) {
          const T* vp = Vs + vrow * SD + dt * 16 + (lane >> 4) * 8;
          uint32_t r0, r1, r2, r3;
          asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                       : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                       : "r"(smem_addr(vp)));
          mma16816<T>(o[2 * dt], pa, r0, r1);
          mma16816<T>(o[2 * dt + 1], pa, r2, r3);
        }
      }
    }

    __syncthreads();  // every warp is done with this stage
    if (it + 2 < ntiles) {
      load_tile_async<T, D, kFlashBN, kFlashThreads>(buf + (2 * stg) * kFlashBN * SD, K, n0 + 2 * kFlashBN, Tk);
      load_tile_async<T, D, kFlashBN, kFlashThreads>(buf + (2 * stg + 1) * kFlashBN * SD, V, n0 + 2 * kFlashBN, Tk);
    }
    cp_async_commit();
  }
  cp_async_wait<0>();

#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float l = l_r[r];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const int qi = r == 0 ? qi0 : qi1;
    if (qi >= Tq) continue;
    const bool empty = !(l > 0.0f);
    const float inv = empty ? 0.0f : 1.0f / l;
    const float fill = a.nan_empty ? NAN : 0.0f;
    if (t4 == 0) {
      constexpr float kLn2 = 0.6931471805599453f;
      a.lse[(int64_t(b) * a.Hq + h) * Tq + qi] = empty ? kNegInf : (m_r[r] + log2f(l)) * kLn2;
    }
    T* orow = O + int64_t(qi) * D;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      float x = empty ? fill : o[i][2 * r] * inv;
      float y = empty ? fill : o[i][2 * r + 1] * inv;
      *reinterpret_cast<typename Pair<T>::type*>(orow + i * 8 + 2 * t4) = Pair<T>::from_float2(x, y);
    }
  }
}

// ------------------------------------------------------------------------------------------
// Split-K decode.

constexpr int kDecThreads = 128;  // 4 warps
constexpr int kDecKT = 32;        // keys per tile (a warp's lanes)

template <typename T, int D>
constexpr int decode_rows() {
  return (sizeof(T) == 4 && D == 128) ? 16 : 32;  // most query rows per CTA, within 48 KB of shared memory
}

// K rows in shared memory are padded by 16 bytes: 16-byte reads of row `lane` are conflict-free.
template <typename T, int D>
constexpr int decode_kstride() {
  return D + 16 / int(sizeof(T));
}

// Two K/V tile buffers (the next tile loads while this one is used) when they fit in 48 KB.
template <typename T, int D, int RB>
constexpr int decode_stages() {
  constexpr int fixed = RB * D * int(sizeof(T)) + RB * kDecKT * 4 + RB * 4;
  constexpr int tile = kDecKT * (decode_kstride<T, D>() + D) * int(sizeof(T));
  return fixed + 2 * tile <= 48 * 1024 ? 2 : 1;
}

// 8 bytes global -> shared, zero-filled when !valid (src is then not read).
__device__ __forceinline__ void cp_async8(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(valid ? 8 : 0));
}
// 16 bytes of T (read as a uint4) as floats.
template <typename T>
__device__ __forceinline__ void unpack16(const uint4& r, float (&f)[16 / sizeof(T)]) {
  if constexpr (sizeof(T) == 4) {
    f[0] = __uint_as_float(r.x);
    f[1] = __uint_as_float(r.y);
    f[2] = __uint_as_float(r.z);
    f[3] = __uint_as_float(r.w);
  } else {
    const uint32_t w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      float2 v = Pair<T>::to_float2(*reinterpret_cast<const typename Pair<T>::type*>(&w[j]));
      f[2 * j] = v.x;
      f[2 * j + 1] = v.y;
    }
  }
}

// grid (splits, Hkv * row_chunks, B). Rows of one kv head are the groups * Tq stacked query rows
// (heads hk * groups .. hk * groups + groups - 1 are adjacent in q), RB of them per CTA. Partials,
// for split s and global row gr = (b * Hq + h) * Tq + qi: po[(s * rows + gr) * D + d],
// pm/pl[s * rows + gr]. K and V tiles are staged with 8-byte cp.async (all of a tile's loads in
// flight at once), double-buffered where shared memory allows.
template <typename T, int D, int RB, MaskKind MK>
__global__ void __launch_bounds__(kDecThreads, 1) decode_kernel(AttnArgs a, int chunk, int row_chunks, float* po,
                                                             float* pm, float* pl) {
  wait_for_prerequisites();
  allow_dependents();
  constexpr int KS = decode_kstride<T, D>();
  constexpr int RW = RB / 4;  // rows per warp in the score phase
  constexpr int NG = kDecThreads / (D / 2);  // row groups in the P V phase
  constexpr int RG = RB / NG;
  constexpr int ST = decode_stages<T, D, RB>();
  constexpr int SE = 16 / int(sizeof(T));  // elements per 16-byte shared read
  constexpr int CE = 8 / int(sizeof(T));   // elements per 8-byte cp.async
  constexpr int CPR = D / CE;              // cp.async chunks per row
  constexpr int CPT = kDecKT * CPR / kDecThreads;  // ... per thread per tile (K, and again V)
  static_assert(RW >= 1 && RG >= 1 && RB % 4 == 0 && RB % NG == 0, "decode rows");
  static_assert(CPT * kDecThreads == kDecKT * CPR, "decode tile split");
  using P = Pair<T>;
  using T2 = typename P::type;
  __shared__ __align__(16) T Qs[RB * D];
  __shared__ __align__(16) T Ks[ST][kDecKT * KS];
  __shared__ __align__(16) T Vs[ST][kDecKT * D];
  __shared__ float Ss[RB * kDecKT];
  __shared__ float alpha_s[RB];

  const int split = blockIdx.x, b = blockIdx.z;
  const int hk = blockIdx.y / row_chunks, rc = blockIdx.y % row_chunks;
  const int R = a.groups * a.Tq;
  const int r_first = rc * RB;
  const int nr = min(RB, R - r_first);
  const int64_t total_rows = int64_t(a.B) * a.Hq * a.Tq;
  const int64_t base_row = (int64_t(b) * a.Hq + int64_t(hk) * a.groups) * a.Tq + r_first;
  const T* Q = static_cast<const T*>(a.q) + base_row * D;
  const T* K = static_cast<const T*>(a.k) + (int64_t(b) * a.Hkv + hk) * a.Tk * D;
  const T* V = static_cast<const T*>(a.v) + (int64_t(b) * a.Hkv + hk) * a.Tk * D;
  const int k_begin = split * chunk;
  const int k_end = min(a.Tk, k_begin + chunk);
  const int ntiles = k_end > k_begin ? (k_end - k_begin + kDecKT - 1) / kDecKT : 0;
  const int diag = a.Tk - a.Tq;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

  // Keys [n0, n0 + kDecKT) into stage buffer `stg`; keys at or past k_end are zero.
  auto load_kv = [&](int stg, int n0) {
#pragma unroll
    for (int j = 0; j < CPT; ++j) {
      const int i = tid + j * kDecThreads;
      const int kr = i / CPR, cc = (i % CPR) * CE;
      const int key = n0 + kr;
      const bool valid = key < k_end;
      const int64_t off = valid ? int64_t(key) * D + cc : 0;
      cp_async8(&Ks[stg][kr * KS + cc], K + off, valid);
      cp_async8(&Vs[stg][kr * D + cc], V + off, valid);
    }
  };
  if (ntiles > 0) load_kv(0, k_begin);
  cp_async_commit();
  if constexpr (ST == 2) {
    if (ntiles > 1) load_kv(1, k_begin + kDecKT);
    cp_async_commit();
  }

  for (int i = tid; i < RB * D; i += kDecThreads) Qs[i] = i / D < nr ? Q[i] : convert<T>(0.0f);

  // Score-phase rows of this warp: lr = warp + 4 * i.
  int qh[RW], qq[RW];
  float m_r[RW], l_r[RW];
#pragma unroll
  for (int i = 0; i < RW; ++i) {
    int r = r_first + warp + 4 * i;
    qh[i] = hk * a.groups + r / a.Tq;
    qq[i] = r % a.Tq;
    m_r[i] = kNegInf;
    l_r[i] = 0.0f;
  }
  // P V phase: column pair c, rows lr = rg + NG * i.
  const int c = tid % (D / 2), rg = tid / (D / 2);
  float2 o[RG];
#pragma unroll
  for (int i = 0; i < RG; ++i) o[i] = make_float2(0.0f, 0.0f);

  for (int it = 0; it < ntiles; ++it) {
    const int n0 = k_begin + it * kDecKT;
    const int stg = ST == 2 ? (it & 1) : 0;
    // This tile has landed (with ST == 2 the newest group, the next tile, may still be in flight).
    if constexpr (ST == 2) cp_async_wait<1>();
    else cp_async_wait<0>();
    __syncthreads();  // ... visible to all (and Qs written, the first time)

    // Scores: lane = key, the warp's rows; then the online softmax of each row across the warp.
    float acc[RW];
#pragma unroll
    for (int i = 0; i < RW; ++i) acc[i] = 0.0f;
    const T* kr = &Ks[stg][lane * KS];
#pragma unroll 4
    for (int cc = 0; cc < D; cc += SE) {
      float kf[SE];
      unpack16<T>(*reinterpret_cast<const uint4*>(kr + cc), kf);
#pragma unroll
      for (int i = 0; i < RW; ++i) {
        float qf[SE];
        unpack16<T>(*reinterpret_cast<const uint4*>(Qs + (warp + 4 * i) * D + cc), qf);
#pragma unroll
        for (int e = 0; e < SE; ++e) acc[i] = fmaf(qf[e], kf[e], acc[i]);
      }
    }
    const int key = n0 + lane;
#pragma unroll
    for (int i = 0; i < RW; ++i) {
      const int lr = warp + 4 * i;
      float sv = acc[i] * a.scale;
      if (lr >= nr || key >= k_end || (a.causal && key > qq[i] + diag)) {
        sv = kNegInf;
      } else {
        sv = apply_mask<T, MK>(a, b, qh[i], qq[i], key, sv);
      }
      const float m_new = fmaxf(m_r[i], warp_max(sv));
      const float ref = m_new == kNegInf ? 0.0f : m_new;
      const float p = fast_exp<T>(sv - ref);
      const float alpha = fast_exp<T>(m_r[i] - ref);
      l_r[i] = l_r[i] * alpha + warp_sum(p);
      m_r[i] = m_new;
      Ss[lr * kDecKT + lane] = p;
      if (lane == 0) alpha_s[lr] = alpha;
    }
    __syncthreads();

    // O = O * alpha + P V.
#pragma unroll
    for (int i = 0; i < RG; ++i) {
      float al = alpha_s[rg + NG * i];
      o[i].x *= al;
      o[i].y *= al;
    }
    const T* vs = &Vs[stg][2 * c];
#pragma unroll 4
    for (int kk = 0; kk < kDecKT; ++kk) {
      float2 vf = P::to_float2(*reinterpret_cast<const T2*>(vs + kk * D));
#pragma unroll
      for (int i = 0; i < RG; ++i) {
        float p = Ss[(rg + NG * i) * kDecKT + kk];
        o[i].x = fmaf(p, vf.x, o[i].x);
        o[i].y = fmaf(p, vf.y, o[i].y);
      }
    }
    __syncthreads();  // every warp is done with this stage's K/V and with Ss, alpha_s
    if constexpr (ST == 2) {
      if (it + 2 < ntiles) load_kv(stg, n0 + 2 * kDecKT);
      cp_async_commit();
    } else {
      if (it + 1 < ntiles) load_kv(0, n0 + kDecKT);
      cp_async_commit();
    }
  }
  cp_async_wait<0>();

#pragma unroll
  for (int i = 0; i < RG; ++i) {
    const int lr = rg + NG * i;
    if (lr < nr) {
      *reinterpret_cast<float2*>(po + (int64_t(split) * total_rows + base_row + lr) * D + 2 * c) = o[i];
    }
  }
  if (lane == 0) {
#pragma unroll
    for (int i = 0; i < RW; ++i) {
      const int lr = warp + 4 * i;
      if (lr < nr) {
        pm[int64_t(split) * total_rows + base_row + lr] = m_r[i];
        pl[int64_t(split) * total_rows + base_row + lr] = l_r[i];
      }
    }
  }
}

// A CTA of 4 warps per output row merges the splits' partials: every warp finds the global max
// and the total sum; then lane groups of D / 4 columns (float4 each) take the splits in turn
// (several loads in flight), and the groups' sums are added in shared memory.
constexpr int kCombThreads = 128;

template <typename T, int D>
__global__ void __launch_bounds__(kCombThreads) decode_combine(const float* po, const float* pm, const float* pl,
                                                               T* out, float* lse, int64_t rows, int splits,
                                                               bool nan_empty) {
  wait_for_prerequisites();
  allow_dependents();
  constexpr int LPG = D / 4;                       // lanes per group (float4 each)
  constexpr int NSUB = kCombThreads / LPG;         // groups in the CTA
  __shared__ __align__(16) float red[NSUB][D];
  const int64_t row = blockIdx.x;
  const int tid = threadIdx.x, lane = tid & 31;
  float mstar = kNegInf;
  for (int s = lane; s < splits; s += 32) mstar = fmaxf(mstar, pm[int64_t(s) * rows + row]);
  mstar = warp_max(mstar);
  T* orow = out + row * D;
  if (mstar == kNegInf) {
    const float fill = nan_empty ? NAN : 0.0f;
    for (int d = tid; d < D; d += kCombThreads) orow[d] = convert<T>(fill);
    if (tid == 0) lse[row] = kNegInf;
    return;
  }
  float L = 0.0f;
  for (int s = lane; s < splits; s += 32) {
    const int64_t i = int64_t(s) * rows + row;
    L += fast_exp<T>(pm[i] - mstar) * pl[i];
  }
  L = warp_sum(L);
  if (tid == 0) lse[row] = mstar + logf(L);
  const float inv = 1.0f / L;

  const int col = (tid % LPG) * 4, sub = tid / LPG;
  float4 acc[4];
#pragma unroll
  for (int u = 0; u < 4; ++u) acc[u] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  int s = sub;
  for (; s + 3 * NSUB < splits; s += 4 * NSUB) {
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int64_t i = int64_t(s + u * NSUB) * rows + row;
      const float w = fast_exp<T>(pm[i] - mstar);
      const float4 v = *reinterpret_cast<const float4*>(po + i * D + col);
      acc[u].x = fmaf(w, v.x, acc[u].x);
      acc[u].y = fmaf(w, v.y, acc[u].y);
      acc[u].z = fmaf(w, v.z, acc[u].z);
      acc[u].w = fmaf(w, v.w, acc[u].w);
    }
  }
  for (; s < splits; s += NSUB) {
    const int64_t i = int64_t(s) * rows + row;
    const float w = fast_exp<T>(pm[i] - mstar);
    const float4 v = *reinterpret_cast<const float4*>(po + i * D + col);
    acc[0].x = fmaf(w, v.x, acc[0].x);
    acc[0].y = fmaf(w, v.y, acc[0].y);
    acc[0].z = fmaf(w, v.z, acc[0].z);
    acc[0].w = fmaf(w, v.w, acc[0].w);
  }
  float4 t;
  t.x = (acc[0].x + acc[1].x) + (acc[2].x + acc[3].x);
  t.y = (acc[0].y + acc[1].y) + (acc[2].y + acc[3].y);
  t.z = (acc[0].z + acc[1].z) + (acc[2].z + acc[3].z);
  t.w = (acc[0].w + acc[1].w) + (acc[2].w + acc[3].w);
  *reinterpret_cast<float4*>(&red[sub][col]) = t;
  __syncthreads();
  for (int d = tid; d < D; d += kCombThreads) {
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < NSUB; ++j) sum += red[j][d];
    orow[d] = convert<T>(sum * inv);
  }
}

// ------------------------------------------------------------------------------------------
// Row-wise kernel: a warp per query row; lane holds elements lane + 32 * j of q and of the
// output row (NPL per lane, D and Dv <= 32 * NPL).

constexpr int kRowWarps = 4;

template <typename T, int NPL, MaskKind MK>
__global__ void __launch_bounds__(kRowWarps * 32) rowwise_kernel(AttnArgs a) {
  const int64_t row = int64_t(blockIdx.x) * kRowWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  const int64_t rows = int64_t(a.B) * a.Hq * a.Tq;
  if (row >= rows) return;
  const int qi = int(row % a.Tq);
  const int64_t bh = row / a.Tq;
  const int h = int(bh % a.Hq), b = int(bh / a.Hq);
  const int hk = h / a.groups;
  const int D = a.D, Dv = a.Dv;
  const T* Q = static_cast<const T*>(a.q) + row * D;
  const T* K = static_cast<const T*>(a.k) + (int64_t(b) * a.Hkv + hk) * a.Tk * D;
  const T* V = static_cast<const T*>(a.v) + (int64_t(b) * a.Hkv + hk) * a.Tk * Dv;
  float qv[NPL], o[NPL];
#pragma unroll
  for (int j = 0; j < NPL; ++j) {
    int d = lane + 32 * j;
    qv[j] = d < D ? convert<float>(Q[d]) : 0.0f;
    o[j] = 0.0f;
  }
  int kend = a.Tk;
  if (a.causal) kend = max(0, min(a.Tk, qi + a.Tk - a.Tq + 1));
  float m = kNegInf, l = 0.0f;
  constexpr int U = 4;  // keys per step, for independent loads and reductions
  for (int k0 = 0; k0 < kend; k0 += U) {
    float sc[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      int kj = min(k0 + u, kend - 1);
      const T* kr = K + int64_t(kj) * D;
      float acc = 0.0f;
#pragma unroll
      for (int j = 0; j < NPL; ++j) {
        int d = lane + 32 * j;
        if (d < D) acc = fmaf(qv[j], convert<float>(kr[d]), acc);
      }
      sc[u] = acc;
    }
#pragma unroll
    for (int u = 0; u < U; ++u) sc[u] = warp_sum(sc[u]);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      int kj = k0 + u;
      if (kj >= kend) break;
      float s = apply_mask<T, MK>(a, b, h, qi, kj, sc[u] * a.scale);
      if (s == kNegInf) continue;
      if (s > m) {
        float alpha = fast_exp<T>(m - s);
        l *= alpha;
#pragma unroll
        for (int j = 0; j < NPL; ++j) o[j] *= alpha;
        m = s;
      }
      float p = fast_exp<T>(s - m);
      l += p;
      const T* vr = V + int64_t(kj) * Dv;
#pragma unroll
      for (int j = 0; j < NPL; ++j) {
        int d = lane + 32 * j;
        if (d < Dv) o[j] = fmaf(p, convert<float>(vr[d]), o[j]);
      }
    }
  }
  T* orow = static_cast<T*>(a.out) + row * Dv;
  const bool empty = !(l > 0.0f);
  const float inv = empty ? 0.0f : 1.0f / l;
  const float fill = a.nan_empty ? NAN : 0.0f;
  if (lane == 0) a.lse[row] = empty ? kNegInf : m + logf(l);
#pragma unroll
  for (int j = 0; j < NPL; ++j) {
    int d = lane + 32 * j;
    if (d < Dv) orow[d] = convert<T>(empty ? fill : o[j] * inv);
  }
}

// ------------------------------------------------------------------------------------------
// Launchers.

template <typename T, int D, MaskKind MK>
void launch_flash(const AttnArgs& a, cudaStream_t st) {
  constexpr int smem = flash_smem_bytes<D>();
  auto kernel = flash_kernel<T, D, MK>;
  if constexpr (smem > 48 * 1024) {
    ALLOY_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  }
  dim3 grid(unsigned((a.Tq + kFlashBM - 1) / kFlashBM), unsigned(a.Hq), unsigned(a.B));
  kernel<<<grid, kFlashThreads, smem, st>>>(a);
  ALLOY_CUDA_LAUNCH_CHECK("scaled_dot_product_attention (flash)");
}

template <typename T, int D, int RB, MaskKind MK>
void launch_decode_rows(const AttnArgs& a, const Stream& s, cudaStream_t st) {
  const int R = a.groups * a.Tq;
  const int row_chunks = (R + RB - 1) / RB;
  const int64_t ctas = int64_t(a.B) * a.Hkv * row_chunks;
  const int64_t target = int64_t(device_properties().multiProcessorCount) * 4;
  // Enough splits to give every SM several CTAs, down to one key tile a split: a decode step's
  // few (batch, kv head) pairs leave most SMs idle otherwise, and the combine of more partials
  // costs less than the CTAs' serial tiles (1B tg128 +4% against two tiles a split).
  const int max_splits = std::max(1, (a.Tk + kDecKT - 1) / kDecKT);
  int splits = int(std::clamp<int64_t>((target + ctas - 1) / ctas, 1, max_splits));
  int chunk = (a.Tk + splits - 1) / splits;
  chunk = (chunk + kDecKT - 1) / kDecKT * kDecKT;
  splits = (a.Tk + chunk - 1) / chunk;
  const int64_t rows = int64_t(a.B) * a.Hq * a.Tq;
  size_t n_o = size_t(splits) * size_t(rows) * D, n_s = size_t(splits) * size_t(rows);
  float* po = static_cast<float*>(scratch(s, (n_o + 2 * n_s) * sizeof(float)));
  float* pm = po + n_o;
  float* pl = pm + n_s;
  dim3 grid(unsigned(splits), unsigned(a.Hkv * row_chunks), unsigned(a.B));
  launch_dependent(decode_kernel<T, D, RB, MK>, grid, kDecThreads, 0, st, "scaled_dot_product_attention (decode)", a,
                   chunk, row_chunks, po, pm, pl);
  launch_dependent(decode_combine<T, D>, unsigned(rows), kCombThreads, 0, st,
                   "scaled_dot_product_attention (decode combine)", po, pm, pl, static_cast<T*>(a.out), a.lse, rows,
                   splits, a.nan_empty);
}

// CTAs hold the fewest rows that cover groups * Tq (4, 8, or the most that fit).
template <typename T, int D, MaskKind MK>
void launch_decode(const AttnArgs& a, const Stream& s, cudaStream_t st) {
  const int R = a.groups * a.Tq;
  if (R <= 4) return launch_decode_rows<T, D, 4, MK>(a, s, st);
  if (R <= 8) return launch_decode_rows<T, D, 8, MK>(a, s, st);
  return launch_decode_rows<T, D, decode_rows<T, D>(), MK>(a, s, st);
}

template <typename T, int NPL, MaskKind MK>
void launch_rowwise(const AttnArgs& a, cudaStream_t st) {
  const int64_t rows = int64_t(a.B) * a.Hq * a.Tq;
  unsigned blocks = unsigned((rows + kRowWarps - 1) / kRowWarps);
  rowwise_kernel<T, NPL, MK><<<blocks, kRowWarps * 32, 0, st>>>(a);
  ALLOY_CUDA_LAUNCH_CHECK("scaled_dot_product_attention (rowwise)");
}

// The kernel for these shapes and T (mask kind MK).
template <typename T, MaskKind MK>
void launch_attention(const AttnArgs& a, const Stream& s, cudaStream_t st) {
  const bool same_d = a.D == a.Dv && (a.D == 64 || a.D == 128);
  const bool grid_ok = a.B <= 65535 && a.Hq <= 65535;
  if constexpr (is_half_v<T>) {
    if (same_d && a.Tq > 4 && a.Tk > 0 && grid_ok && aligned_to(a.q, 16) && aligned_to(a.k, 16) &&
        aligned_to(a.v, 16) && aligned_to(a.out, 16)) {
#if ALLOY_WGMMA_KERNELS
      // Its grid's y dimension counts 128-query tiles (at most 65535).
      if (wgmma_attention_enabled() && int64_t(a.Tq) <= int64_t(65535) * 128) {
        return launch_flash_wgmma(a, std::is_same_v<T, __nv_bfloat16>, MK, st);
      }
#endif
      return a.D == 64 ? launch_flash<T, 64, MK>(a, st) : launch_flash<T, 128, MK>(a, st);
    }
  }
  if (same_d && a.Tq <= 4 && a.Tk > 0 && grid_ok && int64_t(a.Hkv) * ((a.groups * a.Tq + 15) / 16) <= 65535 &&
      aligned_to(a.q, 8) && aligned_to(a.k, 8) && aligned_to(a.v, 8)) {
    return a.D == 64 ? launch_decode<T, 64, MK>(a, s, st) : launch_decode<T, 128, MK>(a, s, st);
  }
  const int dmax = std::max(a.D, a.Dv);
  if (dmax <= 32) return launch_rowwise<T, 1, MK>(a, st);
  if (dmax <= 64) return launch_rowwise<T, 2, MK>(a, st);
  if (dmax <= 128) return launch_rowwise<T, 4, MK>(a, st);
  return launch_rowwise<T, 8, MK>(a, st);
}

}  // namespace
}  // namespace cuda

void ScaledDotProductAttention::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  const Dtype t = inputs[0].dtype();
  bool supported = (t == float16 || t == bfloat16 || t == float32) && out.dtype() == t &&
                   inputs[1].dtype() == t && inputs[2].dtype() == t;
  if (has_mask_) supported = supported && (inputs[3].dtype() == bool_ || inputs[3].dtype() == t);
  const int64_t B = inputs[0].shape(0), Hq = inputs[0].shape(1), Tq = inputs[0].shape(2), D = inputs[0].shape(3);
  const int64_t Hkv = inputs[1].shape(1), Tk = inputs[1].shape(2), Dv = inputs[2].shape(3);
  constexpr int64_t kIntMax = 0x7fffffff;
  supported = supported && D > 0 && Dv > 0 && std::max(D, Dv) <= 256 && B * Hq * Tq <= kIntMax &&
              Tk <= kIntMax && Hq <= kIntMax && B <= kIntMax;
  if (!supported) return cuda::fallback_to_cpu(*this, inputs, outputs);

  array q = cuda::as_row_contiguous(inputs[0], stream());
  array k = cuda::as_row_contiguous(inputs[1], stream());
  array v = cuda::as_row_contiguous(inputs[2], stream());
  cuda::allocate(out);
  cuda::allocate(outputs[1]);
  if (out.size() == 0) return;  // no query rows (D, Dv > 0): lse is empty too

  cuda::AttnArgs a{};
  a.lse = cuda::out_ptr<float>(outputs[1]);
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
  // No visible key: the CPU writes 0 for a causal row, NaN for a fully masked row or Tk == 0.
  a.nan_empty = !causal_ || Tk == 0;
  cudaStream_t st = cuda::stream_of(stream());
  cuda::dispatch(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, float>) {
      a.q = cuda::in_ptr<T>(q, stream());
      a.k = cuda::in_ptr<T>(k, stream());
      a.v = cuda::in_ptr<T>(v, stream());
      a.out = cuda::out_ptr<T>(out);
      if (!has_mask_) return cuda::launch_attention<T, cuda::MaskKind::none>(a, stream(), st);
      const array& m = inputs[3];
      a.mask = cuda::device_ptr(m, stream());
      for (int d = 0; d < 4; ++d) a.ms[d] = m.strides()[d];
      if (m.dtype() == bool_) return cuda::launch_attention<T, cuda::MaskKind::boolean>(a, stream(), st);
      return cuda::launch_attention<T, cuda::MaskKind::additive>(a, stream(), st);
    }
  });
}

}  // namespace alloy
