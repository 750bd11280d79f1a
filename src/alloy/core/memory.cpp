// The caching allocator (see caching_allocator.h) and the CPU's instance of it.
#include "alloy/core/caching_allocator.h"

#include <unistd.h>

#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <string>

#include "alloy/core/scheduler.h"

namespace alloy {

out_of_memory::out_of_memory(size_t requested, size_t active, size_t limit,
                             const std::string& where)
    : std::runtime_error("[" + where + "] out of memory: requested " + std::to_string(requested) +
                         " bytes with " + std::to_string(active) +
                         " bytes active and a limit of " + std::to_string(limit) + " bytes"),
      requested_bytes(requested),
      active_bytes(active),
      limit_bytes(limit) {}

namespace allocator {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kAlign = 64;

size_t bucket_size(size_t n) {
  if (n <= 64) return 64;
  if (n <= kPage) {
    size_t b = 64;
    while (b < n) b <<= 1;
    return b;
  }
  return (n + kPage - 1) / kPage * kPage;
}

size_t physical_memory() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? size_t(pages) * size_t(page) : size_t(8) << 30;
}

class CpuAllocator : public CachingAllocator {
 public:
  CpuAllocator() : CachingAllocator(physical_memory(), "ALLOY_MEMORY_LIMIT", "malloc") {}

 protected:
  void* raw_malloc(size_t bytes) override { return std::aligned_alloc(kAlign, bytes); }
  void raw_free(void* p) override { std::free(p); }
};

}  // namespace

size_t parse_size(const std::string& text, size_t physical) {
  size_t idx = 0;
  double v = std::stod(text, &idx);
  std::string unit = text.substr(idx);
  double scale = 1;
  if (!unit.empty()) {
    char u = char(std::toupper(unit[0]));
    if (u == 'K') scale = 1024.0;
    else if (u == 'M') scale = 1024.0 * 1024;
    else if (u == 'G') scale = 1024.0 * 1024 * 1024;
    else if (u == 'T') scale = 1024.0 * 1024 * 1024 * 1024;
    else if (u == '%') scale = double(physical) / 100.0;
    else if (u != 'B') throw std::invalid_argument("unknown unit '" + unit + "'");
  }
  if (v < 0) throw std::invalid_argument("negative size");
  return size_t(v * scale);
}

CachingAllocator::CachingAllocator(size_t physical, const char* limit_env, std::string device_name)
    : device_name_(std::move(device_name)) {
  limit_ = physical / 4 * 3;
  if (const char* env = std::getenv(limit_env)) {
    try {
      limit_ = parse_size(env, physical);
    } catch (const std::exception& e) {
      throw std::invalid_argument(std::string(limit_env) + "='" + env +
                                  "' is not a size (examples: 8G, 512M, 50%): " + e.what());
    }
  }
  cache_limit_ = limit_;
}

Buffer CachingAllocator::malloc(size_t size) {
  size_t b = bucket_size(size);
  {
    std::lock_guard lk(mutex_);
    if (void* p = take_cached(b)) return grant(p, size, b);
  }
  if (!fits(b)) {
    clear_cache();
    // Work in flight may be about to free memory; the host (not a stream worker) can wait.
    if (!fits(b) && !scheduler::is_worker_thread()) {
      scheduler::synchronize_all();
      clear_cache();
    }
    if (!fits(b)) throw out_of_memory(size, active_memory(), memory_limit(), device_name_);
  }
  void* p = raw_malloc(b);
  if (!p) {
    clear_cache();
    p = raw_malloc(b);
    if (!p) throw out_of_memory(size, active_memory(), memory_limit(), device_name_ + " (system)");
  }
  std::lock_guard lk(mutex_);
  return grant(p, size, b);
}

void CachingAllocator::free(Buffer buf) {
  if (!buf.ptr) return;
  size_t b = bucket_size(buf.size);
  std::lock_guard lk(mutex_);
  active_ -= b;
  if (cache_limit_ == 0) {
    raw_free(buf.ptr);
    return;
  }
  lru_.push_front({buf.ptr, b});
  by_size_.emplace(b, lru_.begin());
  cached_ += b;
  trim_cache(cache_limit_);
}

size_t CachingAllocator::active_memory() const {
  std::lock_guard lk(mutex_);
  return active_;
}
size_t CachingAllocator::peak_memory() const {
  std::lock_guard lk(mutex_);
  return peak_;
}
void CachingAllocator::reset_peak_memory() {
  std::lock_guard lk(mutex_);
  peak_ = active_;
}
size_t CachingAllocator::cache_memory() const {
  std::lock_guard lk(mutex_);
  return cached_;
}
size_t CachingAllocator::memory_limit() const {
  std::lock_guard lk(mutex_);
  return limit_;
}
size_t CachingAllocator::set_memory_limit(size_t limit) {
  std::lock_guard lk(mutex_);
  std::swap(limit, limit_);
  return limit;
}
size_t CachingAllocator::set_cache_limit(size_t limit) {
  std::lock_guard lk(mutex_);
  std::swap(limit, cache_limit_);
  trim_cache(cache_limit_);
  return limit;
}
void CachingAllocator::clear_cache() {
  std::lock_guard lk(mutex_);
  trim_cache(0);
}

bool CachingAllocator::fits(size_t b) {
  std::lock_guard lk(mutex_);
  return active_ + b <= limit_;
}

// A cached block of bucket b or up to 25% (at most 1 MiB) larger. Caller holds the mutex.
void* CachingAllocator::take_cached(size_t b) {
  auto it = by_size_.lower_bound(b);
  size_t slack = std::min(b / 4, size_t(1) << 20);
  if (it == by_size_.end() || it->first > b + slack) return nullptr;
  auto node = it->second;
  void* p = node->ptr;
  cached_ -= node->size;
  // A reused larger block is counted (and later re-cached) as bucket b: it is at least that.
  lru_.erase(node);
  by_size_.erase(it);
  return p;
}

Buffer CachingAllocator::grant(void* p, size_t size, size_t b) {
  active_ += b;
  peak_ = std::max(peak_, active_);
  return Buffer{p, size};
}

void CachingAllocator::trim_cache(size_t keep) {
  while (cached_ > keep && !lru_.empty()) {
    Block blk = lru_.back();
    auto range = by_size_.equal_range(blk.size);
    for (auto it = range.first; it != range.second; ++it) {
      if (it->second->ptr == blk.ptr) {
        by_size_.erase(it);
        break;
      }
    }
    lru_.pop_back();
    cached_ -= blk.size;
    raw_free(blk.ptr);
  }
}

Allocator& cpu_allocator() {
  static CpuAllocator* a = new CpuAllocator();  // outlives arrays freed during exit
  return *a;
}

Allocator& allocator(Device d) {
  return d.type == Device::cpu ? cpu_allocator() : gpu_allocator();
}

}  // namespace allocator

size_t get_active_memory(Device d) { return allocator::allocator(d).active_memory(); }
size_t get_peak_memory(Device d) { return allocator::allocator(d).peak_memory(); }
void reset_peak_memory(Device d) { allocator::allocator(d).reset_peak_memory(); }
size_t get_cache_memory(Device d) { return allocator::allocator(d).cache_memory(); }
size_t get_memory_limit(Device d) { return allocator::allocator(d).memory_limit(); }
size_t set_memory_limit(size_t limit, Device d) {
  return allocator::allocator(d).set_memory_limit(limit);
}
size_t set_cache_limit(size_t limit, Device d) {
  return allocator::allocator(d).set_cache_limit(limit);
}
void clear_cache(Device d) { allocator::allocator(d).clear_cache(); }

}  // namespace alloy
