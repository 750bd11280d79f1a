// The GPU runtime: unified-memory crossings, the CPU fallback and its counter, memory counters
// and limits, streams, and the error a CPU-only build gives.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "../thread_probe.h"
#include "gpu_test_util.h"

namespace alloy::test {
namespace {

TEST(GpuRuntime, UnavailableGpuSaysWhy) {
  if (gpu_available()) GTEST_SKIP() << "a GPU is present";
  try {
    eval({add(ones({2}), ones({2}), Device::gpu)});
    FAIL() << "no error without a GPU";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("GPU cannot be used"), std::string::npos) << e.what();
  }
}

TEST(GpuRuntime, CpuArrayUsedOnGpuIsCopiedOnce) {
  ALLOY_REQUIRE_GPU();
  array x = random::uniform({1 << 20}, float32, 0, 1, random::key(1), Device::cpu);
  eval({x});
  synchronize(default_stream(Device::gpu));
  size_t before = get_active_memory(Device::gpu);
  array y = exp(x, Device::gpu);
  eval({y});
  size_t after_first = get_active_memory(Device::gpu);
  // The output and the cached copy of x.
  EXPECT_GE(after_first - before, 2 * x.nbytes());
  array z = sin(x, Device::gpu);
  eval({z});
  EXPECT_EQ(get_active_memory(Device::gpu) - after_first, z.nbytes());  // no second copy of x
  auto host = exp(x, Device::cpu).to_vector<float>();
  auto dev = y.to_vector<float>();  // read on the host with no user copy
  ASSERT_EQ(host.size(), dev.size());
  for (size_t i = 0; i < host.size(); i += 4099) EXPECT_NEAR(dev[i], host[i], 1e-6f * host[i]);
}

// copy(x, gpu) of a host array (how the loaders move weights) is the transfer itself: one
// device buffer, not the output and a mirror of x. A host slice copies its own elements. Once x
// has a mirror, copies reuse it.
TEST(GpuRuntime, HostArrayCopiedToGpuKeepsNoMirror) {
  ALLOY_REQUIRE_GPU();
  array x = random::uniform({1 << 20}, float32, 0, 1, random::key(2), Device::cpu);
  eval({x});
  synchronize(default_stream(Device::gpu));
  const size_t before = get_active_memory(Device::gpu);
  array y = copy(x, Device::gpu);
  eval({y});
  EXPECT_EQ(get_active_memory(Device::gpu) - before, x.nbytes());
  EXPECT_EQ(y.to_vector<float>(), x.to_vector<float>());
  array part = slice(x, {1000}, {1000 + 4096}, Device::cpu);
  array z = copy(part, Device::gpu);
  EXPECT_EQ(z.to_vector<float>(), part.to_vector<float>());
  array e = exp(x, Device::gpu);  // makes the mirror
  eval({e});
  const size_t with_mirror = get_active_memory(Device::gpu);
  array w = copy(x, Device::gpu);
  eval({w});
  EXPECT_EQ(get_active_memory(Device::gpu) - with_mirror, x.nbytes());
  EXPECT_EQ(w.to_vector<float>(), x.to_vector<float>());
}

bool mapped(const std::string& library) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line))
    if (line.find(library) != std::string::npos) return true;
  return false;
}

// cuBLASLt is mapped by the first GPU matrix product, not at start: CPU work in a CUDA build
// never pays its ~200 MB of registered kernels.
TEST(GpuRuntime, CublasLtLoadsWithTheFirstGpuMatmul) {
  if (mapped("libcublasLt")) GTEST_SKIP() << "an earlier test of this process ran a GPU matrix product";
  array a = random::normal({64, 64}, float32, 0, 1, random::key(1), Device::cpu);
  eval({matmul(a, a, Device::cpu)});
  EXPECT_FALSE(mapped("libcublasLt")) << "a CPU matmul mapped cuBLASLt";
  if (!gpu_available()) GTEST_SKIP() << "no usable GPU for the second half";
  array g = matmul(a, a, Device::gpu);
  EXPECT_LE(normalized_error(g, matmul(a, a, Device::cpu)), 1e-5);
  EXPECT_TRUE(mapped("libcublasLt"));
}

TEST(GpuRuntime, GpuArrayUsedOnCpu) {
  ALLOY_REQUIRE_GPU();
  array x = arange(0.0, 1000.0, 1.0, float32, Device::gpu);
  array y = sum(x * 2.0f, false, Device::cpu);  // GPU-made x read by CPU ops
  EXPECT_FLOAT_EQ(y.item<float>(), 999000.0f);
  EXPECT_FLOAT_EQ(x.data<float>()[999], 999.0f);
}

TEST(GpuRuntime, FallbackRunsOnCpuAndCounts) {
  ALLOY_REQUIRE_GPU();
  auto count = [](const std::string& name) {
    for (auto& [n, c] : gpu_fallback_counts()) {
      if (n == name) return c;
    }
    return uint64_t(0);
  };
  uint64_t before = count("take");
  array x = array({3.0f, 1.0f, 2.0f});
  // GPU-resident uint64 indices (their int64 conversion could wrap): take runs on the CPU.
  array idx = astype(argmax(x, 0, true, Device::gpu), uint64, Device::gpu);
  array s = take(x, idx, 0, Device::gpu) + 1.0f;  // and the add on the GPU again
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{4.0f}));
  EXPECT_EQ(count("take"), before + 1);
}

TEST(GpuRuntime, FallbackErrorMode) {
  ALLOY_REQUIRE_GPU();
  if (std::getenv("ALLOY_TEST_CHILD")) GTEST_SKIP() << "child process";
  // The mode is read once per process: check it in a child run of this binary.
  char self[4096] = {};
  ASSERT_GT(readlink("/proc/self/exe", self, sizeof(self) - 1), 0);
  std::string cmd = std::string("ALLOY_TEST_CHILD=1 ALLOY_GPU_FALLBACK=error ") + self +
                    " --gtest_filter=GpuRuntime.FallbackErrorChild > /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST(GpuRuntime, FallbackErrorChild) {
  if (!std::getenv("ALLOY_TEST_CHILD")) GTEST_SKIP() << "runs only as FallbackErrorMode's child";
  array x = array({3.0f, 1.0f});
  try {
    eval({take(x, astype(argmax(x, 0, true, Device::gpu), uint64, Device::gpu), 0, Device::gpu)});
    FAIL() << "fallback was not refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("ALLOY_GPU_FALLBACK=error"), std::string::npos) << e.what();
  }
}

TEST(GpuRuntime, GpuResidentIndicesAreCheckedOnTheDevice) {
  ALLOY_REQUIRE_GPU();
  Device g = Device::gpu;
  array table = arange(0.0, 50.0, 1.0, float32, g);
  array good = astype(argmax(array({1.0f, 7.0f, 3.0f}), 0, true, g) * 20, int32, g);  // [20] on the GPU
  uint64_t fallbacks = 0;
  for (auto& [n, c] : gpu_fallback_counts()) fallbacks += c;
  EXPECT_EQ(take(table, good, 0, g).to_vector<float>(), std::vector<float>{20.0f});
  array bad = good * 3;  // [60]: out of range, known only on the device
  array picked = take(table, bad, 0, g);
  array later = picked + 1.0f;  // enqueued before the error is known
  try {
    eval({later});
    ADD_FAILURE() << "no error for an out-of-range GPU-resident index";
  } catch (const std::out_of_range& e) {
    EXPECT_NE(std::string(e.what()).find("[take] index 60 is out of range for axis 0 of size 50"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(picked.item<float>(), std::out_of_range);
  // The stream recovers: new work runs normally.
  EXPECT_FLOAT_EQ(sum(table, false, g).item<float>(), 1225.0f);
  array idx2 = astype(arange(0.0, 4.0, 1.0, float32, g), int64, g);
  EXPECT_EQ(take_along_axis(reshape(table, {5, 10}, g), reshape(idx2, {1, 4}, g), 1, g).shape(), (Shape{5, 4}));
  uint64_t after = 0;
  for (auto& [n, c] : gpu_fallback_counts()) after += c;
  EXPECT_EQ(after, fallbacks);  // none of these ran on the CPU
}

// A synchronous eval on an idle GPU stream launches its work on the calling thread; async_eval,
// and an eval while the stream still has work queued or running, go to the stream's worker.
TEST(GpuRuntime, SyncEvalOnAnIdleStreamRunsOnTheCaller) {
  ALLOY_REQUIRE_GPU();
  Device g = Device::gpu;
  array x = arange(0.0, 8.0, 1.0, float32, g);
  eval({x});
  synchronize(default_stream(g));
  std::thread::id seen;
  array a = probe(add(x, array(1.0f), g), &seen, g);
  eval({a});
  EXPECT_EQ(seen, std::this_thread::get_id());
  EXPECT_FLOAT_EQ(a.to_vector<float>()[7], 8.0f);

  std::thread::id seen_async;
  array b = probe(multiply(a, array(2.0f), g), &seen_async, g);
  async_eval({b});
  b.wait();
  EXPECT_NE(seen_async, std::this_thread::get_id());
  EXPECT_FLOAT_EQ(b.to_vector<float>()[7], 16.0f);

  // Work still running on the GPU: the eval after it goes through the worker, in stream order.
  array c = zeros({int64_t(1) << 24}, float32, g);
  for (int i = 0; i < 50; ++i) c = add(c, array(1.0f), g);
  async_eval({c});
  std::thread::id seen_after;
  array d = probe(add(c, array(0.5f), g), &seen_after, g);
  eval({d});
  EXPECT_FLOAT_EQ(d.to_vector<float>()[(int64_t(1) << 24) - 1], 50.5f);
}

TEST(GpuRuntime, MemoryLimitAndOutOfMemory) {
  ALLOY_REQUIRE_GPU();
  Device g = Device::gpu;
  size_t limit = get_memory_limit(g);
  EXPECT_GT(limit, size_t(1) << 30);  // 75% of the card's memory by default
  set_memory_limit(size_t(64) << 20, g);
  try {
    eval({zeros({int64_t(32) << 20}, float32, g)});  // 128 MiB
    ADD_FAILURE() << "no out_of_memory";
  } catch (const out_of_memory& e) {
    EXPECT_GE(e.requested_bytes, size_t(128) << 20);
  }
  set_memory_limit(limit, g);
  // Recovers: the same request now succeeds, and memory returns once the array is dropped.
  synchronize(default_stream(g));
  size_t base = get_active_memory(g);
  {
    array z = zeros({int64_t(32) << 20}, float32, g);
    eval({z});
    EXPECT_GE(get_active_memory(g), base + (size_t(128) << 20));
  }
  synchronize(default_stream(g));
  EXPECT_EQ(get_active_memory(g), base);
}

TEST(GpuRuntime, StreamsOrderWork) {
  ALLOY_REQUIRE_GPU();
  Stream s1 = new_stream(Device::gpu), s2 = new_stream(Device::gpu);
  array a = full({1 << 22}, array(1.0f), s1);
  array b = a * 3.0f;  // default GPU stream, waits for s1
  array c = add(b, a, s2);
  async_eval({c});
  EXPECT_FLOAT_EQ(sum(c, false, Device::cpu).item<float>(), 4.0f * (1 << 22));
}

TEST(GpuRuntime, LongChainOnGpuFreesIntermediates) {
  ALLOY_REQUIRE_GPU();
  Device g = Device::gpu;
  array x = zeros({1 << 22}, float32, g);  // 16 MiB
  eval({x});
  synchronize(default_stream(g));
  reset_peak_memory(g);
  size_t base = get_active_memory(g);
  array y = x;
  for (int i = 0; i < 20; ++i) y = add(y, array(1.0f), g);
  x = array(0.0f);
  EXPECT_FLOAT_EQ(y.data<float>()[12345], 20.0f);
  EXPECT_LE(get_peak_memory(g), base + 3 * (size_t(16) << 20));
}

}  // namespace
}  // namespace alloy::test
