#include "alloy/core/device.h"

#include <cstdlib>
#include <mutex>
#include <string>
#include <stdexcept>
#include <vector>

#include "alloy/backend/gpu_api.h"
#include "alloy/core/scheduler.h"

namespace alloy {

std::ostream& operator<<(std::ostream& os, const Device& d) {
  return os << (d.type == Device::cpu ? "Device(cpu, " : "Device(gpu, ") << d.index << ")";
}
std::ostream& operator<<(std::ostream& os, const Stream& s) {
  return os << "Stream(" << s.device << ", " << s.index << ")";
}

bool gpu_available() { return gpu::is_available(); }

std::vector<std::pair<std::string, uint64_t>> gpu_fallback_counts() {
  return gpu::fallback_counts();
}

namespace {

void check_device(const Device& d, const char* what) {
  if (d.type == Device::gpu && !gpu::is_available()) {
    throw std::runtime_error(std::string("[") + what + "] the GPU cannot be used: " +
                             gpu::unavailable_reason());
  }
  if (d.index != 0) {
    throw std::invalid_argument(std::string("[") + what + "] device index " +
                                std::to_string(d.index) + " does not exist (only index 0)");
  }
}

// The GPU when one is usable; ALLOY_DEFAULT_DEVICE=cpu|gpu overrides.
Device initial_default_device() {
  const char* env = std::getenv("ALLOY_DEFAULT_DEVICE");
  std::string want = env ? env : "";
  if (want == "cpu") return Device::cpu;
  if (want == "gpu") {
    check_device(Device::gpu, "ALLOY_DEFAULT_DEVICE");
    return Device::gpu;
  }
  if (!want.empty()) {
    throw std::invalid_argument("ALLOY_DEFAULT_DEVICE='" + want + "' is neither cpu nor gpu");
  }
  return gpu::is_available() ? Device::gpu : Device::cpu;
}

struct DeviceState {
  std::mutex mutex;
  Device default_device{initial_default_device()};
  std::vector<Stream> default_streams;  // one per device type, created on first use
};

DeviceState& state() {
  static DeviceState* s = new DeviceState();
  return *s;
}

}  // namespace

const Device& default_device() { return state().default_device; }

void set_default_device(const Device& d) {
  check_device(d, "set_default_device");
  std::lock_guard lk(state().mutex);
  state().default_device = d;
}

Stream new_stream(Device d) {
  check_device(d, "new_stream");
  Stream s{scheduler::create_stream(d), d};
  if (d.type == Device::gpu) gpu::new_stream(s);
  return s;
}

Stream default_stream(Device d) {
  check_device(d, "default_stream");
  auto& st = state();
  std::lock_guard lk(st.mutex);
  for (auto& s : st.default_streams) {
    if (s.device == d) return s;
  }
  Stream s{scheduler::create_stream(d), d};
  if (d.type == Device::gpu) gpu::new_stream(s);
  st.default_streams.push_back(s);
  return s;
}

void set_default_stream(Stream s) {
  auto& st = state();
  std::lock_guard lk(st.mutex);
  for (auto& d : st.default_streams) {
    if (d.device == s.device) d = s;
  }
}

Stream to_stream(StreamOrDevice s) {
  if (auto* st = std::get_if<Stream>(&s)) return *st;
  if (auto* d = std::get_if<Device>(&s)) return default_stream(*d);
  return default_stream(default_device());
}

void synchronize(Stream s) {
  scheduler::wait_for(s.index, scheduler::next_event_value(s) - 1);
  if (s.device.type == Device::gpu) gpu::synchronize(s);
}

void synchronize() { synchronize(default_stream(default_device())); }

}  // namespace alloy
