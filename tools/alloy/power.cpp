#include "power.h"

#include <chrono>
#include <dlfcn.h>
#include <numeric>

namespace alloy::cli {

PowerSampler::PowerSampler() {
  lib_ = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib_) return;
  auto init = reinterpret_cast<int (*)()>(dlsym(lib_, "nvmlInit_v2"));
  auto handle = reinterpret_cast<int (*)(unsigned, void**)>(dlsym(lib_, "nvmlDeviceGetHandleByIndex_v2"));
  get_power_ = reinterpret_cast<int (*)(void*, unsigned*)>(dlsym(lib_, "nvmlDeviceGetPowerUsage"));
  void* dev = nullptr;
  if (init && handle && get_power_ && init() == 0 && handle(0, &dev) == 0) device_ = dev;
}

PowerSampler::~PowerSampler() {
  stop();
  if (lib_) {
    if (device_)
      if (auto shutdown = reinterpret_cast<int (*)()>(dlsym(lib_, "nvmlShutdown"))) shutdown();
    dlclose(lib_);
  }
}

void PowerSampler::start() {
  if (!available() || running_) return;
  samples_.clear();
  running_ = true;
  thread_ = std::thread([this] {
    while (running_) {
      unsigned mw = 0;
      if (get_power_(device_, &mw) == 0) samples_.push_back(mw / 1000.0);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

void PowerSampler::stop() {
  if (!running_) return;
  running_ = false;
  thread_.join();
}

std::optional<double> PowerSampler::mean_watts() const {
  if (samples_.empty()) return std::nullopt;
  return std::accumulate(samples_.begin(), samples_.end(), 0.0) / double(samples_.size());
}

}  // namespace alloy::cli
