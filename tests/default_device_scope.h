// Sets the default device for one test's scope and restores the earlier one after it: for the
// tests that are about one device's behaviour (the CPU scheduler, CPU recorded graphs, CPU
// memory), which the GPU run also executes with ALLOY_DEFAULT_DEVICE=gpu.
#pragma once

#include "alloy/alloy.h"

namespace alloy::test {

class DefaultDeviceScope {
 public:
  explicit DefaultDeviceScope(const Device& d) : saved_(default_device()) { set_default_device(d); }
  ~DefaultDeviceScope() { set_default_device(saved_); }
  DefaultDeviceScope(const DefaultDeviceScope&) = delete;
  DefaultDeviceScope& operator=(const DefaultDeviceScope&) = delete;

 private:
  Device saved_;
};

}  // namespace alloy::test
