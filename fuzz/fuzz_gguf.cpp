// libFuzzer target: GGUF metadata, tensor infos and extents (load_gguf_from_memory).
// Anything but io_error escaping is a finding.
#include <vector>

#include "alloy/io/io.h"

namespace {
// Reads every element so ASan checks the bytes the array wraps or copied were in bounds.
void touch(alloy::array a) {
  if (a.nbytes() == 0 || a.nbytes() > (size_t(1) << 22)) return;
  std::vector<uint8_t> out(a.nbytes());
  a.copy_elements_to(out.data(), a.dtype());
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    alloy::io::GGUFFile f = alloy::io::load_gguf_from_memory(data, size, "fuzz.gguf");
    for (auto& [name, a] : f.tensors) touch(a);
    // Every listed extent, quantized ones included, must lie inside the buffer.
    uint8_t sum = 0;
    for (const auto& t : f.tensor_infos) {
      const uint8_t* p = f.tensor_data(t);
      for (uint64_t i = 0; i < t.nbytes; i += 61) sum = uint8_t(sum + p[i]);
      if (t.nbytes) sum = uint8_t(sum + p[t.nbytes - 1]);
    }
    volatile uint8_t sink = sum;
    (void)sink;
  } catch (const alloy::io::io_error&) {
  }
  return 0;
}
