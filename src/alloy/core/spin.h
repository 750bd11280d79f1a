// Spinning before blocking: waking a sleeping thread costs a futex call and, in a VM, an
// interrupt through the hypervisor (tens of microseconds), more than many waits last.
#pragma once

#include <chrono>

namespace alloy {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Returns once ready() holds or `limit` has passed; the caller then blocks if it must.
template <typename Ready>
void spin_until(Ready ready, std::chrono::microseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (int i = 1; !ready(); ++i) {
    cpu_relax();
    if (i % 64 == 0 && std::chrono::steady_clock::now() > until) return;
  }
}

}  // namespace alloy
