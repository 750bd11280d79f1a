#include "alloy/backend/cpu/threading.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace alloy::cpu {
namespace {

int configured_threads() {
  if (const char* env = std::getenv("ALLOY_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

// Workers sleep on a generation counter; a job is a chunk counter they pull from.
class Pool {
 public:
  explicit Pool(int n) : size_(n) {
    for (int i = 1; i < n; ++i) threads_.emplace_back([this] { worker(); });
  }

  int size() const { return size_; }

  void run(int64_t chunks, const std::function<void(int64_t)>& body) {
    std::lock_guard submit(submit_mutex_);  // one parallel job at a time
    {
      std::lock_guard lk(mutex_);
      body_ = &body;
      total_ = chunks;
      next_.store(0);
      done_.store(0);
      ++generation_;
    }
    cv_.notify_all();
    work();
    std::unique_lock lk(mutex_);
    done_cv_.wait(lk, [&] { return done_.load() == total_; });
    body_ = nullptr;
  }

 private:
  void work() {
    int64_t i;
    while ((i = next_.fetch_add(1)) < total_) {
      (*body_)(i);
      if (done_.fetch_add(1) + 1 == total_) {
        std::lock_guard lk(mutex_);
        done_cv_.notify_all();
      }
    }
  }

  void worker() {
    uint64_t seen = 0;
    while (true) {
      {
        std::unique_lock lk(mutex_);
        cv_.wait(lk, [&] { return generation_ != seen; });
        seen = generation_;
        if (!body_) continue;
      }
      work();
    }
  }

  int size_;
  std::vector<std::thread> threads_;
  std::mutex submit_mutex_, mutex_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int64_t)>* body_ = nullptr;
  int64_t total_ = 0;
  std::atomic<int64_t> next_{0}, done_{0};
  uint64_t generation_ = 0;
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
  if (threads == 1 || n < 2 * grain) {
    fn(0, n);
    return;
  }
  int64_t chunks = std::min<int64_t>(threads * 4, n / grain);
  int64_t per = (n + chunks - 1) / chunks;
  chunks = (n + per - 1) / per;
  pool().run(chunks, [&](int64_t c) { fn(c * per, std::min(n, (c + 1) * per)); });
}

}  // namespace alloy::cpu
