#include "alloy/core/scheduler.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <set>
#include <memory>
#include <mutex>
#include <thread>

#include "alloy/core/spin.h"

namespace alloy::scheduler {
namespace {

thread_local bool tls_is_worker = false;

class StreamWorker {
 public:
  explicit StreamWorker(Device d) : device_(d), thread_([this] { run(); }) {}
  ~StreamWorker() {
    {
      std::lock_guard lk(queue_mutex_);
      stop_ = true;
    }
    queue_cv_.notify_one();
    thread_.join();
  }

  uint64_t enqueue(std::vector<Task> tasks) {
    std::lock_guard lk(queue_mutex_);
    uint64_t first = submitted_ + 1;
    submitted_ += tasks.size();
    for (auto& t : tasks) queue_.push_back(std::move(t));
    if (idle_ && !inline_) queue_cv_.notify_one();
    return first;
  }
  // Claims the stream for `count` tasks that the calling thread runs itself: only when every
  // task submitted so far has completed and none is queued, so stream order holds (the worker
  // may still be destroying the last one's captures). Tasks enqueued meanwhile wait for
  // end_inline.
  bool claim_inline(size_t count) {
    std::lock_guard lk(queue_mutex_);
    if (inline_ || !queue_.empty() || completed_.load(std::memory_order_acquire) != submitted_) return false;
    inline_ = true;
    submitted_ += count;
    return true;
  }
  void end_inline() {
    std::lock_guard lk(queue_mutex_);
    inline_ = false;
    if (!queue_.empty()) queue_cv_.notify_one();
  }
  uint64_t next_event_value() {
    std::lock_guard lk(queue_mutex_);
    return submitted_ + 1;
  }
  // Waiters are woken only when the value the earliest of them waits for is reached, not on
  // every completion: a waiting thread is not woken (and the worker pays no futex call) for each
  // of the hundreds of ops of a graph. seq_cst on completed_ and min_target_ on both sides: a
  // waiter either sees its value completed or is seen by the completion that reaches it.
  void signal_completed() {
    uint64_t done = completed_.fetch_add(1, std::memory_order_seq_cst) + 1;
    if (done >= min_target_.load(std::memory_order_seq_cst)) {
      std::lock_guard lk(done_mutex_);
      done_cv_.notify_all();
    }
  }
  void wait_for(uint64_t value) {
    // A short spin first: a GPU op waited for completes in tens of microseconds, about what a
    // wake-up through the condition variable costs on top.
    spin_until([&] { return completed_.load(std::memory_order_acquire) >= value; }, kWaitSpin);
    if (completed_.load(std::memory_order_acquire) >= value) return;
    std::unique_lock lk(done_mutex_);
    auto target = targets_.insert(value);
    min_target_.store(*targets_.begin(), std::memory_order_seq_cst);
    done_cv_.wait(lk, [&] { return completed_.load(std::memory_order_seq_cst) >= value; });
    targets_.erase(target);
    min_target_.store(targets_.empty() ? kNoTarget : *targets_.begin(), std::memory_order_seq_cst);
  }
  void synchronize() {
    uint64_t target;
    {
      std::lock_guard lk(queue_mutex_);
      target = submitted_;
    }
    wait_for(target);
  }
  Device device() const { return device_; }

 private:
  void run() {
    tls_is_worker = true;
    std::deque<Task> batch;
    while (true) {
      {
        std::unique_lock lk(queue_mutex_);
        idle_ = true;
        queue_cv_.wait(lk, [&] { return stop_ || (!queue_.empty() && !inline_); });
        idle_ = false;
        if (queue_.empty()) return;  // stop requested and nothing left
        batch.swap(queue_);
      }
      while (!batch.empty()) {
        Task t = std::move(batch.front());
        batch.pop_front();
        t();  // the task signals completion itself; its captures die here
      }
    }
  }

  Device device_;
  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<Task> queue_;
  uint64_t submitted_ = 0;
  bool idle_ = false;
  bool inline_ = false;  // a caller runs tasks of this stream itself (claim_inline)
  bool stop_ = false;

  static constexpr auto kWaitSpin = std::chrono::microseconds(50);
  std::atomic<uint64_t> completed_{0};
  static constexpr uint64_t kNoTarget = ~uint64_t(0);
  std::atomic<uint64_t> min_target_{kNoTarget};  // the smallest value any waiter waits for
  std::multiset<uint64_t> targets_;              // under done_mutex_
  std::mutex done_mutex_;
  std::condition_variable done_cv_;

  std::thread thread_;  // last: starts after the members above exist
};

struct Registry {
  std::mutex mutex;
  std::vector<std::unique_ptr<StreamWorker>> workers;
};

Registry& registry() {
  // Leaked on purpose: workers may still run tasks while static destructors run at exit.
  static Registry* r = new Registry();
  return *r;
}

StreamWorker& worker(int index) {
  auto& r = registry();
  std::lock_guard lk(r.mutex);
  return *r.workers.at(index);
}

}  // namespace

uint64_t enqueue(const Stream& s, std::vector<Task> tasks) {
  return worker(s.index).enqueue(std::move(tasks));
}
uint64_t next_event_value(const Stream& s) { return worker(s.index).next_event_value(); }
bool claim_inline(const Stream& s, size_t count) { return worker(s.index).claim_inline(count); }
void run_claimed(const Stream& s, std::vector<Task> tasks) {
  // As on the worker: allocation failures do not wait for the stream (this thread runs it).
  struct Release {
    const Stream& s;
    bool was_worker = tls_is_worker;
    ~Release() {
      tls_is_worker = was_worker;
      worker(s.index).end_inline();
    }
  } release{s};
  tls_is_worker = true;
  for (auto& t : tasks) {
    t();
    t = nullptr;  // its captures die now, as on the worker
  }
}
void signal_completed(int stream_index) { worker(stream_index).signal_completed(); }
void wait_for(int stream_index, uint64_t value) { worker(stream_index).wait_for(value); }
bool is_worker_thread() { return tls_is_worker; }

int create_stream(Device d) {
  auto& r = registry();
  std::lock_guard lk(r.mutex);
  r.workers.push_back(std::make_unique<StreamWorker>(d));
  return int(r.workers.size()) - 1;
}

Device stream_device(int index) { return worker(index).device(); }

void synchronize_all() {
  size_t n;
  {
    auto& r = registry();
    std::lock_guard lk(r.mutex);
    n = r.workers.size();
  }
  for (size_t i = 0; i < n; ++i) worker(int(i)).synchronize();
}

}  // namespace alloy::scheduler
