// The Hopper prefill attention kernel's persistent schedule (backend/cuda/hopper/
// attention_schedule.h) run on the host, so it is checked without a GPU: over the grids the
// kernel launches (one CTA per SM of an H100 or H200, or fewer where there are fewer items),
// every (head, query tile) item is taken exactly once, with the causal key-tile count the mask
// implies, each CTA's items come in non-increasing key tiles (the consumers' turn-taking
// depends on it), and no CTA carries much more than its share of the key tiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "alloy/backend/cuda/hopper/attention_schedule.h"

namespace alloy::test {
namespace {

using cuda::attention_work_item;
using cuda::attention_work_items;
using cuda::kWgBM;
using cuda::kWgBN;

struct Shape {
  int B, Hq, Tq, Tk;
  bool causal;
};

// Key tiles of the 128 queries from m0, counted directly from the mask: the highest key any of
// them sees (query i sees keys j <= i + Tk - Tq when causal), in whole tiles. Rows past Tq of
// the last query tile count as the kernel counts them (their extra keys are masked anyway).
int expected_tiles(const Shape& s, int m0) {
  int highest = -1;
  for (int i = m0; i < m0 + kWgBM; ++i) {
    const int last = s.causal ? std::min(s.Tk - 1, i + s.Tk - s.Tq) : s.Tk - 1;
    highest = std::max(highest, last);
  }
  return highest < 0 ? 0 : highest / kWgBN + 1;
}

void check_schedule(const Shape& s, int sms) {
  const std::string what = "B=" + std::to_string(s.B) + " Hq=" + std::to_string(s.Hq) + " Tq=" +
                           std::to_string(s.Tq) + " Tk=" + std::to_string(s.Tk) +
                           (s.causal ? " causal" : " full") + " on " + std::to_string(sms) + " SMs";
  const long long items = attention_work_items(s.B, s.Hq, s.Tq);
  const int n_mb = cuda::attention_query_tiles(s.Tq);
  const int grid = int(std::min<long long>(items, sms));
  std::vector<int> taken(size_t(items), 0);
  std::vector<long long> load(size_t(grid), 0);
  int heaviest = 0;
  for (int c = 0; c < grid; ++c) {
    int previous = 1 << 30;
    for (int k = 0;; ++k) {
      const cuda::WorkItem w = attention_work_item(s.B, s.Hq, s.Tq, s.Tk, s.causal, grid, c, k);
      if (w.ntiles < 0) break;
      ASSERT_LT(k, items) << what;
      ASSERT_TRUE(w.b >= 0 && w.b < s.B && w.h >= 0 && w.h < s.Hq) << what;
      ASSERT_TRUE(w.m0 >= 0 && w.m0 < s.Tq && w.m0 % kWgBM == 0) << what;
      ++taken[size_t((int64_t(w.b) * s.Hq + w.h) * n_mb + w.m0 / kWgBM)];
      ASSERT_EQ(w.ntiles, expected_tiles(s, w.m0)) << what << ", item at m0=" << w.m0;
      ASSERT_LE(w.ntiles, previous) << what << ": CTA " << c << "'s item " << k << " is heavier than the one before";
      previous = w.ntiles;
      load[size_t(c)] += w.ntiles;
      heaviest = std::max(heaviest, w.ntiles);
    }
  }
  for (long long i = 0; i < items; ++i) ASSERT_EQ(taken[size_t(i)], 1) << what << ": item " << i;
  // Dealing the items heaviest first keeps every CTA within one item of an even share.
  const long long total = std::accumulate(load.begin(), load.end(), 0LL);
  const long long most = *std::max_element(load.begin(), load.end());
  EXPECT_LE(most, (total + grid - 1) / grid + heaviest) << what;
}

TEST(GpuAttentionSchedule, EveryItemOnceHeaviestFirstAndBalanced) {
  const Shape shapes[] = {
      // bench_gpu's prefill shapes (32 query heads).
      {1, 32, 512, 512, true},    {1, 32, 4096, 4096, true}, {4, 32, 2048, 2048, true},
      {8, 32, 1024, 1024, true},  {1, 32, 8192, 8192, true}, {1, 32, 8192, 8192, false},
      // Fewer items than SMs, lengths not multiples of 128, Tk > Tq (a cache in front of the
      // queries) and Tq > Tk (the first queries see no key: items of no tiles at the end).
      {1, 2, 100, 100, true},     {2, 3, 300, 700, true},    {2, 32, 600, 600, true},
      {2, 32, 700, 300, true},    {1, 1, 1000, 129, true},   {3, 5, 257, 1, false},
  };
  for (const Shape& s : shapes) {
    for (int sms : {132, 114, 7, 1}) check_schedule(s, sms);
  }
}

TEST(GpuAttentionSchedule, CausalItemsPastTheKeysHaveNoTiles) {
  // Tq = 700 queries over Tk = 300 keys: query i sees keys j <= i - 400, so the tiles of queries
  // 0..383 see none (the kernel writes their rows without loading a key) and 384.. see some.
  EXPECT_EQ(attention_work_items(1, 1, 700), 6);
  std::vector<int> tiles;
  for (int k = 0;; ++k) {
    const cuda::WorkItem w = attention_work_item(1, 1, 700, 300, true, 1, 0, k);
    if (w.ntiles < 0) break;
    tiles.push_back(w.ntiles);
  }
  EXPECT_EQ(tiles, (std::vector<int>{3, 2, 1, 0, 0, 0}));
}

}  // namespace
}  // namespace alloy::test
