// RandomBits on the CPU: every Threefry block is independent (counter = block index), so the
// (keys x blocks) space is split across threads and each inner loop vectorizes.
#include <algorithm>
#include <vector>

#include "alloy/backend/cpu/simd.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/core/primitives.h"
#include "alloy/core/random.h"

namespace alloy {
namespace {

// out[2 * i], out[2 * i + 1] = threefry(key, block b0 + i) for i in [0, n).
ALLOY_SIMD_CLONES void fill_blocks(uint32_t k0, uint32_t k1, uint64_t b0, int64_t n, uint32_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    uint64_t b = b0 + uint64_t(i);
    auto r = random::threefry2x32({k0, k1}, {uint32_t(b), uint32_t(b >> 32)});
    out[2 * i] = r[0];
    out[2 * i + 1] = r[1];
  }
}

}  // namespace

void RandomBits::eval_cpu(const std::vector<array>& inputs, array& out) {
  cpu::allocate(out);
  const array& keys = inputs[0];  // (..., 2) uint32, any layout
  const int64_t n_keys = int64_t(keys.size() / 2);
  const int64_t per_key = int64_t(shape_size(shape_));  // words per key
  if (n_keys == 0 || per_key == 0) return;
  std::vector<uint32_t> k(size_t(n_keys * 2));
  cpu::copy_into(keys, k.data(), uint32, row_major_strides(keys.shape()), keys.shape());

  uint32_t* o = static_cast<uint32_t*>(out.raw_data_ptr());
  const int64_t full = per_key / 2;  // whole blocks per key; an odd count leaves half a block
  const int64_t blocks = (per_key + 1) / 2;
  constexpr int64_t kTile = 1024;  // blocks per task
  const int64_t tiles = (blocks + kTile - 1) / kTile;
  cpu::parallel_for(n_keys * tiles, 4, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      int64_t key = t / tiles, b0 = (t % tiles) * kTile;
      int64_t b1 = std::min(b0 + kTile, full);
      uint32_t* dst = o + key * per_key;
      if (b1 > b0) fill_blocks(k[2 * key], k[2 * key + 1], uint64_t(b0), b1 - b0, dst + 2 * b0);
      if (b0 + kTile >= blocks && blocks > full) {
        // The last word of an odd count: the first output of the final block.
        auto r = random::threefry2x32({k[2 * key], k[2 * key + 1]}, {uint32_t(full), uint32_t(uint64_t(full) >> 32)});
        dst[per_key - 1] = r[0];
      }
    }
  });
}

}  // namespace alloy
