// CPU quantized matmul at the layer shapes of a 1B LLM (dim 2048, ffn 8192), next to OpenBLAS
// float32 on the same shapes in the same run: M = 1 (decode, matrix-vector) in GB/s of weights
// read, M = 128 and 512 (prompt processing) in GFLOP/s (2 M N K per call). Matvec weights are
// cycled through copies totalling 512 MB, so every call reads them from DRAM as decode does;
// the floor is the bytes over the measured read bandwidth (the first row). Prints the table
// and writes JSON (bench_quant_dot.json, or the path given as the first argument).
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "alloy/backend/cpu/quant_dot.h"
#include "alloy/backend/cpu/threading.h"
#include "alloy/core/half.h"
#include "alloy/core/quant_formats.h"
#include "bench_report.h"

using namespace alloy;
using alloy::quant::Type;

namespace {

using bench::report;
using bench::time_median;

constexpr size_t kColdBytes = size_t(512) << 20;

struct Shape {
  int64_t N, K;
  const char* what;
};
const Shape kShapes[] = {{2048, 2048, "attn q/o"}, {8192, 2048, "ffn up/gate"}, {2048, 8192, "ffn down"}};
const Type kTypes[] = {Type::Q4_0, Type::Q8_0, Type::Q4_K, Type::Q5_K, Type::Q6_K};

// Random blocks with small fp16 scales (any bytes are valid values of these formats).
std::vector<uint8_t> random_weights(Type t, int64_t N, int64_t K) {
  std::mt19937 rng(1);
  const size_t rb = quant::row_bytes(t, K);
  const quant::Format& f = quant::format(t);
  std::vector<uint8_t> w(rb * size_t(N));
  for (auto& b : w) b = uint8_t(rng());
  uint16_t h = detail::float_to_half_bits(0.01f);
  for (size_t off = 0; off < w.size(); off += size_t(f.block_bytes)) {
    size_t at = t == Type::Q6_K ? off + offsetof(quant::block_q6_K, d) : off;
    std::memcpy(&w[at], &h, 2);
    if (t == Type::Q4_K || t == Type::Q5_K) std::memcpy(&w[at + 2], &h, 2);
  }
  return w;
}

std::vector<float> random_floats(size_t n) {
  std::mt19937 rng(2);
  std::normal_distribution<float> nd;
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// Read bandwidth of all threads over a buffer much larger than the caches.
double read_gbs() {
  std::vector<uint8_t> buf(kColdBytes, 1);
  std::atomic<uint64_t> total{0};  // keeps the loads live
  double t = time_median([&] {
    cpu::parallel_for(int64_t(buf.size() / 64), 1 << 16, [&](int64_t s, int64_t e) {
      uint64_t acc = 0;
      for (int64_t i = s; i < e; ++i) {  // one load per 64-byte line: the line is what moves
        uint64_t v;
        std::memcpy(&v, &buf[size_t(i) * 64], 8);
        acc += v;
      }
      total += acc;
    });
  }, 5);
  return double(kColdBytes) / t / 1e9;
}

// Seconds per call of fn(copy) cycled over `copies` copies (1 when they stay in cache).
template <typename Fn>
double per_call(int copies, int reps, Fn fn) {
  return time_median([&] {
    for (int c = 0; c < copies; ++c) fn(c);
  }, reps) / copies;
}

void bench_matvec(const Shape& s) {
  std::vector<float> x = random_floats(size_t(s.K)), y(size_t(s.N));
  // Baseline: sgemv on float32 weights, cycled likewise.
  const size_t fbytes = size_t(s.N * s.K) * 4;
  const int fcopies = int(std::max<size_t>(1, kColdBytes / fbytes));
  std::vector<float> wf = random_floats(size_t(s.N * s.K) * size_t(fcopies));
  double tf = per_call(fcopies, 5, [&](int c) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, int(s.N), int(s.K), 1.f, wf.data() + size_t(c) * s.N * s.K, int(s.K),
                x.data(), 1, 0.f, y.data(), 1);
  });
  double blas_gbs = double(fbytes) / tf / 1e9;
  for (Type t : kTypes) {
    std::vector<uint8_t> one = random_weights(t, s.N, s.K);
    const int copies = int(std::max<size_t>(1, kColdBytes / one.size()));
    std::vector<uint8_t> w(one.size() * size_t(copies));
    for (int c = 0; c < copies; ++c) std::memcpy(w.data() + size_t(c) * one.size(), one.data(), one.size());
    double tq = per_call(copies, 5, [&](int c) {
      cpu::quant::quantized_matmul(t, x.data(), 1, s.K, w.data() + size_t(c) * one.size(), s.N, y.data());
    });
    char name[96];
    std::snprintf(name, sizeof name, "%s M=1 N=%ld K=%ld (%.1f us)", quant::name(t), long(s.N), long(s.K), tq * 1e6);
    report("matvec", name, double(one.size()) / tq / 1e9, "GB/s", blas_gbs, "OpenBLAS sgemv f32");
  }
}

void bench_matmul(const Shape& s, int64_t M) {
  std::vector<float> x = random_floats(size_t(M * s.K)), y(size_t(M * s.N));
  std::vector<float> wf = random_floats(size_t(s.N * s.K));
  const double flop = 2.0 * double(M) * double(s.N) * double(s.K);
  double tf = time_median([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(s.N), int(s.K), 1.f, x.data(), int(s.K),
                wf.data(), int(s.K), 0.f, y.data(), int(s.N));
  }, 5);
  for (Type t : kTypes) {
    std::vector<uint8_t> w = random_weights(t, s.N, s.K);
    double tq = time_median([&] { cpu::quant::quantized_matmul(t, x.data(), M, s.K, w.data(), s.N, y.data()); }, 5);
    char name[96];
    std::snprintf(name, sizeof name, "%s M=%ld N=%ld K=%ld", quant::name(t), long(M), long(s.N), long(s.K));
    report("matmul", name, flop / tq / 1e9, "GFLOP/s", flop / tf / 1e9, "OpenBLAS sgemm f32");
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::printf("threads: %d\n", cpu::num_threads());
  bench::print_header();
  double bw = read_gbs();
  report("memory", "read 512 MB, all threads", bw, "GB/s", bw, "itself: the matvec floor");
  for (const Shape& s : kShapes) bench_matvec(s);
  for (int64_t M : {128, 512})
    for (const Shape& s : kShapes) bench_matmul(s, M);
  bench::write_json(argc > 1 ? argv[1] : "bench_quant_dot.json");
  return 0;
}
