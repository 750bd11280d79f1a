// The caching allocator shared by every device. Sizes are rounded to buckets (powers of two up
// to 4 KiB, then multiples of 4 KiB); a freed block goes to an LRU cache and is reused for a
// request of the same bucket or one slightly smaller. Counters are in rounded bytes. A device
// supplies raw_malloc/raw_free (aligned_alloc on the CPU, cudaMalloc on the GPU).
#pragma once

#include <list>
#include <map>
#include <mutex>

#include "alloy/core/memory.h"

namespace alloy::allocator {

// Parses "123", "512M", "8G", "1.5GB" or "50%" (of `physical`) into bytes.
size_t parse_size(const std::string& text, size_t physical);

class CachingAllocator : public Allocator {
 public:
  // The limit is 75% of `physical` unless the environment variable `limit_env` sets it.
  CachingAllocator(size_t physical, const char* limit_env, std::string device_name);

  Buffer malloc(size_t size) override;
  void free(Buffer b) override;
  size_t active_memory() const override;
  size_t peak_memory() const override;
  void reset_peak_memory() override;
  size_t cache_memory() const override;
  size_t memory_limit() const override;
  size_t set_memory_limit(size_t limit) override;
  size_t set_cache_limit(size_t limit) override;
  void clear_cache() override;

 protected:
  // nullptr when the device has no memory left.
  virtual void* raw_malloc(size_t bytes) = 0;
  virtual void raw_free(void* p) = 0;

 private:
  struct Block {
    void* ptr;
    size_t size;
  };
  bool fits(size_t b);
  void* take_cached(size_t b);
  Buffer grant(void* p, size_t size, size_t b);
  void trim_cache(size_t keep);

  std::string device_name_;
  mutable std::mutex mutex_;
  std::list<Block> lru_;  // most recently freed first
  std::multimap<size_t, std::list<Block>::iterator> by_size_;
  size_t active_ = 0, peak_ = 0, cached_ = 0;
  size_t limit_ = 0, cache_limit_ = 0;
};

}  // namespace alloy::allocator
