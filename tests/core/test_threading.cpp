// The CPU thread pool under contention.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "alloy/backend/cpu/threading.h"

namespace alloy {
namespace {

// Back-to-back small jobs from two threads at once, with more workers than cores (so workers
// get preempted inside their chunk loop): every chunk of every job runs exactly once, and every
// job returns. A pool whose job counters were shared between jobs ran a straggler's chunk twice
// and waited forever for a count it had passed.
TEST(ThreadPool, EveryChunkRunsOnceUnderContention) {
  setenv("ALLOY_NUM_THREADS", "16", 0);  // before the pool exists: ctest runs one test per process
  std::atomic<int> wrong{0};
  auto submit = [&] {
    for (int job = 0; job < 3000; ++job) {
      std::vector<std::atomic<int>> hits(48);
      cpu::parallel_for(48, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
      });
      for (auto& h : hits) wrong += h.load() != 1;
    }
  };
  std::thread a(submit), b(submit);
  a.join();
  b.join();
  EXPECT_EQ(wrong.load(), 0);
}

// A parallel_for inside another's chunk runs inline instead of waiting for the busy pool.
TEST(ThreadPool, NestedParallelForRunsInline) {
  std::atomic<int64_t> sum{0};
  cpu::parallel_for(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      cpu::parallel_for(100, 1, [&](int64_t b2, int64_t e2) {
        for (int64_t j = b2; j < e2; ++j) sum += j;
      });
    }
  });
  EXPECT_EQ(sum.load(), 8 * 4950);
}

}  // namespace
}  // namespace alloy
