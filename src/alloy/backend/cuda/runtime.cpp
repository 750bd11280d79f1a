// The CUDA runtime behind the GPU seam (backend/gpu_api.h): device discovery, one CUDA stream
// per alloy GPU stream, completion of enqueued work on a per-stream thread, the device's caching
// allocator, the host and device copies that give unified-memory semantics, and the CPU fallback.
//
// Completion: after eval_gpu enqueues a primitive's kernels, on_complete records an event and
// hands (event, done) to the stream's completion thread, which waits for the event and runs done
// (mark outputs available, drop inputs). Buffers are therefore freed, and reused from the cache,
// only after every kernel that reads them has finished. CUDA calls are never made from inside a
// CUDA callback.
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "alloy/backend/cuda/capture.h"
#include "alloy/backend/cuda/cuda_utils.h"
#include "alloy/backend/gpu_api.h"
#include "alloy/core/caching_allocator.h"
#include "alloy/core/scheduler.h"

namespace alloy::cuda {
namespace {

struct DeviceInfo {
  bool ok = false;
  std::string reason;
  cudaDeviceProp props{};
};

const DeviceInfo& device_info() {
  static DeviceInfo* info = [] {
    auto* d = new DeviceInfo();
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      d->reason = std::string("no usable CUDA driver or device (") + cudaGetErrorString(err) + ")";
      cudaGetLastError();
      return d;
    }
    if (count == 0) {
      d->reason = "no CUDA device found";
      return d;
    }
    cudaGetDeviceProperties(&d->props, 0);
    if (d->props.major < 8) {
      d->reason = std::string("the GPU ") + d->props.name + " has compute capability " +
                  std::to_string(d->props.major) + "." + std::to_string(d->props.minor) +
                  "; alloy needs 8.0 or newer";
      return d;
    }
    d->ok = true;
    return d;
  }();
  return *info;
}

class GpuAllocator : public allocator::CachingAllocator {
 public:
  GpuAllocator() : CachingAllocator(total_memory(), "ALLOY_GPU_MEMORY_LIMIT", "gpu malloc") {}

  // A recording takes its buffers from its graph's pool, and they go back there (capture.h).
  allocator::Buffer malloc(size_t size) override {
    allocator::Buffer b;
    if (pool_malloc(size, b)) return b;
    return CachingAllocator::malloc(size);
  }
  void free(allocator::Buffer b) override {
    if (!pool_free(b)) CachingAllocator::free(b);
  }

 protected:
  void* raw_malloc(size_t bytes) override {
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
      cudaGetLastError();  // clear the error: the caller frees the cache and retries or throws
      return nullptr;
    }
    return p;
  }
  void raw_free(void* p) override { cudaFree(p); }

 private:
  static size_t total_memory() {
    size_t free_bytes = 0, total = 0;
    check(cudaMemGetInfo(&free_bytes, &total), "cudaMemGetInfo");
    return total;
  }
};

constexpr size_t kGroup = 32;

// Host memory the device writes check results into: pinned, handed out in 16-byte slots.
class CheckSlots {
 public:
  int64_t* take() {
    std::lock_guard lk(mutex_);
    if (free_.empty()) {
      constexpr size_t kSlots = 1024;
      void* p = nullptr;
      check(cudaHostAlloc(&p, kSlots * 2 * sizeof(int64_t), cudaHostAllocPortable), "cudaHostAlloc");
      for (size_t i = 0; i < kSlots; ++i) free_.push_back(static_cast<int64_t*>(p) + 2 * i);
    }
    int64_t* slot = free_.back();
    free_.pop_back();
    return slot;
  }
  void give_back(int64_t* slot) {
    std::lock_guard lk(mutex_);
    free_.push_back(slot);
  }

 private:
  std::mutex mutex_;
  std::vector<int64_t*> free_;  // slabs are never freed: used until exit
};
CheckSlots& check_slots() {
  static auto* c = new CheckSlots();
  return *c;
}

// A device-side check of one primitive: the (code, value) pair copied back into `host`.
struct DeviceCheck {
  int64_t* host;
  std::function<std::exception_ptr(int64_t code, int64_t value)> make_error;
};

struct PendingOp {
  uint64_t seq;
  std::function<void(std::exception_ptr)> done;
  std::vector<DeviceCheck> checks;
};

struct Completion {
  cudaEvent_t event;
  std::vector<PendingOp> ops;
  std::vector<allocator::Buffer> scratch;
  std::vector<array> keep;
};

// One per alloy GPU stream.
class StreamState {
 public:
  StreamState() {
    check(cudaSetDevice(0), "cudaSetDevice");
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    thread_ = std::thread([this] { run(); });
    thread_.detach();  // lives as long as the process; streams are never destroyed
  }
  cudaStream_t stream() const { return stream_; }

  // Stream worker thread only.
  void add_scratch(allocator::Buffer b) { scratch_.push_back(b); }
  void add_keep(array a) { keep_.push_back(std::move(a)); }
  void add_check(DeviceCheck c) { checks_.push_back(std::move(c)); }
  int64_t* last_check_host() { return checks_.back().host; }
  uint64_t begin_op() { return started_.fetch_add(1, std::memory_order_acq_rel) + 1; }

  // Completions are held back and handed to the completion thread in groups (one event per
  // group): fewer events and wake-ups per op. The scheduler flushes at the end of every batch
  // and before a cross-stream wait.
  void on_complete(uint64_t seq, std::function<void(std::exception_ptr)> done) {
    pending_.push_back(PendingOp{seq, std::move(done), std::move(checks_)});
    checks_.clear();
    if (pending_.size() >= kGroup || recording()) flush();
  }
  void flush() {
    if (pending_.empty() && scratch_.empty() && keep_.empty()) return;
    if (recording()) return complete_recorded();
    cudaEvent_t ev = take_event();
    check(cudaEventRecord(ev, stream_), "cudaEventRecord");
    std::lock_guard lk(mutex_);
    queue_.push_back(Completion{ev, std::move(pending_), std::move(scratch_), std::move(keep_)});
    pending_.clear();
    scratch_.clear();
    keep_.clear();
    cv_.notify_one();
  }

 private:
  // While recording nothing runs: the primitives are done once enqueued, and their scratch goes
  // back to the graph's pool for the kernels recorded after them.
  void complete_recorded() {
    for (auto& op : pending_) op.done(nullptr);
    pending_.clear();
    for (auto& b : scratch_) allocator::gpu_allocator().free(b);
    scratch_.clear();
    keep_.clear();
  }

  cudaEvent_t take_event() {
    {
      std::lock_guard lk(mutex_);
      if (!free_events_.empty()) {
        cudaEvent_t e = free_events_.back();
        free_events_.pop_back();
        return e;
      }
    }
    cudaEvent_t e;
    check(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), "cudaEventCreate");
    return e;
  }

  // The error of one completed primitive: a failed kernel, a failed device check, or an error
  // found earlier while this primitive had already started (its inputs may be affected).
  std::exception_ptr op_error(PendingOp& op, std::exception_ptr kernel_error) {
    std::exception_ptr err = kernel_error;
    for (auto& c : op.checks) {
      if (!err && c.host[0] != 0) err = c.make_error(c.host[0], c.host[1]);
      check_slots().give_back(c.host);
    }
    if (!err && poison_ && op.seq <= poison_until_) err = poison_;
    return err;
  }

  void run() {
    cudaSetDevice(0);
    while (true) {
      Completion c;
      {
        std::unique_lock lk(mutex_);
        cv_.wait(lk, [&] { return !queue_.empty(); });
        c = std::move(queue_.front());
        queue_.pop_front();
      }
      std::exception_ptr kernel_error;
      cudaError_t status = cudaEventSynchronize(c.event);
      if (status != cudaSuccess) {
        kernel_error = std::make_exception_ptr(std::runtime_error(
            std::string("[gpu] a kernel failed: ") + cudaGetErrorString(status)));
      }
      for (auto& op : c.ops) {
        std::exception_ptr err = op_error(op, kernel_error);
        bool fresh = err && err != poison_;
        op.done(err);  // first: primitives that start from now on see the error on their inputs
        if (fresh) {
          poison_ = err;
          poison_until_ = started_.load(std::memory_order_acquire);
        }
      }
      for (auto& b : c.scratch) allocator::gpu_allocator().free(b);
      c.keep.clear();
      std::lock_guard lk(mutex_);
      free_events_.push_back(c.event);
    }
  }

  cudaStream_t stream_{};
  std::atomic<uint64_t> started_{0};
  // Stream worker only:
  std::vector<PendingOp> pending_;
  std::vector<DeviceCheck> checks_;
  std::vector<allocator::Buffer> scratch_;
  std::vector<array> keep_;
  // Completion thread only:
  std::exception_ptr poison_;
  uint64_t poison_until_ = 0;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Completion> queue_;
  std::vector<cudaEvent_t> free_events_;
  std::thread thread_;
};

std::mutex& streams_mutex() {
  static auto* m = new std::mutex();
  return *m;
}
std::map<int, StreamState*>& streams() {
  static auto* m = new std::map<int, StreamState*>();  // leaked: used during exit
  return *m;
}

StreamState& state_of(const Stream& s) {
  // A stream's worker asks for its own stream several times per primitive: remember the last
  // answer per thread instead of taking the registry lock (states are never destroyed).
  thread_local int cached_index = -1;
  thread_local StreamState* cached = nullptr;
  if (s.index == cached_index) return *cached;
  std::lock_guard lk(streams_mutex());
  auto it = streams().find(s.index);
  if (it == streams().end()) {
    throw std::runtime_error("[gpu] stream " + std::to_string(s.index) + " is not a GPU stream");
  }
  cached_index = s.index;
  cached = it->second;
  return *cached;
}

// A copy of CPU-resident data on the GPU, and the event after which it is complete.
struct DeviceMirror {
  allocator::Buffer buffer;
  cudaEvent_t ready{};
  ~DeviceMirror() {
    if (ready) cudaEventDestroy(ready);
    allocator::gpu_allocator().free(buffer);
  }
};

// Fallback policy from ALLOY_GPU_FALLBACK: warn (default), silent or error.
enum class FallbackMode { warn, silent, error };
FallbackMode fallback_mode() {
  static FallbackMode mode = [] {
    const char* env = std::getenv("ALLOY_GPU_FALLBACK");
    std::string v = env ? env : "";
    if (v == "error") return FallbackMode::error;
    if (v == "silent") return FallbackMode::silent;
    return FallbackMode::warn;
  }();
  return mode;
}

struct FallbackCounter {
  std::mutex mutex;
  std::vector<std::pair<std::string, uint64_t>> counts;
};
FallbackCounter& fallback_counter() {
  static auto* c = new FallbackCounter();
  return *c;
}

}  // namespace

void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  if (err == cudaErrorMemoryAllocation) {
    throw out_of_memory(0, allocator::gpu_allocator().active_memory(),
                        allocator::gpu_allocator().memory_limit(), what);
  }
  throw std::runtime_error(std::string("[") + what + "] CUDA error: " + cudaGetErrorString(err));
}

cudaStream_t stream_of(const Stream& s) { return state_of(s).stream(); }

const cudaDeviceProp& device_properties() { return device_info().props; }

void allocate(array& out) {
  out.set_data(allocator::gpu_allocator().malloc(std::max<size_t>(out.nbytes(), 1)), Device::gpu);
}

void allocate_rows(array& out, int64_t ld) {
  const int64_t rows = out.shape(0), cols = out.shape(1);
  if (ld == cols || rows <= 1) return allocate(out);
  // Spans the last row's elements only: (rows - 1) * ld + cols.
  const size_t span = size_t((rows - 1) * ld + cols);
  allocator::Buffer b = allocator::gpu_allocator().malloc(std::max<size_t>(span * size_of(out.dtype()), 1));
  auto data = std::make_shared<Data>(
      b, [](allocator::Buffer buf) { allocator::gpu_allocator().free(buf); }, Device::gpu);
  out.set_data(std::move(data), span, Strides{ld, 1}, Flags{false, false, false});
}

int64_t padded_row_pitch(int64_t cols, size_t itemsize) {
  if (cols < 1024 || (cols * int64_t(itemsize)) % 16 == 0) return cols;
  const int64_t per_line = 128 / int64_t(itemsize);
  return (cols + per_line - 1) / per_line * per_line;
}

array as_unit_stride_rows(const array& a, const Stream& s, int64_t& ld) {
  const int64_t rows = a.shape(0), cols = a.shape(1);
  const Strides& st = a.strides();
  if (a.ndim() == 2 && (st[1] == 1 || cols == 1) && (st[0] >= cols || rows == 1) && !a.flags().row_contiguous) {
    ld = rows == 1 ? cols : st[0];
    return a;
  }
  ld = cols;
  return as_row_contiguous(a, s);
}

void* scratch(const Stream& s, size_t bytes) {
  allocator::Buffer b = allocator::gpu_allocator().malloc(std::max<size_t>(bytes, 1));
  state_of(s).add_scratch(b);
  return b.ptr;
}

void keep_until_complete(const Stream& s, array a) { state_of(s).add_keep(std::move(a)); }

int64_t* device_check(const Stream& s, std::function<std::exception_ptr(int64_t code, int64_t value)> make_error) {
  auto* flag = static_cast<int64_t*>(scratch(s, 2 * sizeof(int64_t)));
  check(cudaMemsetAsync(flag, 0, 2 * sizeof(int64_t), stream_of(s)), "memset");
  if (recording()) return flag;  // not registered: a replay has no completion to report it
  int64_t* host = check_slots().take();
  host[0] = host[1] = 0;
  state_of(s).add_check(DeviceCheck{host, std::move(make_error)});
  return flag;
}

void finish_device_check(const Stream& s, const int64_t* flag) {
  if (recording()) return;
  // The last check registered is this flag's; copy its result back behind the kernels.
  check(cudaMemcpyAsync(state_of(s).last_check_host(), flag, 2 * sizeof(int64_t), cudaMemcpyDeviceToHost,
                        stream_of(s)),
        "copy check result");
}

array as_row_contiguous(const array& a, const Stream& s, std::optional<Dtype> dtype) {
  Dtype t = dtype.value_or(a.dtype());
  if (a.flags().row_contiguous && a.dtype() == t) return a;
  array tmp(a.shape(), t, nullptr, {});
  copy_contiguous(a, tmp, s);
  tmp.set_status(array::Status::available);
  keep_until_complete(s, tmp);
  return tmp;
}

const void* device_ptr(const array& a, const Stream& s) {
  Data& d = *a.data_shared_ptr();
  size_t offset_bytes = size_t(a.offset()) * a.itemsize();
  if (d.home == Device::gpu) return static_cast<const char*>(d.buffer.ptr) + offset_bytes;
  cudaStream_t stream = stream_of(s);
  std::lock_guard lk(d.mirror_mutex);
  if (recording()) {
    // A mirror made before the recording is complete (capture synchronizes first); a new one
    // would carry an event of the recording, so the graph gets its own copy instead.
    if (d.mirror) return static_cast<const char*>(static_cast<DeviceMirror*>(d.mirror.get())->buffer.ptr) + offset_bytes;
    return static_cast<const char*>(stage_host_data(d.buffer.ptr, d.buffer.size, stream)) + offset_bytes;
  }
  if (!d.mirror) {
    auto m = std::make_shared<DeviceMirror>();
    m->buffer = allocator::gpu_allocator().malloc(std::max<size_t>(d.buffer.size, 1));
    check(cudaMemcpyAsync(m->buffer.ptr, d.buffer.ptr, d.buffer.size, cudaMemcpyHostToDevice,
                          stream),
          "copy to the GPU");
    check(cudaEventCreateWithFlags(&m->ready, cudaEventDisableTiming), "cudaEventCreate");
    check(cudaEventRecord(m->ready, stream), "cudaEventRecord");
    d.mirror = m;
  }
  auto* m = static_cast<DeviceMirror*>(d.mirror.get());
  check(cudaStreamWaitEvent(stream, m->ready, 0), "cudaStreamWaitEvent");
  return static_cast<const char*>(m->buffer.ptr) + offset_bytes;
}

void* device_out_ptr(array& out) {
  Data& d = *out.data_shared_ptr();
  if (d.home != Device::gpu) throw std::logic_error("[gpu] output buffer is not on the GPU");
  return static_cast<char*>(d.buffer.ptr) + size_t(out.offset()) * out.itemsize();
}

void fallback_to_cpu(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs) {
  std::string name = p.name();
  if (recording()) {
    throw std::runtime_error("[" + name + "] has no GPU kernel for these inputs, and a recorded GPU graph cannot "
                             "run it on the CPU");
  }
  if (fallback_mode() == FallbackMode::error) {
    throw std::runtime_error("[" + name + "] has no GPU kernel for these inputs and " +
                             "ALLOY_GPU_FALLBACK=error forbids running it on the CPU");
  }
  bool first = false;
  {
    auto& c = fallback_counter();
    std::lock_guard lk(c.mutex);
    auto it = std::find_if(c.counts.begin(), c.counts.end(), [&](auto& e) { return e.first == name; });
    if (it == c.counts.end()) {
      c.counts.emplace_back(name, 1);
      first = true;
    } else {
      ++it->second;
    }
  }
  if (first && fallback_mode() == FallbackMode::warn) {
    std::fprintf(stderr,
                 "alloy: [%s] has no GPU kernel for these inputs; running it on the CPU "
                 "(ALLOY_GPU_FALLBACK=silent hides this, =error forbids it)\n",
                 name.c_str());
  }
  // Inputs made on this stream may still be in flight.
  check(cudaStreamSynchronize(stream_of(p.stream())), "fallback synchronize");
  p.eval_cpu(inputs, outputs);
}

void fallback_to_cpu(Primitive& p, const std::vector<array>& inputs, array& out) {
  std::vector<array> outs{out};
  fallback_to_cpu(p, inputs, outs);
}

}  // namespace alloy::cuda

namespace alloy::gpu {

bool is_available() { return cuda::device_info().ok; }
std::string unavailable_reason() { return cuda::device_info().reason; }

void new_stream(Stream s) {
  auto* st = new cuda::StreamState();
  std::lock_guard lk(cuda::streams_mutex());
  cuda::streams()[s.index] = st;
}

uint64_t begin_op(Stream s) { return cuda::state_of(s).begin_op(); }

void on_complete(Stream s, uint64_t op, std::function<void(std::exception_ptr)> done) {
  cuda::state_of(s).on_complete(op, std::move(done));
}

void flush(Stream s) { cuda::state_of(s).flush(); }

void synchronize(Stream s) {
  cuda::check(cudaStreamSynchronize(cuda::stream_of(s)), "synchronize");
}

void* host_view(Data& d) {
  if (cuda::recording()) throw std::runtime_error("[gpu] GPU data cannot be read on the host while a graph is recorded");
  std::lock_guard lk(d.mirror_mutex);
  if (!d.mirror) {
    allocator::Buffer b = allocator::cpu_allocator().malloc(std::max<size_t>(d.buffer.size, 1));
    cudaError_t err = cudaMemcpy(b.ptr, d.buffer.ptr, d.buffer.size, cudaMemcpyDeviceToHost);
    if (err != cudaSuccess) {
      allocator::cpu_allocator().free(b);
      cuda::check(err, "copy to the host");
    }
    d.mirror = std::shared_ptr<void>(b.ptr, [b](void*) { allocator::cpu_allocator().free(b); });
  }
  return d.mirror.get();
}

std::vector<std::pair<std::string, uint64_t>> fallback_counts() {
  auto& c = cuda::fallback_counter();
  std::lock_guard lk(c.mutex);
  return c.counts;
}

}  // namespace alloy::gpu

namespace alloy::allocator {
Allocator& gpu_allocator() {
  if (!gpu::is_available()) {
    throw std::runtime_error("[gpu] the GPU cannot be used: " + gpu::unavailable_reason());
  }
  static auto* a = new cuda::GpuAllocator();  // outlives arrays freed during exit
  return *a;
}
}  // namespace alloy::allocator
