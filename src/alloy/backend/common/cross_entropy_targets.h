// The out-of-range target check of the fused cross entropy, shared by the CPU kernels and the
// GPU's host-side check so that both report the same message.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace alloy {

inline std::string cross_entropy_target_message(int64_t target, int64_t classes) {
  return "[cross_entropy] target " + std::to_string(target) + " is out of range for " + std::to_string(classes) +
         " classes";
}

// Throws std::out_of_range at the first target t (N,) outside [0, C) other than ignore_index.
inline void check_cross_entropy_targets(const int64_t* t, int64_t rows, int64_t classes, int64_t ignore_index) {
  for (int64_t r = 0; r < rows; ++r) {
    if (t[r] != ignore_index && (t[r] < 0 || t[r] >= classes)) {
      throw std::out_of_range(cross_entropy_target_message(t[r], classes));
    }
  }
}

}  // namespace alloy
