// libFuzzer target: .npz archives (load_npz_from_memory, libzip underneath).
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
    for (auto& [name, a] : alloy::io::load_npz_from_memory(data, size, "fuzz.npz")) {
      touch(a);
    }
  } catch (const alloy::io::io_error&) {
  }
  return 0;
}
