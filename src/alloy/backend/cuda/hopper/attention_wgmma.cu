// The Hopper prefill attention kernel (sm_90a, built apart: see CMakeLists.txt): as
// attention.cu's flash_kernel (online softmax in log2 units, float32 accumulators, masks read in
// place, rows that see no key 0 or NaN), with both products on warpgroup MMA (wgmma) instead of
// mma.sync, which is held at about half the tensor cores' rate on Hopper.
//
// A CTA of three warpgroups takes 128 queries of one (b, h) and loops over tiles of 128 keys:
//  * warpgroup 0 is the producer: one thread issues the TMA copies of the Q tile and of each K
//    and V tile into shared memory (128-byte swizzled, hopper/wgmma.cuh), kStages deep, each
//    stage's K and V on their own full/empty barriers (hopper/tma.cuh); it keeps 24 registers.
//  * warpgroups 1 and 2 are the consumers, 64 queries each, with 240 registers: per tile,
//    S = Q K^T (m64n128k16, Q and K from shared memory, K steps of 16 over the head dim), the
//    online softmax of S in registers, and O += P V (m64nDk16, P from registers as bf16/f16, V
//    read MN-major from shared memory). The product S of tile it + 1 is issued before O += P V
//    of tile it, so the softmax of tile it + 1 runs on the CUDA cores while the tensor cores
//    finish tile it; and the two warpgroups take turns to issue (pingpong), so one's softmax
//    overlaps the other's products.
// The CTAs are persistent, one per SM, and take the (head, query tile) items heaviest causal
// tile first across all heads; the K and V pipeline runs on from one item into the next, and
// the next item's Q loads while the current one finishes. On the H200, causal B=1 T=4096 D=128
// bf16: 0.26 ms (530 TFLOP/s), against 0.66 ms for flash_kernel.
// Shared memory: Q 128 x D, and per stage K and V 128 x D, all 16-bit: 160 KB for D = 128,
// 80 KB for D = 64 (two stages).
#include "alloy/backend/cuda/hopper/attention_wgmma.h"

#include <cudaTypedefs.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "alloy/backend/cuda/attention_common.cuh"
#include "alloy/backend/cuda/hopper/attention_schedule.h"
#include "alloy/backend/cuda/hopper/tma.cuh"
#include "alloy/backend/cuda/hopper/wgmma.cuh"

namespace alloy::cuda {
namespace {

constexpr int kWgThreads = 384;  // producer + two consumer warpgroups
constexpr int kStages = 2;       // K and V tiles in flight (three measured the same)
constexpr int kBoxCols = 64;     // a TMA box is 64 columns (128 bytes, the swizzle's width) x 128 rows

template <int D>
constexpr int wgmma_tile_bytes(int rows) {
  return rows * D * 2;
}
template <int D>
constexpr int wgmma_smem_bytes() {
  // Q, then K and V of each stage; 1 KB of slack to align the base to the swizzle's 1024 bytes.
  return wgmma_tile_bytes<D>(kWgBM) + 2 * kStages * wgmma_tile_bytes<D>(kWgBN) + 1024;
}

// The tensor maps of one call: q (B * Hq heads of Tq x D), k and v (B * Hkv heads of Tk x D).
struct AttnMaps {
  CUtensorMap q, k, v;
};

// All D columns of rows [r0, r0 + 128) of head `head` into the swizzled tile at dst (one box
// per 64 columns, atoms one after the other).
template <int D>
__device__ __forceinline__ void load_tile(unsigned char* dst, const CUtensorMap* map, uint64_t* bar, int r0, int head) {
#pragma unroll
  for (int c = 0; c < D / kBoxCols; ++c) tma::load_3d(dst + c * 128 * 128, map, bar, c * kBoxCols, r0, head);
}

// Scales and masks one tile of scores (log2 units after) and folds it into the online softmax
// of rows r = 0 (row qi0) and 1 (qi0 + 8): s becomes P (float), m_r and l_r are updated, and
// alpha[r] is the factor the earlier O rows must be rescaled by.
template <typename T, MaskKind MK>
__device__ __forceinline__ void softmax_tile(float (&s)[kWgBN / 2], const AttnArgs& a, int b, int h, int n0,
                                             int qi0, int wq0, float (&m_r)[2], float (&l_r)[2], float (&alpha)[2]) {
  constexpr int NS = kWgBN / 8;
  constexpr float kLog2e = 1.4426950408889634f;
  const int t4 = threadIdx.x & 3, diag = a.Tk - a.Tq;
  const float scale = a.scale, scale_l2 = a.scale * kLog2e;
  // Edge tiles (keys past Tk, the causal diagonal, a mask, or a scale <= 0) turn s into scaled,
  // masked log2 units first; the others keep raw scores and fold the scale into the max and the
  // exponent's FMA (one multiply fewer per score).
  const bool edge = n0 + kWgBN > a.Tk || (a.causal && n0 + kWgBN - 1 > wq0 + diag) || MK != MaskKind::none ||
                    !(scale > 0.0f);
  if (edge) {
#pragma unroll
    for (int nt = 0; nt < NS; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float val = s[4 * nt + e] * scale;
        const int qi = qi0 + (e < 2 ? 0 : 8);
        const int kj = n0 + nt * 8 + 2 * t4 + (e & 1);
        if (kj >= a.Tk || (a.causal && kj > qi + diag)) {
          val = kNegInf;
        } else if (qi < a.Tq) {
          val = apply_mask<T, MK>(a, b, h, qi, kj, val);
        }
        s[4 * nt + e] = val * kLog2e;
      }
    }
  }
  const float mul = edge ? 1.0f : scale_l2;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float mx = kNegInf;
#pragma unroll
    for (int nt = 0; nt < NS; ++nt) mx = fmaxf(mx, fmaxf(s[4 * nt + 2 * r], s[4 * nt + 2 * r + 1]));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
    mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
    const float m_new = fmaxf(m_r[r], mx * mul);
    const float ref = m_new == kNegInf ? 0.0f : m_new;
    alpha[r] = fast_exp2(m_r[r] - ref);
    float sum = 0.0f;
#pragma unroll
    for (int nt = 0; nt < NS; ++nt) {
      const float p0 = fast_exp2(fmaf(s[4 * nt + 2 * r], mul, -ref));
      const float p1 = fast_exp2(fmaf(s[4 * nt + 2 * r + 1], mul, -ref));
      s[4 * nt + 2 * r] = p0;
      s[4 * nt + 2 * r + 1] = p1;
      sum += p0 + p1;
    }
    l_r[r] = l_r[r] * alpha[r] + sum;
    m_r[r] = m_new;
  }
}

// P (float, S's layout) as the A fragments of O += P V: K step j (keys 16 j .. 16 j + 15) is S's
// column blocks 2 j and 2 j + 1.
template <typename T>
__device__ __forceinline__ void pack_p(uint32_t (&p)[kWgBN / 16][4], const float (&s)[kWgBN / 2]) {
#pragma unroll
  for (int j = 0; j < kWgBN / 16; ++j) {
#pragma unroll
    for (int i = 0; i < 4; ++i) p[j][i] = pack2<T>(s[8 * j + 2 * i], s[8 * j + 2 * i + 1]);
  }
}

// Item k of this CTA (attention_schedule.h).
__device__ __forceinline__ WorkItem work_item(const AttnArgs& a, int k) {
  return attention_work_item(a.B, a.Hq, a.Tq, a.Tk, a.causal, int(gridDim.x), int(blockIdx.x), k);
}

// grid min(SMs, work items), 384 threads, wgmma_smem_bytes<D>() of dynamic shared memory.
// A CTA loops over its work items (work_item); the K and V stages run on across items (tile
// counter gt), and the producer loads the next item's Q as soon as the consumers' last S of
// the current one has read theirs, so the next item's loads overlap this one's last P V and
// its epilogue.
template <typename T, int D, MaskKind MK>
__global__ void __launch_bounds__(kWgThreads, 1) flash_wgmma_kernel(const __grid_constant__ AttnMaps maps, AttnArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  constexpr int KD = D / 16;      // K steps of S = Q K^T
  constexpr int KV = kWgBN / 16;  // K steps of O += P V
  constexpr int QB = wgmma_tile_bytes<D>(kWgBM), KB = wgmma_tile_bytes<D>(kWgBN);
  extern __shared__ unsigned char smem_raw[];
  __shared__ __align__(8) uint64_t full_q, empty_q, full_k[kStages], full_v[kStages], empty_k[kStages],
      empty_v[kStages];
  const uint32_t raw_addr = smem_addr(smem_raw);
  unsigned char* const Qs = smem_raw + (((raw_addr + 1023u) & ~1023u) - raw_addr);
  unsigned char* const stages = Qs + QB;  // stage s: K at stages + 2 s KB, V after it
  const int tid = threadIdx.x, wg = tid >> 7;

  if (tid == 0) {
    tma::barrier_init(&full_q, 1);
    tma::barrier_init(&empty_q, 8);  // one arrival per consumer warp
    for (int s = 0; s < kStages; ++s) {
      tma::barrier_init(&full_k[s], 1);
      tma::barrier_init(&full_v[s], 1);
      tma::barrier_init(&empty_k[s], 8);
      tma::barrier_init(&empty_v[s], 8);
    }
    tma::fence_barrier_init();
  }
  __syncthreads();

  if (wg == 0) {
    // Producer.
    asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n");
    if (tid == 0) {
      tma::prefetch_map(&maps.q);
      tma::prefetch_map(&maps.k);
      tma::prefetch_map(&maps.v);
      int gt = 0;
      for (int k = 0;; ++k) {
        const WorkItem w = work_item(a, k);
        if (w.ntiles < 0) break;
        const int kv_head = w.b * a.Hkv + w.h / a.groups;
        if (k > 0) tma::wait(&empty_q, (k - 1) & 1);
        tma::arrive_expect_tx(&full_q, QB);
        load_tile<D>(Qs, &maps.q, &full_q, w.m0, w.b * a.Hq + w.h);
        for (int it = 0; it < w.ntiles; ++it, ++gt) {
          const int s = gt % kStages, use = gt / kStages;
          unsigned char* const ks = stages + 2 * s * KB;
          if (use > 0) tma::wait(&empty_k[s], (use - 1) & 1);
          tma::arrive_expect_tx(&full_k[s], KB);
          load_tile<D>(ks, &maps.k, &full_k[s], it * kWgBN, kv_head);
          if (use > 0) tma::wait(&empty_v[s], (use - 1) & 1);
          tma::arrive_expect_tx(&full_v[s], KB);
          load_tile<D>(ks + KB, &maps.v, &full_v[s], it * kWgBN, kv_head);
        }
      }
    }
    return;
  }

  // Consumers.
  asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n");
  const int cw = wg - 1, lane = tid & 31;
  const bool warp_leader = lane == 0;
  const int t4 = lane & 3;
  const int row0 = cw * 64 + ((tid >> 5) & 3) * 16 + (lane >> 2);  // this thread's rows: row0, row0 + 8
  // Both warpgroups visit every tile of an item (a causal tile above one's diagonal is masked
  // to nothing), as the turns below need the same number of issue blocks from each.
  // The two warpgroups take turns to issue their products (named barriers 1 and 2), so that one's
  // softmax runs while the other's products use the tensor cores. Warpgroup 1 goes first; each
  // issue block ends by letting the other go, but for warpgroup 2's last of the CTA (nothing
  // waits for it). Items are in decreasing ntiles, so the CTA's last block is in the last item
  // with ntiles > 0.
  auto my_turn = [&] { asm volatile("bar.sync %0, 256;\n" ::"r"(1 + cw) : "memory"); };
  auto their_turn = [&](bool cta_last_block) {
    if (cw == 0 || !cta_last_block) asm volatile("bar.arrive %0, 256;\n" ::"r"(2 - cw) : "memory");
  };
  const uint32_t q_addr = smem_addr(Qs) + cw * 64 * 128, stage_addr = smem_addr(stages);

  // S = Q K^T of the CTA's tile gt, issued (one commit group).
  auto issue_s = [&](float (&s)[kWgBN / 2], int gt) {
    const int st = gt % kStages;
    tma::wait(&full_k[st], (gt / kStages) & 1);
    const uint32_t k_addr = stage_addr + 2 * st * KB;
    wgmma::fence();
#pragma unroll
    for (int kk = 0; kk < KD; ++kk) {
      const uint32_t step = uint32_t(kk % 4) * 32u;  // K step inside a 64-column atom
      const uint64_t da = wgmma::descriptor(q_addr + (kk / 4) * kWgBM * 128 + step, 16, 1024);
      const uint64_t db = wgmma::descriptor(k_addr + (kk / 4) * kWgBN * 128 + step, 16, 1024);
      wgmma::mma_ss<T>(s, da, db, kk > 0);
    }
    wgmma::commit();
  };
  // O += P V of the CTA's tile gt, issued (one commit group).
  auto issue_pv = [&](float (&o)[D / 2], const uint32_t (&p)[KV][4], int gt) {
    const int st = gt % kStages;
    tma::wait(&full_v[st], (gt / kStages) & 1);
    const uint32_t v_addr = stage_addr + (2 * st + 1) * KB;
    wgmma::fence();
#pragma unroll
    for (int j = 0; j < KV; ++j) {
      // V rows (keys) 16 j ..: two 8-row groups 1024 bytes apart; 64-column atoms kWgBN * 128 apart.
      const uint64_t dv = wgmma::descriptor(v_addr + j * 16 * 128, kWgBN * 128, 1024);
      wgmma::mma_rs<T, 1>(o, p[j], dv, 1);
    }
    wgmma::commit();
  };
  auto release = [&](uint64_t* bar) {
    __syncwarp();
    if (warp_leader) tma::arrive(bar);
  };

  float o[D / 2];
  float s[kWgBN / 2], alpha[2];
  uint32_t p[KV][4];
  WorkItem w = work_item(a, 0);
  if (cw == 1 && w.ntiles > 0) asm volatile("bar.arrive 1, 256;\n" ::: "memory");
  int gt0 = 0;  // the CTA's index of this item's first key tile
  for (int k = 0; w.ntiles >= 0; ++k) {
    const WorkItem next = work_item(a, k + 1);
    const bool last_active = next.ntiles <= 0;
    const int ntiles = w.ntiles, b = w.b, h = w.h, m0 = w.m0;
    const int qi0 = m0 + row0;
    const int wq0 = m0 + cw * 64;  // the warpgroup's first query
#pragma unroll
    for (int i = 0; i < D / 2; ++i) o[i] = 0.0f;
    float m_r[2] = {kNegInf, kNegInf};  // log2 units
    float l_r[2] = {0.0f, 0.0f};  // this thread's share of the row sums (summed over 4 lanes at the end)

    tma::wait(&full_q, k & 1);
    if (ntiles == 0) {
      release(&empty_q);
    } else {
      my_turn();
      issue_s(s, gt0);
      their_turn(false);
      wgmma::wait<0>();
      wgmma::pin(s);
      release(&empty_k[gt0 % kStages]);
      if (ntiles == 1) release(&empty_q);  // this item's Q is read
      softmax_tile<T, MK>(s, a, b, h, 0, qi0, wq0, m_r, l_r, alpha);
      pack_p<T>(p, s);
    }
    // Uniform iterations (every one has two commit groups in flight), then the last tile's P V.
    for (int it = 0; it + 1 < ntiles; ++it) {
      const int gt = gt0 + it;
      my_turn();
      issue_s(s, gt + 1);
      issue_pv(o, p, gt);
      their_turn(false);
      wgmma::wait<1>();  // S of tile it + 1 (committed first) is done
      wgmma::pin(s);
      release(&empty_k[(gt + 1) % kStages]);
      if (it + 2 == ntiles) release(&empty_q);
      softmax_tile<T, MK>(s, a, b, h, (it + 1) * kWgBN, qi0, wq0, m_r, l_r, alpha);
      wgmma::wait<0>();
      wgmma::pin(o);
      release(&empty_v[gt % kStages]);
#pragma unroll
      for (int i = 0; i < D / 8; ++i) {
        o[4 * i + 0] *= alpha[0];
        o[4 * i + 1] *= alpha[0];
        o[4 * i + 2] *= alpha[1];
        o[4 * i + 3] *= alpha[1];
      }
      pack_p<T>(p, s);
    }
    if (ntiles > 0) {
      my_turn();
      issue_pv(o, p, gt0 + ntiles - 1);
      their_turn(last_active);
      wgmma::wait<0>();
      wgmma::pin(o);
      release(&empty_v[(gt0 + ntiles - 1) % kStages]);
    }
    gt0 += ntiles;
    T* O = static_cast<T*>(a.out) + (int64_t(b) * a.Hq + h) * a.Tq * D;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float l = l_r[r];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const int qi = qi0 + 8 * r;
      if (qi >= a.Tq) continue;
      const bool empty = !(l > 0.0f);
      const float inv = empty ? 0.0f : 1.0f / l;
      const float fill = a.nan_empty ? NAN : 0.0f;
      if (t4 == 0) {
        constexpr float kLn2 = 0.6931471805599453f;
        a.lse[(int64_t(b) * a.Hq + h) * a.Tq + qi] = empty ? kNegInf : (m_r[r] + log2f(l)) * kLn2;
      }
      T* orow = O + int64_t(qi) * D;
#pragma unroll
      for (int i = 0; i < D / 8; ++i) {
        const float x = empty ? fill : o[4 * i + 2 * r] * inv;
        const float y = empty ? fill : o[4 * i + 2 * r + 1] * inv;
        *reinterpret_cast<typename Pair<T>::type*>(orow + i * 8 + 2 * t4) = Pair<T>::from_float2(x, y);
      }
    }
    w = next;
  }
#endif
}

PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult found{};
    ALLOY_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &found));
    if (found != cudaDriverEntryPointSuccess || f == nullptr) {
      throw std::runtime_error("[scaled_dot_product_attention] the CUDA driver has no cuTensorMapEncodeTiled");
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  }();
  return fn;
}

// A map of `heads` row-major (rows, D) matrices of 16-bit elements, one after the other, read
// in boxes of 64 columns x 128 rows with the 128-byte swizzle; rows past `rows` read as zero.
CUtensorMap head_rows_map(const void* base, bool bf16, int D, int rows, int64_t heads) {
  CUtensorMap map;
  const cuuint64_t dims[3] = {cuuint64_t(D), cuuint64_t(rows), cuuint64_t(heads)};
  const cuuint64_t strides[2] = {cuuint64_t(D) * 2, cuuint64_t(rows) * D * 2};  // bytes, of dims 1 and 2
  const cuuint32_t box[3] = {kBoxCols, 128, 1};
  const cuuint32_t element_strides[3] = {1, 1, 1};
  const CUresult r = tensor_map_encoder()(
      &map, bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16, 3, const_cast<void*>(base), dims,
      strides, box, element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    throw std::runtime_error("[scaled_dot_product_attention] cuTensorMapEncodeTiled failed (CUresult " +
                             std::to_string(int(r)) + ")");
  }
  return map;
}

template <typename T, int D, MaskKind MK>
void launch(const AttnArgs& a, cudaStream_t st) {
  constexpr int smem = wgmma_smem_bytes<D>();
  constexpr bool bf16 = std::is_same_v<T, __nv_bfloat16>;
  auto kernel = flash_wgmma_kernel<T, D, MK>;
  static const bool attributes_set = [&] {
    ALLOY_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    return true;
  }();
  (void)attributes_set;
  const AttnMaps maps{head_rows_map(a.q, bf16, D, a.Tq, int64_t(a.B) * a.Hq),
                      head_rows_map(a.k, bf16, D, a.Tk, int64_t(a.B) * a.Hkv),
                      head_rows_map(a.v, bf16, D, a.Tk, int64_t(a.B) * a.Hkv)};
  // Persistent: one CTA per SM (its shared memory and registers allow no second).
  const unsigned grid = unsigned(
      std::min<long long>(attention_work_items(a.B, a.Hq, a.Tq), device_properties().multiProcessorCount));
  kernel<<<grid, kWgThreads, smem, st>>>(maps, a);
  ALLOY_CUDA_LAUNCH_CHECK("scaled_dot_product_attention (flash, wgmma)");
}

template <typename T, MaskKind MK>
void launch_d(const AttnArgs& a, cudaStream_t st) {
  if (a.D == 64) return launch<T, 64, MK>(a, st);
  return launch<T, 128, MK>(a, st);
}

template <typename T>
void launch_t(const AttnArgs& a, MaskKind mk, cudaStream_t st) {
  switch (mk) {
    case MaskKind::none: return launch_d<T, MaskKind::none>(a, st);
    case MaskKind::boolean: return launch_d<T, MaskKind::boolean>(a, st);
    case MaskKind::additive: return launch_d<T, MaskKind::additive>(a, st);
  }
}

}  // namespace

bool wgmma_attention_enabled() {
  static const bool on = [] {
    const char* env = std::getenv("ALLOY_CUDA_WGMMA");
    const cudaDeviceProp& p = device_properties();
    return p.major == 9 && p.minor == 0 && !(env && std::strcmp(env, "0") == 0);
  }();
  return on;
}

void launch_flash_wgmma(const AttnArgs& a, bool bf16, MaskKind mk, cudaStream_t st) {
  if (bf16) return launch_t<__nv_bfloat16>(a, mk, st);
  return launch_t<__half>(a, mk, st);
}

}  // namespace alloy::cuda
