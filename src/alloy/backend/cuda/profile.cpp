// The GPU profiler (ALLOY_GPU_PROFILE=1): a pair of CUDA events around the kernels each
// primitive enqueues, resolved at exit into GPU time per primitive name. Events are recorded on
// the primitive's stream, so the times are device times, not host enqueue times.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "alloy/backend/cuda/capture.h"
#include "alloy/backend/cuda/cuda_utils.h"
#include "alloy/backend/gpu_api.h"

namespace alloy::gpu {
namespace {

struct Record {
  std::string name;
  cudaEvent_t start, stop;
};

std::mutex& records_mutex() {
  static auto* m = new std::mutex();
  return *m;
}
std::vector<Record>& records() {
  static auto* r = new std::vector<Record>();
  return *r;
}

void print_profile() {
  cudaDeviceSynchronize();
  std::map<std::string, std::pair<double, int64_t>> by_name;  // total ms, count
  double total = 0;
  std::lock_guard lk(records_mutex());
  for (const Record& r : records()) {
    float ms = 0;
    if (cudaEventElapsedTime(&ms, r.start, r.stop) != cudaSuccess) continue;
    auto& e = by_name[r.name];
    e.first += ms;
    e.second += 1;
    total += ms;
  }
  std::vector<std::pair<std::string, std::pair<double, int64_t>>> rows(by_name.begin(), by_name.end());
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.first > b.second.first; });
  std::fprintf(stderr, "\nALLOY_GPU_PROFILE: %.1f ms of GPU time in %zu primitives\n", total, records().size());
  std::fprintf(stderr, "%10s %6s %8s %10s  %s\n", "ms", "%", "count", "us/each", "primitive");
  if (rows.size() > 60) rows.resize(60);
  for (const auto& [name, e] : rows) {
    std::fprintf(stderr, "%10.2f %6.1f %8lld %10.1f  %s\n", e.first, 100 * e.first / std::max(total, 1e-9),
                 (long long)e.second, 1e3 * e.first / double(e.second), name.c_str());
  }
}

thread_local cudaEvent_t pending_start = nullptr;

}  // namespace

bool profiling() {
  static const bool on = [] {
    const char* v = std::getenv("ALLOY_GPU_PROFILE");
    bool enabled = v && std::string(v) != "0";
    if (enabled) std::atexit(print_profile);
    return enabled;
  }();
  return on;
}

// A recorded graph's kernels are not timed one by one (events of a recording cannot be waited on).
void profile_begin(Stream s) {
  if (cuda::recording()) return;
  cuda::check(cudaEventCreate(&pending_start), "cudaEventCreate");
  cuda::check(cudaEventRecord(pending_start, cuda::stream_of(s)), "cudaEventRecord");
}

void profile_end(Stream s, const char* name) {
  if (cuda::recording()) return;
  cudaEvent_t stop;
  cuda::check(cudaEventCreate(&stop), "cudaEventCreate");
  cuda::check(cudaEventRecord(stop, cuda::stream_of(s)), "cudaEventRecord");
  std::lock_guard lk(records_mutex());
  records().push_back(Record{name, pending_start, stop});
}

void profile_reset() {
  cudaDeviceSynchronize();
  std::lock_guard lk(records_mutex());
  for (Record& r : records()) {
    cudaEventDestroy(r.start);
    cudaEventDestroy(r.stop);
  }
  records().clear();
}

}  // namespace alloy::gpu
