// Memory: one caching allocator per device with size buckets, counters and a limit.
// Freed blocks go to a cache keyed by bucket size and are reused; going over the limit first
// frees the cache and waits for running work, then throws alloy::out_of_memory.
#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>

#include "alloy/core/device.h"

namespace alloy {

class out_of_memory : public std::runtime_error {
 public:
  out_of_memory(size_t requested, size_t active, size_t limit, const std::string& where);
  size_t requested_bytes, active_bytes, limit_bytes;
};

namespace allocator {

struct Buffer {
  void* ptr = nullptr;
  size_t size = 0;  // bytes requested
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual Buffer malloc(size_t size) = 0;
  virtual void free(Buffer b) = 0;
  virtual size_t active_memory() const = 0;
  virtual size_t peak_memory() const = 0;
  virtual void reset_peak_memory() = 0;
  virtual size_t cache_memory() const = 0;
  virtual size_t memory_limit() const = 0;
  virtual size_t set_memory_limit(size_t limit) = 0;
  virtual size_t set_cache_limit(size_t limit) = 0;
  virtual void clear_cache() = 0;
};

// The allocator of a device (the GPU's comes from the GPU backend).
Allocator& allocator(Device d);
Allocator& cpu_allocator();
Allocator& gpu_allocator();  // defined by the GPU backend (or its stub)

}  // namespace allocator

// Counters of the default device unless one is named. Sizes are in bytes.
size_t get_active_memory(Device d = default_device());
size_t get_peak_memory(Device d = default_device());
void reset_peak_memory(Device d = default_device());
size_t get_cache_memory(Device d = default_device());
size_t get_memory_limit(Device d = default_device());
// Return the previous value.
size_t set_memory_limit(size_t limit, Device d = default_device());
size_t set_cache_limit(size_t limit, Device d = default_device());
void clear_cache(Device d = default_device());

}  // namespace alloy
