#include "alloy/data/loader.h"

#include <stdexcept>
#include <string>

namespace alloy::data {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<int64_t> epoch_order(int64_t size, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) order[size_t(i)] = i;
  if (!shuffle) return order;
  uint64_t state = seed * 0x2545F4914F6CDD1Dull + uint64_t(epoch);
  for (int64_t i = size - 1; i > 0; --i) {
    // Multiply-shift maps 64 random bits to [0, i] with negligible bias for dataset sizes.
    uint64_t j = uint64_t((__uint128_t(splitmix64(state)) * uint64_t(i + 1)) >> 64);
    std::swap(order[size_t(i)], order[size_t(j)]);
  }
  return order;
}

DataLoader::DataLoader(const Dataset& dataset, LoaderOptions options)
    : dataset_(dataset), options_(std::move(options)) {
  if (options_.batch_size <= 0) {
    throw std::invalid_argument("[DataLoader] batch_size must be positive, got " + std::to_string(options_.batch_size));
  }
  if (options_.prefetch < 1) {
    throw std::invalid_argument("[DataLoader] prefetch must be at least 1, got " + std::to_string(options_.prefetch));
  }
}

int64_t DataLoader::num_batches() const {
  int64_t n = dataset_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

DataLoader::Epoch::Epoch(const DataLoader& loader, int64_t epoch)
    : loader_(loader),
      order_(epoch_order(loader.dataset_.size(), loader.options_.shuffle, loader.options_.seed, epoch)),
      thread_([this] { produce(); }) {}

DataLoader::Epoch::~Epoch() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void DataLoader::Epoch::produce() {
  const LoaderOptions& opt = loader_.options_;
  try {
    for (int64_t b = 0; b < loader_.num_batches(); ++b) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || int(ready_.size()) < opt.prefetch; });
        if (stop_) break;
      }
      size_t begin = size_t(b * opt.batch_size);
      size_t end = std::min(order_.size(), begin + size_t(opt.batch_size));
      std::vector<int64_t> indices(order_.begin() + long(begin), order_.begin() + long(end));
      Batch batch = loader_.dataset_.get_batch(indices);
      if (opt.transform) batch = opt.transform(std::move(batch));
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.push_back(std::move(batch));
      }
      changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  changed_.notify_all();
}

bool DataLoader::Epoch::next(Batch& batch) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || finished_; });
  if (!ready_.empty()) {
    batch = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    changed_.notify_all();
    return true;
  }
  if (error_) std::rethrow_exception(error_);
  return false;
}

}  // namespace alloy::data
