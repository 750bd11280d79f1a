// Every test binary that runs ops on the GPU (test_gpu; test_core and test_nn under
// ALLOY_DEFAULT_DEVICE=gpu, as tests/run_gpu.sh runs them) ends by listing the primitives that
// ran on the CPU instead, and fails if one is not in the list below. The list may only shrink:
// an op that gains a GPU kernel for every dtype and layout leaves it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "alloy/alloy.h"

namespace alloy::test {
namespace {

// The primitives that may fall back, and for which inputs.
const std::vector<std::string> kAllowedGpuFallbacks{
    // GPU-resident uint64 indices, whose conversion to int64 could wrap.
    "take", "gather", "take_along_axis", "put_along_axis", "scatter",
    // Head dims above 256.
    "scaled_dot_product_attention",
};

class GpuFallbackAudit : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!gpu_available()) return;
    const auto counts = gpu_fallback_counts();
    std::string listed;
    for (const auto& [name, n] : counts) listed += " " + name + " x" + std::to_string(n);
    std::printf("GPU fallbacks in this run:%s\n", listed.empty() ? " none" : listed.c_str());
    for (const auto& [name, n] : counts) {
      EXPECT_NE(std::find(kAllowedGpuFallbacks.begin(), kAllowedGpuFallbacks.end(), name),
                kAllowedGpuFallbacks.end())
          << "[" << name << "] newly falls back to the CPU (" << n << " times in this run)";
    }
  }
};

[[maybe_unused]] auto* const kAudit = ::testing::AddGlobalTestEnvironment(new GpuFallbackAudit);

}  // namespace
}  // namespace alloy::test
