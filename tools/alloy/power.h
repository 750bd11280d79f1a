// Board power of the GPU through NVML, loaded at run time (libnvidia-ml.so.1), sampled every
// 50 ms on a thread while a benchmark runs. Without NVML the mean is reported as absent.
#pragma once

#include <atomic>
#include <optional>
#include <thread>
#include <vector>

namespace alloy::cli {

class PowerSampler {
 public:
  PowerSampler();  // finds NVML and GPU 0; available() says whether it did
  ~PowerSampler();
  bool available() const { return device_ != nullptr; }
  void start();
  void stop();
  std::optional<double> mean_watts() const;  // over the samples of the last start/stop

 private:
  void* lib_ = nullptr;
  void* device_ = nullptr;
  int (*get_power_)(void*, unsigned*) = nullptr;  // nvmlDeviceGetPowerUsage, milliwatts
  std::atomic<bool> running_{false};
  std::thread thread_;
  std::vector<double> samples_;
};

}  // namespace alloy::cli
