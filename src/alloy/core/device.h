// Devices and streams. Every op runs on a stream; a stream belongs to one device and runs its
// work in order on its own thread. Work on different streams is ordered by events.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>
#include <variant>

namespace alloy {

struct Device {
  enum class Type { cpu, gpu };
  static constexpr Type cpu = Type::cpu;
  static constexpr Type gpu = Type::gpu;

  Type type;
  int index = 0;

  constexpr Device(Type t, int i = 0) : type(t), index(i) {}
  bool operator==(const Device&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Device& d);

// True when a GPU backend is built in and a GPU is present.
bool gpu_available();
// How often each primitive ran on the CPU instead of the GPU (no GPU kernel for it or its
// dtype), by primitive name. ALLOY_GPU_FALLBACK=error makes such a fallback an error,
// =silent drops the one-time warning.
std::vector<std::pair<std::string, uint64_t>> gpu_fallback_counts();

const Device& default_device();
// The GPU when one is usable (ALLOY_DEFAULT_DEVICE=cpu|gpu overrides). set_default_device
// throws std::runtime_error naming the reason when the device cannot be used.
void set_default_device(const Device& d);

struct Stream {
  int index;
  Device device;
  bool operator==(const Stream& o) const { return index == o.index; }
};

std::ostream& operator<<(std::ostream& os, const Stream& s);

Stream default_stream(Device d);
void set_default_stream(Stream s);
Stream new_stream(Device d);

// What every op accepts last: nothing (the default stream), a device, or a stream.
using StreamOrDevice = std::variant<std::monostate, Stream, Device>;
Stream to_stream(StreamOrDevice s);

// Blocks until all work submitted to the stream so far has finished.
void synchronize(Stream s);
void synchronize();

}  // namespace alloy
