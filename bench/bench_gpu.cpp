// GPU benchmarks (H100/H200 through tests/run_gpu.sh), each next to a baseline measured in the
// same run: elementwise ops and reductions against a device-to-device copy, GEMM against cuBLAS
// called directly, eager per-op overhead, and the cost of a CPU<->GPU crossing against a plain
// cudaMemcpy of the same bytes; quantized matrix-vector products (decode) against the copy; the
// fused cross-entropy loss and gradient against their composition. Prints a table and writes JSON
// (bench_gpu.json or argv[1]).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <cmath>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "alloy/alloy.h"
#include "alloy/core/quantized.h"
#include "alloy/nn/losses.h"
#include "bench_report.h"

using namespace alloy;
using bench::Clock;

namespace {

void check(cudaError_t e) {
  if (e != cudaSuccess) throw std::runtime_error(cudaGetErrorString(e));
}

using bench::report;
using bench::time_median;

Stream gpu_stream() { return default_stream(Device::gpu); }
void finish(const array& a) {
  eval({a});
  synchronize(gpu_stream());
}

double copy_gbs(size_t bytes) {
  void *a, *b;
  check(cudaMalloc(&a, bytes));
  check(cudaMalloc(&b, bytes));
  check(cudaMemset(a, 1, bytes));
  double t = time_median([&] {
    check(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));
    check(cudaDeviceSynchronize());
  }, 20);
  cudaFree(a);
  cudaFree(b);
  return 2.0 * bytes / t / 1e9;
}

double copy_baseline = 0;  // GB/s of the device-to-device copy, measured in bench_bandwidth

void bench_bandwidth() {
  const int64_t n = int64_t(1) << 28;  // 1 GiB of float32
  double copy = copy_gbs(size_t(n) * 4);
  copy_baseline = copy;
  report("baseline", "device-to-device copy 1 GiB", copy, "GB/s", copy, "cudaMemcpy D2D");
  Device g = Device::gpu;
  array x = random::uniform({n}, float32, -1, 1, random::key(1), g);
  array y = random::uniform({n}, float32, -1, 1, random::key(2), g);
  finish(x), finish(y);
  double bytes = double(n) * 4;
  // Throughput: 5 results in flight per timed round, so the host round trip of one eval is
  // spread over them (per-op latency is measured separately below).
  auto gbs = [&](double moved, const std::function<array()>& fn) {
    double t = time_median([&] {
      std::vector<array> outs;
      for (int i = 0; i < 5; ++i) {
        outs.push_back(fn());
        async_eval({outs.back()});
      }
      eval(outs);
      synchronize(gpu_stream());
    }, 7);
    return moved * 5 / t / 1e9;
  };
  report("elementwise", "add, 256M float32", gbs(3 * bytes, [&] { return add(x, y, g); }), "GB/s", copy, "D2D copy");
  report("elementwise", "exp, 256M float32", gbs(2 * bytes, [&] { return exp(x, g); }), "GB/s", copy, "D2D copy");
  report("elementwise", "x * 2 + 1, 256M float32", gbs(2 * bytes, [&] { return x * 2.0f + 1.0f; }) * 2, "GB/s",
         copy, "D2D copy");
  array xb = astype(x, bfloat16, g), yb = astype(y, bfloat16, g);
  finish(xb), finish(yb);
  report("elementwise", "add, 256M bfloat16", gbs(1.5 * bytes, [&] { return add(xb, yb, g); }), "GB/s", copy,
         "D2D copy");
  report("elementwise", "astype f32->bf16", gbs(1.5 * bytes, [&] { return astype(x, bfloat16, g); }), "GB/s",
         copy, "D2D copy");
  report("elementwise", "transpose copy 16Kx16K", gbs(2 * bytes, [&] {
    return contiguous(transpose(reshape(x, {16384, 16384}, g), g), g); }), "GB/s", copy, "D2D copy");
  report("reduction", "sum, 256M float32", gbs(bytes, [&] { return sum(x, false, g); }), "GB/s", copy, "D2D copy");
  report("reduction", "max, 256M float32", gbs(bytes, [&] { return max(x, false, g); }), "GB/s", copy, "D2D copy");
  array m = reshape(x, {16384, 16384}, g);
  report("reduction", "sum of rows 16Kx16K", gbs(bytes, [&] { return sum(m, 1, false, g); }), "GB/s", copy,
         "D2D copy");
  report("reduction", "sum of columns 16Kx16K", gbs(bytes, [&] { return sum(m, 0, false, g); }), "GB/s", copy,
         "D2D copy");
  array s = reshape(x, {65536, 4096}, g);
  report("fused", "softmax 64Kx4096 float32", gbs(2 * bytes, [&] { return softmax(s, -1, g); }), "GB/s", copy,
         "D2D copy");
  report("fused", "rms_norm 64Kx4096 float32", gbs(2 * bytes, [&] {
    return fast::rms_norm(s, std::nullopt, 1e-5f, g); }), "GB/s", copy, "D2D copy");
}

// cuBLAS called directly on the same operands: row-major C = A B as column-major C^T = B^T A^T.
// Its device copies of A and B (so the baseline never touches alloy's buffers) and C are made
// once, before any timing: allocations and copies between timed rounds would let the card rest
// (and its clocks recover) before the baseline's rounds but not before alloy's.
struct CublasGemm {
  int64_t n;
  cudaDataType_t type;
  void *da = nullptr, *db = nullptr, *c = nullptr;
  CublasGemm(const array& a, const array& b, cudaDataType_t t, int64_t size) : n(size), type(t) {
    const size_t bytes = size_t(n * n) * 2;
    check(cudaMalloc(&da, bytes));
    check(cudaMalloc(&db, bytes));
    check(cudaMalloc(&c, bytes));
    check(cudaMemcpy(da, a.data<void>(), bytes, cudaMemcpyHostToDevice));
    check(cudaMemcpy(db, b.data<void>(), bytes, cudaMemcpyHostToDevice));
  }
  ~CublasGemm() {
    cudaFree(c);
    cudaFree(da);
    cudaFree(db);
  }
  double tflops(int per_round) const {
    static cublasHandle_t h = [] {
      cublasHandle_t x;
      cublasCreate(&x);
      return x;
    }();
    float alpha = 1, beta = 0;
    double t = time_median([&] {
      for (int i = 0; i < per_round; ++i) {
        cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, int(n), int(n), int(n), &alpha, db, type, int(n), da, type,
                     int(n), &beta, c, type, int(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
      }
      check(cudaDeviceSynchronize());
    }, 5) / per_round;
    return 2.0 * double(n) * n * n / t / 1e12;
  }
};

void bench_gemm() {
  Device g = Device::gpu;
  for (Dtype dt : {bfloat16, float16}) {
    for (int64_t n : {4096, 8192}) {
      array a = astype(random::normal({n, n}, float32, 0, 1, random::key(3), g), dt, g);
      array b = astype(random::normal({n, n}, float32, 0, 1, random::key(4), g), dt, g);
      finish(a), finish(b);
      // Alternate the two in rounds, each going first in turn, so clock changes hit both alike;
      // best round of each. A round is about 8 ms of products (50 at 4096, 10 at 8192), so that
      // alloy's one eval and wait per round (about 40 us) is under 1% of it; cuBLAS's are as long.
      const int per_round = int(std::max<int64_t>(10, (int64_t(50) << 36) / (n * n * n)));
      const CublasGemm base_gemm(a, b, dt == bfloat16 ? CUDA_R_16BF : CUDA_R_16F, n);
      auto ours_tflops = [&] {
        double t = time_median([&] {
          std::vector<array> outs;
          for (int i = 0; i < per_round; ++i) {
            outs.push_back(matmul(a, b, g));
            async_eval({outs.back()});
          }
          eval(outs);
          synchronize(gpu_stream());
        }, 5) / per_round;
        return 2.0 * double(n) * n * n / t / 1e12;
      };
      finish(matmul(a, b, g));  // the algorithm choice, once per problem, outside the timing
      double ours = 0, base = 0;
      for (int round = 0; round < 4; ++round) {
        if (round % 2 == 0) ours = std::max(ours, ours_tflops());
        base = std::max(base, base_gemm.tflops(per_round));
        if (round % 2 == 1) ours = std::max(ours, ours_tflops());
      }
      report("matmul", std::string(dtype_name(dt)) + " " + std::to_string(n), ours, "TFLOP/s", base,
             "cublasGemmEx");
    }
  }
  array a = random::normal({4096, 4096}, float32, 0, 1, random::key(5), g);
  finish(a);
  double t = time_median([&] { finish(matmul(a, a, g)); }, 10);
  report("matmul", "float32 4096 (no TF32)", 2.0 * 4096.0 * 4096 * 4096 / t / 1e12, "TFLOP/s",
         2.0 * 4096.0 * 4096 * 4096 / t / 1e12, "itself");
}

// Causal prefill and single-token decode, 32 query heads over 8 key/value heads, head dim 128,
// bfloat16 (the shapes of bench_gpu_torch.py's attention rows).
void bench_attention() {
  Device g = Device::gpu;
  for (auto [batch, seq] : {std::pair{1, 512}, std::pair{1, 4096}, std::pair{4, 2048}, std::pair{8, 1024},
                            std::pair{1, 8192}}) {
    auto make = [&](int64_t heads, int64_t t, uint64_t seed) {
      return astype(random::normal({batch, heads, t, 128}, float32, 0, 1, random::key(seed), g), bfloat16, g);
    };
    array q = make(32, seq, 6), k = make(8, seq, 7), v = make(8, seq, 8), q1 = make(32, 1, 9);
    finish(q), finish(k), finish(v), finish(q1);
    auto ms = [&](const std::function<array()>& fn) {
      return time_median([&] {
        std::vector<array> outs;
        for (int i = 0; i < 10; ++i) {
          outs.push_back(fn());
          async_eval({outs.back()});
        }
        eval(outs);
        synchronize(gpu_stream());
      }, 5) / 10 * 1e3;
    };
    float scale = 1.0f / std::sqrt(128.0f);
    std::string shape = "B=" + std::to_string(batch) + " T=" + std::to_string(seq);
    double prefill = ms([&] { return fast::scaled_dot_product_attention(q, k, v, scale, std::nullopt, true, g); });
    // Causal attention FLOPs: 2 GEMMs of 2*T*T*D per head, half of them masked away.
    double flops = 2.0 * 2.0 * batch * 32.0 * seq * seq * 128 / 2;
    report("attention", "prefill causal " + shape, prefill, "ms", prefill, "itself", true);
    std::printf("%-12s   (%.0f TFLOP/s)\n", "", flops / prefill / 1e9);
    double decode = ms([&] { return fast::scaled_dot_product_attention(q1, k, v, scale, std::nullopt, false, g); });
    double kv_bytes = 2.0 * batch * 8 * seq * 128 * 2;
    report("attention", "decode " + shape, decode, "ms", decode, "itself", true);
    std::printf("%-12s   (%.0f GB/s of K and V)\n", "", kv_bytes / decode / 1e6);
  }
}

// Cross entropy over GPT-2's vocabulary as a training step computes it: the mean loss over
// (16384, 50257) bfloat16 logits and its gradient, nn::losses::cross_entropy (the fused kernels)
// against the composition it used before (log_softmax, then nll_loss's gather and mean).
void bench_cross_entropy() {
  Device g = Device::gpu;
  const int64_t rows = 16384, classes = 50257;
  array x = astype(random::normal({rows, classes}, float32, 0, 2, random::key(40), g), bfloat16, g);
  array t = astype(random::uniform({rows}, float32, 0, double(classes) - 0.01, random::key(41), g), int32, g);
  finish(x), finish(t);
  auto ms = [&](const std::function<array(const array&)>& loss) {
    auto step = value_and_grad(loss);
    return time_median([&] {
      auto [l, dx] = step(x);
      eval({l, dx});
      synchronize(gpu_stream());
    }, 7) * 1e3;
  };
  double fused = ms([&](const array& a) { return nn::losses::cross_entropy(a, t); });
  double composed = ms([&](const array& a) { return nn::losses::nll_loss(log_softmax(a, -1, g), t); });
  report("fused", "cross_entropy fwd+bwd 16Kx50257 bf16", fused, "ms", composed, "log_softmax + nll_loss", true);
  // The fused kernels read the logits twice (loss, gradient) and write the gradient once.
  std::printf("%-12s   (%.0f GB/s of logits read twice and gradient written)\n", "",
              3.0 * double(rows) * double(classes) * 2 / fused / 1e6);
}

void bench_overhead() {
  Device g = Device::gpu;
  array y = zeros({1}, float32, g);
  finish(y);
  const int ops = 2000;
  double eager = time_median([&] {
    array z = y;
    for (int i = 0; i < ops; ++i) {
      z = add(z, array(1.0f), g);
      eval({z});
    }
    synchronize(gpu_stream());
  }, 5) / ops * 1e6;
  double lazy = time_median([&] {
    array z = y;
    for (int i = 0; i < ops; ++i) z = add(z, array(1.0f), g);
    finish(z);
  }, 5) / ops * 1e6;
  double queued = time_median([&] {
    array z = y;
    for (int i = 0; i < ops; ++i) {
      z = add(z, array(1.0f), g);
      async_eval({z});
    }
    finish(z);
  }, 5) / ops * 1e6;
  report("overhead", "eager tiny op (eval each)", eager, "us/op", eager, "itself", true);
  report("overhead", "tiny op, async_eval each", queued, "us/op", eager, "eval each", true);
  report("overhead", "lazy tiny op (one eval)", lazy, "us/op", eager, "eager", true);
}

void bench_crossing() {
  for (int64_t mb : {1, 1024}) {
    int64_t n = mb * (1 << 20) / 4;
    std::vector<float> host(size_t(n), 1.5f);
    void* d;
    check(cudaMalloc(&d, size_t(n) * 4));
    double base = time_median([&] {
      check(cudaMemcpy(d, host.data(), size_t(n) * 4, cudaMemcpyHostToDevice));
    }, 5);
    // Each repetition crosses a fresh CPU array (made outside the timed region) by its first GPU
    // use; blocks freed by the previous repetition are back in the caches, as in steady use.
    auto timed_reps = [](const std::function<void()>& setup, const std::function<void()>& fn) {
      std::vector<double> t;
      for (int i = 0; i < 6; ++i) {
        setup();
        auto t0 = Clock::now();
        fn();
        if (i > 0) t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      }
      std::sort(t.begin(), t.end());
      return t[t.size() / 2];
    };
    std::optional<array> fresh;
    double ours = timed_reps([&] { fresh.reset(); fresh.emplace(host.data(), Shape{n}); },
                             [&] { finish(negative(*fresh, Device::gpu)); });
    fresh.reset();
    report("crossing", "CPU->GPU first use " + std::to_string(mb) + " MB", ours * 1e3, "ms", base * 1e3,
           "cudaMemcpy H2D", true);
    double base_back = time_median([&] {
      check(cudaMemcpy(host.data(), d, size_t(n) * 4, cudaMemcpyDeviceToHost));
    }, 5);
    double back = timed_reps(
        [&] {
          fresh.reset();
          fresh.emplace(full({n}, array(2.0f), Device::gpu));
          finish(*fresh);
        },
        [&] {
          volatile float v = fresh->data<float>()[n - 1];
          (void)v;
        });
    fresh.reset();
    report("crossing", "GPU->CPU first read " + std::to_string(mb) + " MB", back * 1e3, "ms", base_back * 1e3,
           "cudaMemcpy D2H", true);
    cudaFree(d);
  }
}

// Decode-time matmuls of a 7B model's layers: x (M, K) float16 @ W^T with W (N, K) quantized
// (the MLP's up and down projections), reported as GB/s of weights read against the copy.
void bench_quantized() {
  Device g = Device::gpu;
  if (copy_baseline == 0) copy_baseline = copy_gbs(size_t(1) << 30);
  for (quant::Type t : {quant::Type::Q4_0, quant::Type::Q8_0}) {
    for (auto [N, K] : {std::pair<int64_t, int64_t>{14336, 4096}, std::pair<int64_t, int64_t>{4096, 14336}}) {
      // Weights: rows of normal values quantized once (one random row repeated, shifted per row).
      const size_t rb = quant::row_bytes(t, K);
      std::vector<float> row(size_t(K) + 64);
      std::mt19937 rng(5);
      std::normal_distribution<float> nd;
      for (auto& v : row) v = nd(rng);
      std::vector<uint8_t> bytes(rb * size_t(N));
      for (int64_t n = 0; n < N; ++n) quant::quantize_row(t, row.data() + n % 64, bytes.data() + size_t(n) * rb, K);
      array w = array(bytes, {N, int64_t(rb)});
      array wg = contiguous(w, g);  // GPU-resident
      finish(wg);
      for (int64_t M : {1, 8}) {
        array x = astype(random::normal({M, K}, float32, 0, 1, random::key(11), g), float16, g);
        finish(x);
        // 20 products in flight per timed round, so the host's per-op cost overlaps the GPU's.
        double t_one = time_median([&] {
          std::vector<array> outs;
          for (int i = 0; i < 20; ++i) {
            outs.push_back(quantized_matmul(x, wg, t, g));
            async_eval({outs.back()});
          }
          eval(outs);
          synchronize(gpu_stream());
        }, 7) / 20;
        report("quantized", std::string(quant::name(t)) + " matvec M=" + std::to_string(M) + " " +
                   std::to_string(N) + "x" + std::to_string(K),
               double(rb) * N / t_one / 1e9, "GB/s", copy_baseline, "D2D copy");
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (!gpu_available()) {
    std::printf("bench_gpu: no usable GPU\n");
    return 0;
  }
  // bench_gpu [OUT.json [SECTION]]: SECTION runs one group (bandwidth, gemm, quantized, ...).
  const std::string only = argc > 2 ? argv[2] : "";
  bench::print_header();
  const std::pair<const char*, void (*)()> sections[] = {
      {"bandwidth", bench_bandwidth}, {"gemm", bench_gemm},         {"quantized", bench_quantized},
      {"attention", bench_attention}, {"cross_entropy", bench_cross_entropy}, {"overhead", bench_overhead},
      {"crossing", bench_crossing}};
  for (const auto& [name, run] : sections)
    if (only.empty() || only == name) run();
  bench::write_json(argc > 1 ? argv[1] : "bench_gpu.json");
}
