// Which (head, query tile) items each persistent CTA of the Hopper prefill attention kernel
// (attention_wgmma.cu) takes, and in what order: written once for the device and the host, so
// that a test checks the schedule's invariants without a GPU (tests/gpu/test_gpu_attention_schedule.cpp).
//
// The items are the B * Hq heads x ceil(Tq / 128) query tiles. They are dealt heaviest causal
// query tile first, in rounds of `grid` (one item per CTA a round): CTA c takes the c-th item
// of even rounds and the (grid - 1 - c)-th of odd ones (snake order), which evens out the
// causal tiles' lengths across CTAs. The kernel relies on each CTA's items coming in
// non-increasing ntiles: its two consumer warpgroups' turn-taking ends with the last item that
// has a key tile, and every item after it must have none.
#pragma once

#ifdef __CUDACC__
#define ALLOY_ATTN_HD __host__ __device__ __forceinline__
#else
#define ALLOY_ATTN_HD inline
#endif

namespace alloy::cuda {

constexpr int kWgBM = 128;  // queries per work item (64 per consumer warpgroup)
constexpr int kWgBN = 128;  // keys per tile

// One CTA's work item: 128 queries (from m0) of head h of batch b, over ntiles key tiles
// (0: every query of the tile sees no key; -1: past the CTA's last item).
struct WorkItem {
  int b, h, m0, ntiles;
};

ALLOY_ATTN_HD int attention_query_tiles(int Tq) { return (Tq + kWgBM - 1) / kWgBM; }

ALLOY_ATTN_HD long long attention_work_items(int B, int Hq, int Tq) {
  return static_cast<long long>(B) * Hq * attention_query_tiles(Tq);
}

// Item k of CTA `cta` of a grid of `grid` CTAs.
ALLOY_ATTN_HD WorkItem attention_work_item(int B, int Hq, int Tq, int Tk, bool causal, int grid, int cta, int k) {
  const int heads = B * Hq, n_mb = attention_query_tiles(Tq);
  const int w = k * grid + ((k & 1) ? grid - 1 - cta : cta);
  if (w >= heads * n_mb) return WorkItem{0, 0, 0, -1};
  const int mb = n_mb - 1 - w / heads, bh = w % heads;
  const int m0 = mb * kWgBM;
  int n_end = Tk;
  if (causal) {
    const int last_seen = m0 + kWgBM + Tk - Tq;  // query i sees keys j <= i + Tk - Tq
    n_end = last_seen < Tk ? last_seen : Tk;
  }
  return WorkItem{bh / Hq, bh % Hq, m0, n_end > 0 ? (n_end + kWgBN - 1) / kWgBN : 0};
}

}  // namespace alloy::cuda
