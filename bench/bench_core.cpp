// Core benchmarks, each next to a baseline measured in the same run: elementwise ops and
// reductions against memcpy bandwidth, matmul against OpenBLAS called directly, fused ops
// against their compositions from plain ops (cross_entropy's loss and gradient against the
// log_softmax + nll_loss composition), and per-op graph overhead against NumPy.
// Prints a table and writes JSON (bench_core.json, or the path given as the first argument).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "alloy/alloy.h"
#include "alloy/nn/losses.h"
#include "bench_report.h"
#include "alloy/backend/cpu/threading.h"

using namespace alloy;
using bench::Clock;

namespace {

using bench::report;
using bench::time_median;

// memcpy over all threads, the bandwidth ceiling for streaming kernels.
double memcpy_gbs(size_t bytes) {
  std::vector<char> a(bytes, 1), b(bytes, 2);
  double t = time_median([&] {
    cpu::parallel_for(int64_t(bytes), 1 << 20, [&](int64_t s, int64_t e) { std::memcpy(b.data() + s, a.data() + s, e - s); });
  }, 5);
  return 2.0 * bytes / t / 1e9;
}

void bench_streaming() {
  const int64_t n = int64_t(64) << 20;  // 64M floats
  const double bytes = double(n) * 4;
  double copy = memcpy_gbs(size_t(bytes));
  array a = random::uniform({n}, float32, -1, 1, random::key(1));
  array b = random::uniform({n}, float32, -1, 1, random::key(2));
  eval(a, b);
  double t = time_median([&] { eval(add(a, b)); }, 5);
  report("elementwise", "add 64M f32", 3 * bytes / t / 1e9, "GB/s", copy, "memcpy (all threads)");
  t = time_median([&] { eval(exp(a)); }, 5);
  report("elementwise", "exp 64M f32", 2 * bytes / t / 1e9, "GB/s", copy, "memcpy (all threads)");
  // A reduction only reads: compare with memcpy's read+write rate as the issue asks.
  t = time_median([&] { eval(sum(a)); }, 5);
  report("reduction", "sum 64M f32", bytes / t / 1e9, "GB/s", copy, "memcpy (all threads)");
  t = time_median([&] { eval(max(a)); }, 5);
  report("reduction", "max 64M f32", bytes / t / 1e9, "GB/s", copy, "memcpy (all threads)");
  array m = reshape(a, {8192, 8192});
  t = time_median([&] { eval(sum(m, 1)); }, 5);
  report("reduction", "sum rows 8192x8192 f32", bytes / t / 1e9, "GB/s", copy, "memcpy (all threads)");
  t = time_median([&] { eval(sum(m, 0)); }, 5);
  report("reduction", "sum cols 8192x8192 f32", bytes / t / 1e9, "GB/s", copy, "memcpy (all threads)");
}

void bench_matmul() {
  for (int n : {512, 1024, 2048, 4096}) {
    array a = random::normal({n, n}, float32, 0, 1, random::key(3));
    array b = random::normal({n, n}, float32, 0, 1, random::key(4));
    eval(a, b);
    std::vector<float> c(size_t(n) * n);
    int reps = n >= 4096 ? 3 : (n >= 2048 ? 5 : 10);
    double flops = 2.0 * n * n * double(n);
    double t_blas = time_median([&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data<float>(), n, b.data<float>(), n,
                  0.0f, c.data(), n);
    }, reps);
    double t = time_median([&] { eval(matmul(a, b)); }, reps);
    report("matmul", "f32 " + std::to_string(n), flops / t / 1e9, "GFLOP/s", flops / t_blas / 1e9, "OpenBLAS sgemm");
  }
}

void bench_fused() {
  array x = random::normal({4096, 4096}, float32, 0, 1, random::key(5));
  array w = random::normal({4096}, float32, 1, 0.1, random::key(6));
  array bias = random::normal({4096}, float32, 0, 0.1, random::key(7));
  eval(x, w, bias);
  auto pair = [&](const std::string& name, const std::function<array()>& fused, const std::function<array()>& comp) {
    double tf = time_median([&] { eval(fused()); }, 7);
    double tc = time_median([&] { eval(comp()); }, 7);
    report("fused", name, tf * 1e3, "ms", tc * 1e3, "plain-op composition");
  };
  // softmax is a primitive too; its composition is exp(x - logsumexp(x)).
  pair("softmax 4096x4096", [&] { return softmax(x, -1); },
       [&] { return exp(subtract(x, logsumexp(x, Axes{-1}, true))); });
  pair("rms_norm 4096x4096", [&] { return fast::rms_norm(x, w, 1e-5f); },
       [&] { return fast::composed::rms_norm(x, w, 1e-5f); });
  pair("layer_norm 4096x4096", [&] { return fast::layer_norm(x, w, bias, 1e-5f); },
       [&] { return fast::composed::layer_norm(x, w, bias, 1e-5f); });
  array xr = random::normal({1, 32, 1024, 128}, float32, 0, 1, random::key(8));
  eval(xr);
  pair("rope (1,32,1024,128)", [&] { return fast::rope(xr, 128, false, 10000.0f, 1.0f, 0); },
       [&] { return fast::composed::rope(xr, 128, false, 10000.0f, 1.0f, 0); });
  array q = random::normal({1, 32, 1024, 128}, float32, 0, 1, random::key(9));
  array k = random::normal({1, 8, 1024, 128}, float32, 0, 1, random::key(10));
  array v = random::normal({1, 8, 1024, 128}, float32, 0, 1, random::key(11));
  eval(q, k, v);
  float scale = 1.0f / std::sqrt(128.0f);
  pair("attention causal 32h/8kv T=1024", [&] { return fast::scaled_dot_product_attention(q, k, v, scale, std::nullopt, true); },
       [&] { return fast::composed::scaled_dot_product_attention(q, k, v, scale, std::nullopt, true); });
  array q1 = random::normal({1, 32, 1, 128}, float32, 0, 1, random::key(12));
  eval(q1);
  pair("attention decode 32h/8kv Tk=1024", [&] { return fast::scaled_dot_product_attention(q1, k, v, scale); },
       [&] { return fast::composed::scaled_dot_product_attention(q1, k, v, scale); });
  // The mean cross-entropy loss and its gradient: nn::losses::cross_entropy (the fused kernels)
  // against the composition it used before (log_softmax, then nll_loss's gather and mean).
  for (auto [rows, classes] : {std::pair<int64_t, int64_t>{4096, 10}, {512, 32000}}) {
    array logits = random::normal({rows, classes}, float32, 0, 2, random::key(13));
    array labels = astype(random::uniform({rows}, float32, 0, double(classes) - 0.01, random::key(14)), int32);
    eval(logits, labels);
    auto step_ms = [&](const std::function<array(const array&)>& loss) {
      auto step = value_and_grad(loss);
      return time_median([&] {
        auto [l, dx] = step(logits);
        eval(l, dx);
      }, 7) * 1e3;
    };
    double tf = step_ms([&](const array& a) { return nn::losses::cross_entropy(a, labels); });
    double tc = step_ms([&](const array& a) { return nn::losses::nll_loss(log_softmax(a, -1), labels); });
    report("fused", "cross_entropy fwd+bwd " + std::to_string(rows) + "x" + std::to_string(classes), tf, "ms", tc,
           "log_softmax + nll_loss");
  }
}

double numpy_us_per_op() {
  // NumPy's per-op time on a one-element array, in a Python loop of 10,000 adds.
  const char* script =
      "import numpy as np, time\n"
      "x = np.zeros(1, dtype=np.float32); one = np.float32(1)\n"
      "best = 1e9\n"
      "for _ in range(5):\n"
      "    t = time.perf_counter(); y = x\n"
      "    for i in range(10000): y = y + one\n"
      "    best = min(best, time.perf_counter() - t)\n"
      "print(best / 10000 * 1e6)\n";
  std::string cmd = "/usr/bin/python3 -c '" + std::string(script) + "' 2>/dev/null";
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return -1;
  double us = -1;
  if (std::fscanf(p, "%lf", &us) != 1) us = -1;
  pclose(p);
  return us;
}

void bench_overhead() {
  const int n = 10000;
  array one = array(1.0f);
  double t = time_median([&] {
    array y = zeros({1});
    for (int i = 0; i < n; ++i) y = add(y, one);
    eval(y);
  }, 5);
  double np_us = numpy_us_per_op();
  report("overhead", "build+eval chain of 10k tiny adds", t / n * 1e6, "us/op", np_us, "NumPy eager per op");
}

}  // namespace

int main(int argc, char** argv) {
  std::printf("alloy core benchmarks, %d threads (bigger is better for GB/s and GFLOP/s, smaller for ms and us)\n\n",
              cpu::num_threads());
  bench::print_header();
  bench_streaming();
  bench_matmul();
  bench_fused();
  bench_overhead();
  bench::write_json(argc > 1 ? argv[1] : "bench_core.json");
  return 0;
}
