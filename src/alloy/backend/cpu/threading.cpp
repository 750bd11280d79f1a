#include "alloy/backend/cpu/threading.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alloy/core/spin.h"

namespace alloy::cpu {
namespace {

int configured_threads() {
  if (const char* env = std::getenv("ALLOY_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// Set on a thread while it runs a pool job's chunks: a parallel_for from there runs inline (the
// pool takes one job at a time, so waiting for it from inside a job would deadlock).
thread_local bool t_in_job = false;

// One parallel_for's chunks. Each job has its own counters: a worker still finishing the
// previous job's loop can only ever claim that job's chunks (all taken, so none), never a chunk
// of the next job through a counter being reset under it (which ran a chunk twice and left the
// caller waiting for a count it had passed: a hang seen on a 16-core machine).
struct Job {
  const std::function<void(int64_t)>* body;
  int64_t total;
  std::atomic<int64_t> next{0}, done{0};
};

// Workers spin on a generation counter for a while after each job, then sleep on a condition
// variable. The spin is what makes back-to-back jobs cheap: decoding runs a few hundred of them
// a token, microseconds apart, and waking a sleeping thread costs a futex call and, in a
// virtual machine, an inter-processor interrupt through the hypervisor (30-35 us measured on
// the 2-core development machine, against 0.3 us for a job a spinning worker picks up).
class Pool {
 public:
  explicit Pool(int n) : size_(n) {
    for (int i = 1; i < n; ++i) threads_.emplace_back([this] { worker(); });
  }

  int size() const { return size_; }

  void run(int64_t chunks, const std::function<void(int64_t)>& body) {
    std::lock_guard submit(submit_mutex_);  // one parallel job at a time
    auto job = std::make_shared<Job>();
    job->body = &body;
    job->total = chunks;
    {
      std::lock_guard lk(mutex_);
      job_ = job;
      generation_.fetch_add(1, std::memory_order_release);
    }
    // sleepers_ changes under mutex_, so a worker that is about to sleep is counted here.
    if (sleepers_.load(std::memory_order_relaxed) > 0) cv_.notify_all();
    work(*job);
    spin_until([&] { return job->done.load(std::memory_order_acquire) == job->total; }, kSpin);
    std::unique_lock lk(mutex_);
    done_cv_.wait(lk, [&] { return job->done.load() == job->total; });
    job_.reset();
  }

 private:
  // How long a thread spins for an event before it blocks.
  static constexpr auto kSpin = std::chrono::microseconds(200);

  void work(Job& job) {
    t_in_job = true;
    int64_t i;
    while ((i = job.next.fetch_add(1)) < job.total) {
      (*job.body)(i);
      if (job.done.fetch_add(1) + 1 == job.total) {
        std::lock_guard lk(mutex_);
        done_cv_.notify_all();
      }
    }
    t_in_job = false;
  }

  void worker() {
    uint64_t seen = 0;
    while (true) {
      spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, kSpin);
      std::shared_ptr<Job> job;  // keeps the counters alive past the caller's return
      {
        std::unique_lock lk(mutex_);
        if (generation_.load() == seen) {
          ++sleepers_;
          cv_.wait(lk, [&] { return generation_.load() != seen; });
          --sleepers_;
        }
        seen = generation_.load();
        job = job_;
      }
      if (job) work(*job);
    }
  }

  int size_;
  std::vector<std::thread> threads_;
  std::mutex submit_mutex_, mutex_;
  std::condition_variable cv_, done_cv_;
  std::shared_ptr<Job> job_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> sleepers_{0};
};

Pool& pool() {
  static Pool* p = new Pool(configured_threads());  // leaked: its threads run until exit
  return *p;
}

}  // namespace

int num_threads() { return pool().size(); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int threads = num_threads();
  if (threads == 1 || n < 2 * grain || t_in_job) {
    fn(0, n);
    return;
  }
  int64_t chunks = std::min<int64_t>(threads * 4, n / grain);
  int64_t per = (n + chunks - 1) / chunks;
  chunks = (n + per - 1) / per;
  pool().run(chunks, [&](int64_t c) { fn(c * per, std::min(n, (c + 1) * per)); });
}

}  // namespace alloy::cpu
