// The CPU thread pool. Sized to the machine (ALLOY_NUM_THREADS overrides); the calling thread
// takes part, and work smaller than two grains runs inline with no pool overhead, as does a
// parallel_for called from inside another one's chunk.
#pragma once

#include <cstdint>
#include <functional>

namespace alloy::cpu {

int num_threads();

// Runs fn(begin, end) over [0, n) in chunks of at least `grain` items across the pool.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace alloy::cpu
