// libFuzzer target: IDX headers, data and gzip streams (load_idx_from_memory).
// Anything but io_error escaping is a finding.
#include <vector>

#include "alloy/io/io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    alloy::array a = alloy::io::load_idx_from_memory(data, size, "fuzz.idx");
    if (a.nbytes() > 0 && a.nbytes() <= (size_t(1) << 22)) {
      std::vector<uint8_t> out(a.nbytes());
      a.copy_elements_to(out.data(), a.dtype());
    }
  } catch (const alloy::io::io_error&) {
  }
  return 0;
}
