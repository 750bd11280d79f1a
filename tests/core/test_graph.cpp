// Lazy evaluation, the scheduler, buffer donation, memory counters and limits, devices.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <thread>

#include "alloy/alloy.h"
#include "alloy/core/recorded_graph.h"
#include "../default_device_scope.h"
#include "../thread_probe.h"

namespace alloy {
namespace {

using test::probe;

TEST(Graph, NothingComputesBeforeEval) {
  array x = ones({1000});
  array y = exp(x);
  EXPECT_EQ(y.status(), array::Status::unscheduled);
  EXPECT_FALSE(y.is_available());
  eval(y);
  EXPECT_TRUE(y.is_available());
  EXPECT_FLOAT_EQ(y.to_vector<float>()[7], std::exp(1.0f));
}

TEST(Graph, LongChainEvaluatesWithoutRecursion) {
  array x = zeros({4});
  array y = x;
  for (int i = 0; i < 200000; ++i) y = add(y, array(1.0f));
  EXPECT_FLOAT_EQ(y.to_vector<float>()[3], 200000.0f);
  // An unevaluated chain of the same length is destroyed without recursion too.
  array z = x;
  for (int i = 0; i < 200000; ++i) z = multiply(z, array(1.0f));
}

TEST(Graph, EvaluatedArraysDropTheirInputs) {
  array a = ones({8});
  array b = exp(a);
  ASSERT_EQ(b.inputs().size(), 1u);
  eval(b);
  EXPECT_TRUE(b.inputs().empty());
  EXPECT_FALSE(b.has_primitive());
}

TEST(Graph, IntermediatesAreFreedAndBuffersDonated) {
  const size_t n = 1 << 22;  // 16 MiB of float32
  const size_t bytes = n * 4;
  clear_cache(Device::cpu);
  size_t base = get_active_memory(Device::cpu);
  reset_peak_memory(Device::cpu);
  {
    array x = full({int64_t(n)}, array(0.5f));
    array y = x;
    for (int i = 0; i < 20; ++i) y = sin(add(y, array(1.0f)));
    x = array(0.0f);  // let go of the input so its buffer can be donated
    eval(y);
    // Twenty elementwise steps run in place in one buffer: far below 20 buffers at the peak.
    EXPECT_LE(get_peak_memory(Device::cpu) - base, 3 * bytes);
    EXPECT_LE(get_active_memory(Device::cpu) - base, bytes + 4096);
  }
  EXPECT_EQ(get_active_memory(Device::cpu), base);
}

TEST(Graph, AsyncEvalAndStreams) {
  Stream s1 = new_stream(Device::cpu);
  Stream s2 = new_stream(Device::cpu);
  array a = multiply(arange(100000.0), array(2.0f), s1);
  array b = add(a, array(1.0f), s2);  // depends on work of another stream
  async_eval({b});
  EXPECT_FLOAT_EQ(b.to_vector<float>()[99999], 199999.0f);
  synchronize(s1);
  synchronize(s2);
  EXPECT_TRUE(a.is_available());
}

// A synchronous eval on an idle CPU stream runs on the calling thread (no hand-off to the
// stream's worker); async_eval, and an eval while the stream still has work, go to the worker,
// in stream order. On the CPU whatever the default device (GpuRuntime tests the GPU stream's).
TEST(Graph, SyncEvalOnAnIdleStreamRunsOnTheCaller) {
  test::DefaultDeviceScope on_the_cpu(Device::cpu);
  synchronize(default_stream(Device::cpu));
  std::thread::id seen;
  array a = probe(add(arange(10.0f), array(1.0f)), &seen);
  eval(a);
  EXPECT_EQ(seen, std::this_thread::get_id());
  EXPECT_FLOAT_EQ(a.to_vector<float>()[9], 10.0f);

  std::thread::id seen_async;
  array b = probe(multiply(a, array(2.0f)), &seen_async);
  async_eval({b});
  b.wait();
  EXPECT_NE(seen_async, std::this_thread::get_id());
  EXPECT_FLOAT_EQ(b.to_vector<float>()[9], 20.0f);

  // Queued work first: the eval that follows waits for it, whoever runs it.
  array c = arange(200000.0f);
  for (int i = 0; i < 200; ++i) c = add(c, array(1.0f));
  async_eval({c});
  std::thread::id seen_after;
  array d = probe(add(c, array(0.5f)), &seen_after);
  eval(d);
  EXPECT_FLOAT_EQ(d.to_vector<float>()[199999], 199999.0f + 200.0f + 0.5f);
}

// A recorded graph runs again on what its input slots hold, and a carried update (a cache
// written at a position read from an array) accumulates across runs in one buffer. Recorded
// graphs are the CPU's (the GPU replays CUDA graphs: tests/gpu).
TEST(RecordedGraph, RunsAgainOnNewInputsAndCarriesState) {
  test::DefaultDeviceScope on_the_cpu(Device::cpu);
  array x = zeros({1}), pos = zeros({1}, int32);
  eval({x, pos});
  array updated = zeros({8});
  EXPECT_THROW(RecordedGraph::record({updated}, {slice_update_at(updated, x, pos, {0})}), std::invalid_argument)
      << "the state written must exist before the recording";
  eval(updated);
  updated = slice_update_at(updated, exp(x), pos, {0});  // the only holder of the zeros
  array total = sum(updated);
  std::optional<RecordedGraph> g = RecordedGraph::record({updated, total}, {updated});
  EXPECT_GE(g->size(), 3u);
  EXPECT_FLOAT_EQ(total.item<float>(), 1.0f);
  const void* buffer = updated.data_shared_ptr()->buffer.ptr;
  double want = 1.0;
  for (int p = 1; p < 8; ++p) {
    x.data<float>()[0] = 0.25f * float(p);
    pos.data<int32_t>()[0] = p;
    g->run();
    want += std::exp(0.25 * p);
  }
  EXPECT_NEAR(total.item<float>(), want, 1e-5);
  std::vector<float> v = updated.to_vector<float>();
  for (int p = 0; p < 8; ++p) EXPECT_NEAR(v[size_t(p)], std::exp(0.25f * float(p)), 1e-6) << p;
  EXPECT_EQ(updated.data_shared_ptr()->buffer.ptr, buffer) << "the carried update is written in place";
  g.reset();  // the arrays keep their values, not the graph
  EXPECT_FALSE(updated.has_primitive());
  EXPECT_TRUE(updated.inputs().empty());
  EXPECT_NEAR(total.item<float>(), want, 1e-5);
}

TEST(Graph, ConcurrentEvalFromThreads) {
  std::vector<std::thread> threads;
  std::vector<float> results(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &results] {
      array x = full({1000}, array(float(t)));
      results[t] = sum(multiply(x, x)).item<float>();
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_FLOAT_EQ(results[t], 1000.0f * t * t);
}

// Without CUDA built in, or with it built but no usable GPU, asking for the GPU says why.
TEST(Devices, NoGpuGivesAClearError) {
  if (gpu_available()) GTEST_SKIP() << "a GPU is present";
  EXPECT_EQ(default_device(), Device(Device::cpu));
  try {
    set_default_device(Device::gpu);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("the GPU cannot be used: "), std::string::npos) << msg;
    bool says_why = msg.find("built without CUDA") != std::string::npos ||
                    msg.find("no usable CUDA driver or device") != std::string::npos ||
                    msg.find("no CUDA device found") != std::string::npos;
    EXPECT_TRUE(says_why) << msg;
  }
  EXPECT_THROW(add(array(1.0f), array(2.0f), Device::gpu), std::runtime_error);
}

TEST(Memory, OutOfMemoryIsAnErrorAndMemoryReturns) {
  clear_cache(Device::cpu);
  size_t base = get_active_memory(Device::cpu);
  size_t old_limit = set_memory_limit(base + (64 << 20), Device::cpu);
  {
    array small = ones({1 << 20}, float32, Device::cpu);
    eval(small);
    array huge = ones({int64_t(1) << 30}, float32, Device::cpu);  // 4 GiB
    try {
      eval(huge);
      FAIL() << "expected out_of_memory";
    } catch (const out_of_memory& e) {
      EXPECT_EQ(e.requested_bytes, size_t(4) << 30);
      EXPECT_EQ(e.limit_bytes, base + (64 << 20));
      EXPECT_NE(std::string(e.what()).find("out of memory"), std::string::npos);
    }
    // The failed array rethrows on access; the process and other arrays are fine.
    EXPECT_THROW(eval(huge), out_of_memory);
    EXPECT_FLOAT_EQ(sum(small, false, Device::cpu).item<float>(), float(1 << 20));
  }
  set_memory_limit(old_limit, Device::cpu);
  EXPECT_EQ(get_active_memory(Device::cpu), base);
  EXPECT_GT(get_memory_limit(Device::cpu), size_t(0));
}

TEST(Memory, CacheCountersAndLimits) {
  clear_cache(Device::cpu);
  EXPECT_EQ(get_cache_memory(Device::cpu), 0u);
  {
    array x = ones({1 << 18}, float32, Device::cpu);
    eval(x);
  }
  EXPECT_GE(get_cache_memory(Device::cpu), size_t(1 << 20));
  size_t old = set_cache_limit(0, Device::cpu);
  EXPECT_EQ(get_cache_memory(Device::cpu), 0u);
  set_cache_limit(old, Device::cpu);
}

TEST(Dtypes, PromotionAndWeakScalars) {
  array h = ones({3}, float16);
  EXPECT_EQ((h * 2.0f).dtype(), float16);
  EXPECT_EQ((h + 1).dtype(), float16);
  EXPECT_EQ((ones({2}, int32) * 2.5).dtype(), float32);
  EXPECT_EQ((ones({2}, int8) + 300).dtype(), int8);
  EXPECT_EQ(add(ones({2}, uint8), ones({2}, int8)).dtype(), int16);
  EXPECT_EQ(add(ones({2}, int32), ones({2}, float16)).dtype(), float16);
  EXPECT_EQ(add(ones({2}, float16), ones({2}, bfloat16)).dtype(), float32);
  EXPECT_EQ(add(ones({2}, uint64), ones({2}, int64)).dtype(), float32);
  EXPECT_EQ(add(ones({2}, bool_), ones({2}, bool_)).dtype(), bool_);
  EXPECT_EQ(divide(ones({2}, int32), ones({2}, int32)).dtype(), float32);
  EXPECT_EQ(promote_types(int16, uint32), int64);
  EXPECT_EQ(array(1.5, float16).dtype(), float16);
  EXPECT_EQ(astype(array({1.7f, -2.2f}), int32).to_vector<int32_t>(), (std::vector<int32_t>{1, -2}));
}

TEST(Arrays, ConstructionViewsAndItems) {
  array a({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(a.dtype(), int32);
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  EXPECT_EQ(a.strides(), (Strides{3, 1}));
  array t = transpose(a);
  eval(t);
  EXPECT_EQ(t.strides(), (Strides{1, 3}));
  EXPECT_EQ(t.data_shared_ptr(), a.data_shared_ptr());  // a view, no copy
  array s = slice(a, {0, 2}, {2, -4}, {1, -2});
  eval(s);
  EXPECT_EQ(s.data_shared_ptr(), a.data_shared_ptr());
  EXPECT_EQ(s.to_vector<int32_t>(), (std::vector<int32_t>{3, 1, 6, 4}));
  array r = reshape(t, {6});  // needs a copy: strides make a view impossible
  eval(r);
  EXPECT_NE(r.data_shared_ptr(), a.data_shared_ptr());
  EXPECT_EQ(r.to_vector<int32_t>(), (std::vector<int32_t>{1, 4, 2, 5, 3, 6}));
  array r2 = reshape(a, {3, 2});
  eval(r2);
  EXPECT_EQ(r2.data_shared_ptr(), a.data_shared_ptr());
}

TEST(Arrays, ExternalMemoryAndCopies) {
  static int freed = 0;
  float* buf = new float[4]{1, 2, 3, 4};
  {
    array w(buf, {2, 2}, float32, [](void* p) {
      delete[] static_cast<float*>(p);
      ++freed;
    });
    EXPECT_FLOAT_EQ(sum(w).item<float>(), 10.0f);
    std::vector<double> v{1.5, 2.5};
    array c(v.data(), Shape{2});
    v[0] = 100;  // the array copied
    EXPECT_DOUBLE_EQ(c.to_vector<double>()[0], 1.5);
  }
  EXPECT_EQ(freed, 1);
  EXPECT_THROW(array({1, 2, 3}, {2, 2}), std::invalid_argument);
}

TEST(Arrays, PrintsLikeNumPy) {
  std::ostringstream os;
  os << array({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(os.str(), "array([[1, 2],\n       [3, 4]], dtype=int32)");
  std::ostringstream os2;
  os2 << array({1.5f, -2.0f});
  EXPECT_EQ(os2.str(), "array([1.5, -2.])");
  std::ostringstream os3;
  os3 << arange(2000.0);
  EXPECT_NE(os3.str().find("..."), std::string::npos);
}

TEST(Errors, MessagesNameTheOpAndTheProblem) {
  auto message = [](auto&& fn) {
    try {
      fn();
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message([] { add(ones({2, 3}), ones({4})); }).rfind("[add] shapes (2, 3) and (4,)", 0), 0u);
  EXPECT_EQ(message([] { sum(ones({2, 3}), 2); }).rfind("[sum] axis 2 is out of range", 0), 0u);
  EXPECT_EQ(message([] { reshape(ones({2, 3}), {4, 2}); }).rfind("[reshape]", 0), 0u);
  EXPECT_EQ(message([] { zeros({2, -1}); }).rfind("[full] negative dimension", 0), 0u);
  EXPECT_EQ(message([] { matmul(ones({2, 3}), ones({2, 3})); }).rfind("[matmul] inner dimensions", 0), 0u);
  EXPECT_EQ(message([] { matmul(ones({2, 2}, int32), ones({2, 2}, int32)); }).rfind("[matmul]", 0), 0u);
  EXPECT_EQ(message([] { transpose(ones({2, 3}), {0, 0}); }).rfind("[transpose]", 0), 0u);
  EXPECT_EQ(message([] { bitwise_and(ones({2}), ones({2})); }).rfind("[bitwise_and]", 0), 0u);
  EXPECT_EQ(message([] { concatenate({ones({2, 3}), ones({3, 3})}, 1); }).rfind("[concatenate]", 0), 0u);
  EXPECT_EQ(message([] { arange(0, 10, 0.0); }).rfind("[arange] step", 0), 0u);
  EXPECT_EQ(message([] { ones({3}).item<float>(); }).rfind("[item]", 0), 0u);
  EXPECT_EQ(message([] { slice(ones({3}), {0}, {3}, {0}); }).rfind("[slice] slice step", 0), 0u);
}

}  // namespace
}  // namespace alloy
