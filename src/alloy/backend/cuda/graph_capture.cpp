// gpu::capture and gpu::replay: a stream's work recorded once as a CUDA graph (stream capture in
// relaxed mode) and launched again with the same buffers.
//
// Memory: every buffer allocated while recording comes from the graph's pool. Freed buffers go
// back to that pool, not to the device cache, as long as the graph lives: its kernels write them
// on every replay, so nothing else may be handed them. Reuse inside the recording is safe because
// the recorded kernels run in stream order. When the graph is destroyed, the pool's free buffers
// return to the device allocator; those still held by arrays return when the arrays free them.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_set>

#include "alloy/backend/cuda/capture.h"
#include "alloy/backend/cuda/cuda_utils.h"
#include "alloy/backend/gpu_api.h"
#include "alloy/core/array.h"
#include "alloy/core/caching_allocator.h"
#include "alloy/core/scheduler.h"

namespace alloy::cuda {
namespace {

struct Pool {
  std::mutex mutex;
  std::unordered_set<void*> owned;                // every buffer taken for the graph
  std::multimap<size_t, allocator::Buffer> free;  // owned and free, by size
  std::vector<allocator::Buffer> staged;          // device copies of host data, held by the graph
  std::vector<void*> pinned;                      // their host staging
};

struct Registry {
  std::mutex mutex;
  std::vector<std::shared_ptr<Pool>> live;
  std::shared_ptr<Pool> recording;
};
Registry& registry() {
  static auto* r = new Registry();  // leaked: arrays may free buffers during exit
  return *r;
}
std::atomic<int> live_pools{0};
std::atomic<bool> recording_now{false};

// The device allocator itself, bypassing the pool hooks of its malloc and free.
allocator::CachingAllocator& device_cache() {
  return static_cast<allocator::CachingAllocator&>(allocator::gpu_allocator());
}

std::shared_ptr<Pool> recording_pool() {
  std::lock_guard lk(registry().mutex);
  return registry().recording;
}

// Returns the pool's memory to the device allocator and forgets the pool.
void release(const std::shared_ptr<Pool>& pool) {
  {
    std::lock_guard lk(registry().mutex);
    auto& live = registry().live;
    live.erase(std::remove(live.begin(), live.end(), pool), live.end());
    if (registry().recording == pool) registry().recording.reset();
  }
  live_pools.fetch_sub(1, std::memory_order_acq_rel);
  std::lock_guard lk(pool->mutex);
  for (auto& [size, b] : pool->free) device_cache().CachingAllocator::free(b);
  for (auto& b : pool->staged) device_cache().CachingAllocator::free(b);
  for (void* p : pool->pinned) cudaFreeHost(p);
  pool->free.clear();
  pool->staged.clear();
  pool->pinned.clear();
}

class CudaGraph : public gpu::Graph {
 public:
  CudaGraph(cudaGraph_t graph, cudaGraphExec_t exec, std::shared_ptr<Pool> pool, cudaStream_t stream)
      : graph_(graph), exec_(exec), pool_(std::move(pool)), stream_(stream) {}
  ~CudaGraph() override {
    cudaStreamSynchronize(stream_);  // a replay may still be running
    cudaGraphExecDestroy(exec_);
    cudaGraphDestroy(graph_);
    release(pool_);
  }
  cudaGraphExec_t exec() const { return exec_; }
  cudaStream_t stream() const { return stream_; }

 private:
  cudaGraph_t graph_;
  cudaGraphExec_t exec_;
  std::shared_ptr<Pool> pool_;
  cudaStream_t stream_;
};

// Blocks until the stream's worker has run every task queued so far (completions run inline
// while recording, so this is when the recorded work has all been enqueued).
void drain_worker(const Stream& s) {
  uint64_t v = scheduler::enqueue(s, {[index = s.index] { scheduler::signal_completed(index); }});
  scheduler::wait_for(s.index, v);
}

}  // namespace

bool recording() { return recording_now.load(std::memory_order_acquire); }

bool pool_malloc(size_t bytes, allocator::Buffer& out) {
  if (!recording()) return false;
  std::shared_ptr<Pool> pool = recording_pool();
  if (!pool) return false;
  {
    std::lock_guard lk(pool->mutex);
    auto it = pool->free.lower_bound(bytes);
    if (it != pool->free.end() && it->first <= bytes + bytes / 4 + 4096) {
      out = it->second;
      pool->free.erase(it);
      return true;
    }
  }
  out = device_cache().CachingAllocator::malloc(bytes);
  std::lock_guard lk(pool->mutex);
  pool->owned.insert(out.ptr);
  return true;
}

bool pool_free(const allocator::Buffer& b) {
  if (live_pools.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard lk(registry().mutex);
  for (auto& pool : registry().live) {
    std::lock_guard plk(pool->mutex);
    if (pool->owned.count(b.ptr)) {
      pool->free.emplace(b.size, b);
      return true;
    }
  }
  return false;
}

void* stage_host_data(const void* host, size_t bytes, cudaStream_t stream) {
  std::shared_ptr<Pool> pool = recording_pool();
  if (!pool) throw std::logic_error("[gpu] staging host data outside a recording");
  const size_t n = std::max<size_t>(bytes, 1);
  void* pinned = nullptr;
  check(cudaHostAlloc(&pinned, n, cudaHostAllocPortable), "cudaHostAlloc");
  std::memcpy(pinned, host, bytes);
  allocator::Buffer dev = device_cache().CachingAllocator::malloc(n);
  {
    std::lock_guard lk(pool->mutex);
    pool->pinned.push_back(pinned);
    pool->staged.push_back(dev);
  }
  check(cudaMemcpyAsync(dev.ptr, pinned, bytes, cudaMemcpyHostToDevice, stream), "copy recorded host data");
  return dev.ptr;
}

}  // namespace alloy::cuda

namespace alloy::gpu {

std::unique_ptr<Graph> capture(Stream s, const std::function<void()>& record) {
  using namespace cuda;
  cudaStream_t st = stream_of(s);
  drain_worker(s);  // its last batch handed its completions over
  gpu::synchronize(s);
  auto pool = std::make_shared<Pool>();
  {
    std::lock_guard lk(registry().mutex);
    if (registry().recording) throw std::logic_error("[gpu] capture: another capture is in progress");
    registry().recording = pool;
    registry().live.push_back(pool);
  }
  live_pools.fetch_add(1, std::memory_order_acq_rel);
  recording_now.store(true, std::memory_order_release);
  cudaError_t begin = cudaStreamBeginCapture(st, cudaStreamCaptureModeRelaxed);
  std::exception_ptr err;
  if (begin == cudaSuccess) {
    try {
      record();
      drain_worker(s);
    } catch (...) {
      err = std::current_exception();
      try {
        drain_worker(s);
      } catch (...) {
      }
    }
  }
  recording_now.store(false, std::memory_order_release);
  cudaGraph_t graph = nullptr;
  cudaError_t end = begin == cudaSuccess ? cudaStreamEndCapture(st, &graph) : begin;
  cudaGetLastError();
  cudaGraphExec_t exec = nullptr;
  if (!err && end == cudaSuccess) end = cudaGraphInstantiate(&exec, graph, 0);
  if (err || end != cudaSuccess) {
    if (graph) cudaGraphDestroy(graph);
    release(pool);
    cudaGetLastError();
    if (err) std::rethrow_exception(err);
    throw std::runtime_error(std::string("[gpu] capture: recording the stream's work failed: ") +
                             cudaGetErrorString(end));
  }
  {
    std::lock_guard lk(registry().mutex);
    registry().recording.reset();
  }
  return std::make_unique<CudaGraph>(graph, exec, pool, st);
}

void replay(Graph& g, Stream s) {
  auto& cg = dynamic_cast<cuda::CudaGraph&>(g);
  if (cg.stream() != cuda::stream_of(s)) throw std::invalid_argument("[gpu] replay: the graph was recorded on another stream");
  cuda::check(cudaGraphLaunch(cg.exec(), cg.stream()), "cudaGraphLaunch");
}

namespace {
void check_transfer(const array& a, size_t bytes, const char* op) {
  if (a.status() != array::Status::available || !a.data_shared_ptr() || a.data_shared_ptr()->home != Device::gpu ||
      bytes > a.nbytes() || !a.flags().row_contiguous) {
    throw std::invalid_argument(std::string("[gpu::") + op + "] needs an evaluated, row-contiguous GPU array of at least " +
                                std::to_string(bytes) + " bytes");
  }
}
}  // namespace

void write(const array& dst, const void* src, size_t bytes, Stream s) {
  check_transfer(dst, bytes, "write");
  array target = dst;
  cuda::check(cudaMemcpyAsync(cuda::device_out_ptr(target), src, bytes, cudaMemcpyHostToDevice, cuda::stream_of(s)),
              "copy to the GPU");
}

void read(const array& src, void* dst, size_t bytes, Stream s) {
  check_transfer(src, bytes, "read");
  array source = src;
  cudaStream_t st = cuda::stream_of(s);
  cuda::check(cudaMemcpyAsync(dst, cuda::device_out_ptr(source), bytes, cudaMemcpyDeviceToHost, st), "copy to the host");
  cuda::check(cudaStreamSynchronize(st), "synchronize");
}

}  // namespace alloy::gpu
