// The quantized ops on the GPU (backend/cuda/quantized.cu) for the five types with kernels.
// Weights are random normal rows quantized with quant::quantize_row, plus, for dequantize,
// random blocks (every bit pattern of values, scales and mins, small fp16 scales).
//
// quantized_matmul: the CPU quantizes the activations to 8 bits; so does the GPU for M <= 8,
// with the same scales and integers, so there the two agree to float rounding (the order of
// the float sums). For M > 8 the GPU multiplies the dequantized weights in x's dtype (cuBLASLt).
// Both are also compared with a float64 reference on the dequantized weights (and x as given).
// dequantize: GPU and CPU results are bitwise equal in every output dtype.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>

#include "alloy/core/fast.h"
#include "alloy/core/half.h"
#include "alloy/core/quantized.h"
#include "gpu_test_util.h"

namespace alloy::test {
namespace {

using quant::Type;
const Type kTypes[] = {Type::Q4_0, Type::Q8_0, Type::Q4_K, Type::Q5_K, Type::Q6_K};

// Error bounds of quantized_matmul (scaled_error below; the CPU measures about 5.5e-3 for
// Q4_0/Q8_0 and 7.3e-3 for the K types against the reference, from its 8-bit activations).
constexpr double kActQuantBound = 1.5e-2;  // 8-bit activations vs the float64 reference
constexpr double kSameMethodF32 = 1e-5;    // GPU vs CPU, both with 8-bit activations, float32 out
constexpr double kSameMethodF16 = 2e-3;    // the same rounded to float16 (an ulp apart at most)
constexpr double kGemmF32 = 2e-5;          // GPU dequantize + float32 GEMM vs the reference
constexpr double kGemmF16 = 2e-3;          // weights rounded to float16, float16 out
constexpr double kGemmBF16 = 1.5e-2;       // weights rounded to bfloat16, bfloat16 out

struct Weights {
  array w;                // (N, row_bytes) uint8, CPU-resident
  std::vector<float> wd;  // (N, K), dequantized on the CPU
};

// (n, k) normal values quantized row by row (cached: the K-type quantizers are slow).
const Weights& quantized_weights(Type t, int64_t n, int64_t k) {
  static std::map<std::tuple<int, int64_t, int64_t>, Weights> cache;
  auto key = std::make_tuple(int(t), n, k);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::mt19937 rng(uint32_t(1000 * int(t) + k));
  std::normal_distribution<float> nd;
  const size_t rb = quant::row_bytes(t, k);
  std::vector<float> row(static_cast<size_t>(k));
  std::vector<uint8_t> bytes(rb * size_t(n));
  std::vector<float> wd(size_t(n * k));
  for (int64_t r = 0; r < n; ++r) {
    for (auto& v : row) v = nd(rng);
    quant::quantize_row(t, row.data(), bytes.data() + size_t(r) * rb, k);
    quant::dequantize_row(t, bytes.data() + size_t(r) * rb, wd.data() + r * k, k);
  }
  Weights out{array(bytes, {n, int64_t(rb)}), std::move(wd)};
  eval({out.w});
  return cache.emplace(key, std::move(out)).first->second;
}

// Random blocks: random bytes with each block's fp16 scale fields set to small finite values.
std::vector<uint8_t> random_blocks(Type t, int64_t n, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  const quant::Format& f = quant::format(t);
  const size_t rb = quant::row_bytes(t, k);
  std::vector<uint8_t> w(rb * size_t(n));
  for (auto& b : w) b = uint8_t(rng());
  std::uniform_real_distribution<float> scale(-0.02f, 0.02f);
  auto put_half = [](uint8_t* p, float v) {
    uint16_t h = detail::float_to_half_bits(v);
    std::memcpy(p, &h, 2);
  };
  for (size_t b = 0; b < w.size() / size_t(f.block_bytes); ++b) {
    uint8_t* blk = w.data() + b * size_t(f.block_bytes);
    if (t == Type::Q6_K) {
      put_half(blk + offsetof(quant::block_q6_K, d), scale(rng));
    } else {
      put_half(blk, scale(rng));
      if (t == Type::Q4_K || t == Type::Q5_K) put_half(blk + 2, scale(rng));
    }
  }
  return w;
}

// Errors are normalized by the expected size of the products, not by the results themselves
// (which for a few outputs may cancel to near zero): sqrt(sum (a - b)^2 / sum |x_m|^2 |w_n|^2 / K)
// over the (m, n) compared, b[m, j] the value at column cols[j] (all N columns when cols is empty).
double scaled_error(const std::vector<double>& a, const std::vector<double>& b, int64_t M, int64_t N,
                    const std::vector<int64_t>& cols, const std::vector<double>& x_norm2,
                    const std::vector<double>& w_norm2, int64_t K) {
  const int64_t nc = cols.empty() ? N : int64_t(cols.size());
  double num = 0, den = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t j = 0; j < nc; ++j) {
      const int64_t n = cols.empty() ? j : cols[size_t(j)];
      const double v = a[size_t(m * N + n)], r = b[size_t(m * nc + j)];
      if (!std::isfinite(v)) return INFINITY;
      num += (v - r) * (v - r);
      den += x_norm2[size_t(m)] * w_norm2[size_t(n)] / double(K);
    }
  return std::sqrt(num / den);
}

std::string case_name(Type t, Dtype d, int64_t M, int64_t K, int64_t N) {
  return std::string(quant::name(t)) + " " + dtype_name(d) + " M=" + std::to_string(M) + " K=" + std::to_string(K) +
         " N=" + std::to_string(N);
}

// One case: GPU and CPU quantized_matmul of the same inputs, each against the reference.
void check_matmul(Type t, Dtype dt, int64_t M, int64_t K, int64_t N) {
  const Weights& full = quantized_weights(t, std::max<int64_t>(4096, N), K);
  const int64_t rb = full.w.shape(1);
  array w = N == full.w.shape(0) ? full.w : slice(full.w, {0, 0}, {N, rb}, Device::cpu);
  std::mt19937 rng(uint32_t(M * 7919 + K * 31 + N));
  std::normal_distribution<float> nd;
  std::vector<float> xv(size_t(M * K));
  for (auto& v : xv) v = nd(rng);
  array x = astype(array(xv, {M, K}), dt, Device::cpu);
  eval({x});
  std::vector<double> xd = x.to_vector<double>();  // the values as given (rounded to dt)

  array gpu = quantized_matmul(x, w, t, Device::gpu);
  array cpu = quantized_matmul(x, w, t, Device::cpu);
  eval({gpu, cpu});
  const std::string what = case_name(t, dt, M, K, N);
  ASSERT_EQ(gpu.shape(), (alloy::Shape{M, N})) << what;
  ASSERT_EQ(gpu.dtype(), dt) << what;
  std::vector<double> g = gpu.to_vector<double>(), c = cpu.to_vector<double>();

  // The float64 reference on at most 64 columns (the last one included).
  std::vector<int64_t> cols;
  const int64_t step = std::max<int64_t>(1, N / 64);
  for (int64_t n = 0; n < N; n += step) cols.push_back(n);
  if (cols.back() != N - 1) cols.push_back(N - 1);
  std::vector<double> ref(size_t(M) * cols.size());
  for (int64_t m = 0; m < M; ++m)
    for (size_t j = 0; j < cols.size(); ++j) {
      const float* wr = full.wd.data() + cols[j] * K;
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += xd[size_t(m * K + k)] * double(wr[k]);
      ref[size_t(m) * cols.size() + j] = s;
    }

  std::vector<double> x_norm2(size_t(M), 0.0), w_norm2(size_t(N), 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) x_norm2[size_t(m)] += xd[size_t(m * K + k)] * xd[size_t(m * K + k)];
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) w_norm2[size_t(n)] += double(full.wd[size_t(n * K + k)]) * full.wd[size_t(n * K + k)];
  auto vs_ref = [&](const std::vector<double>& v) { return scaled_error(v, ref, M, N, cols, x_norm2, w_norm2, K); };
  const double cpu_err = vs_ref(c), gpu_err = vs_ref(g);
  const double gpu_cpu = scaled_error(g, c, M, N, {}, x_norm2, w_norm2, K);
  EXPECT_LE(cpu_err, kActQuantBound) << what << ": CPU vs float64 reference";
  if (M <= 8) {
    // Same 8-bit activations as the CPU: the same integer dot products.
    EXPECT_LE(gpu_err, kActQuantBound) << what << ": GPU vs float64 reference";
    const double same = dt == float32 ? kSameMethodF32 : dt == float16 ? kSameMethodF16 : parity_bound(dt);
    EXPECT_LE(gpu_cpu, same) << what << ": GPU vs CPU";
  } else {
    const double bound = dt == float32 ? kGemmF32 : dt == float16 ? kGemmF16 : kGemmBF16;
    EXPECT_LE(gpu_err, bound) << what << ": GPU (dequantize + GEMM) vs float64 reference";
    EXPECT_LE(gpu_cpu, kActQuantBound) << what << ": GPU vs CPU";
  }
}

TEST(GpuQuantized, MatmulMatchesCpuAndReference) {
  ALLOY_REQUIRE_GPU();
  for (Type t : kTypes)
    for (int64_t K : {256, 2048, 4096 + 256})
      for (int64_t N : {1, 33, 4096})
        for (int64_t M : {1, 3, 8, 17, 128})
          for (Dtype dt : {float32, float16}) check_matmul(t, dt, M, K, N);
}

// The streamed one-row kernel (M = 1, Q4_0 and Q8_0, K a multiple of 256): fewer rows than the
// grid's warps (7), many rows a warp (20000) with a part slab at each row's end (2304 = 72
// blocks: Q8_0 takes 64 + 8, Q4_0 one slab of 72), and the 14336-wide rows of a 7B model's down
// projection (several slabs a row, Q4_0's last one part). Rows of 3 blocks (every start
// offset) take the warp-per-row kernel.
TEST(GpuQuantized, MatvecOneRow) {
  ALLOY_REQUIRE_GPU();
  for (Type t : {Type::Q4_0, Type::Q8_0})
    for (auto [K, N] : {std::pair<int64_t, int64_t>{96, 7}, {96, 20000}, {256, 7}, {2304, 20000}, {14336, 515}})
      for (Dtype dt : {float32, float16, bfloat16}) check_matmul(t, dt, 1, K, N);
}

// Weights written on the GPU by the kernel just before the one-row matvec: slice_update_at's
// kernel is a dependent launch too, so the matvec may start while it runs, and must then wait
// before its first weight loads (which it issues early for weights complete at launch).
TEST(GpuQuantized, MatvecWaitsForWeightsWrittenJustBefore) {
  ALLOY_REQUIRE_GPU();
  for (Type t : {Type::Q4_0, Type::Q8_0}) {
    const int64_t K = 4096, N = 14336;
    const Weights& full = quantized_weights(t, N, K);
    array x = astype(random::normal({1, K}, float32, 0, 1, random::key(77), Device::gpu), float16, Device::gpu);
    array blank = zeros(full.w.shape(), uint8, Device::gpu);
    array start = copy(array(std::vector<int32_t>{0}, {1}), Device::gpu);
    array w_bytes = copy(full.w, Device::gpu);
    eval({x, blank, start, w_bytes});  // so that nothing but the update runs between the two kernels
    for (int rep = 0; rep < 3; ++rep) {
      array w = slice_update_at(blank, w_bytes, start, {0}, Device::gpu);
      array gpu = quantized_matmul(x, w, t, Device::gpu);
      array cpu = quantized_matmul(x, full.w, t, Device::cpu);
      eval({gpu, cpu});
      EXPECT_LE(normalized_error(gpu, cpu), kSameMethodF16) << quant::name(t) << " repetition " << rep;
    }
  }
}

TEST(GpuQuantized, MatmulBfloat16) {
  ALLOY_REQUIRE_GPU();
  for (Type t : kTypes)
    for (int64_t M : {1, 5, 17}) check_matmul(t, bfloat16, M, 2048, 33);
}

// x with leading batch dims and a transposed layout; weights whose buffer starts at an odd
// byte (a view), which the kernels must copy before their aligned loads.
TEST(GpuQuantized, MatmulLayouts) {
  ALLOY_REQUIRE_GPU();
  for (Type t : kTypes) {
    const int64_t K = 512, N = 40;
    const size_t rb = quant::row_bytes(t, K);
    std::vector<uint8_t> bytes = random_blocks(t, N, K, 11);
    bytes.insert(bytes.begin(), uint8_t(0));
    array flat = array(bytes, {int64_t(bytes.size())});
    array w = reshape(slice(flat, {1}, {int64_t(bytes.size())}, Device::cpu), {N, int64_t(rb)}, Device::cpu);
    for (int64_t M : {1, 2, 24}) {
      array xt = random::normal({K, M}, float32, 0, 1, random::key(uint64_t(M)), Device::cpu);
      array x = reshape(transpose(xt, Device::cpu), {1, M, K}, Device::cpu);  // (1, M, K), a copy or view
      array x2 = transpose(xt, Device::cpu);                                    // (M, K) transposed view
      for (const array& xi : {x, x2}) {
        array gpu = quantized_matmul(xi, w, t, Device::gpu);
        array cpu = quantized_matmul(xi, w, t, Device::cpu);
        eval({gpu, cpu});
        ASSERT_EQ(gpu.shape(), cpu.shape());
        EXPECT_LE(normalized_error(gpu, cpu), M <= 8 ? kSameMethodF32 : kActQuantBound)
            << quant::name(t) << " M=" << M << " ndim=" << xi.ndim();
      }
    }
  }
}

void expect_bitwise_equal(const array& gpu, const array& cpu, const std::string& what) {
  ASSERT_EQ(gpu.shape(), cpu.shape()) << what;
  ASSERT_EQ(gpu.dtype(), cpu.dtype()) << what;
  array g = contiguous(gpu, Device::cpu), c = contiguous(cpu, Device::cpu);
  eval({g, c});
  ASSERT_EQ(g.nbytes(), c.nbytes()) << what;
  const auto* gp = static_cast<const uint8_t*>(g.raw_data_ptr());
  const auto* cp = static_cast<const uint8_t*>(c.raw_data_ptr());
  const size_t item = size_of(g.dtype());
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (std::memcmp(gp + i * item, cp + i * item, item) != 0 && bad++ == 0) first = i;
  EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << g.size() << " values differ, the first at flat index "
                     << first;
}

// quantized_matmul_swiglu: a single row of Q4_0/Q8_0 runs as one kernel (each warp's output
// takes its gate row, then its up row), everything else as the matmul then SwiGLU over the
// halves. Either way it is bitwise fast::swiglu of the GPU's own quantized_matmul halves, and
// close to the CPU's. Shapes: fewer outputs than warps, the 1B's gate/up (F 8192), rows of
// several slabs (K 14336), and the batched path.
TEST(GpuQuantized, MatmulSwigluIsSwigluOfTheHalves) {
  ALLOY_REQUIRE_GPU();
  for (Type t : {Type::Q4_0, Type::Q8_0, Type::Q4_K})
    for (auto [M, K, F] : {std::tuple<int64_t, int64_t, int64_t>{1, 256, 7}, {1, 2048, 8192}, {1, 14336, 300},
                           {3, 2048, 100}})
      for (Dtype dt : {float32, float16, bfloat16}) {
        const Weights& full = quantized_weights(t, 2 * F, K);
        array x = astype(random::normal({1, M, K}, float32, 0, 1, random::key(uint64_t(K + F)), Device::cpu), dt,
                         Device::cpu);
        array fused = quantized_matmul_swiglu(x, full.w, t, Device::gpu);
        array gu = quantized_matmul(x, full.w, t, Device::gpu);
        array gate = slice(gu, {0, 0, 0}, {1, M, F}, Device::gpu), up = slice(gu, {0, 0, F}, {1, M, 2 * F}, Device::gpu);
        array composed = fast::swiglu(gate, up, Device::gpu);
        array cpu = quantized_matmul_swiglu(x, full.w, t, Device::cpu);
        eval({fused, composed, cpu});
        const std::string what = case_name(t, dt, M, K, F) + " (swiglu)";
        expect_bitwise_equal(fused, composed, what);
        const double bound = dt == float32 ? 1e-4 : dt == float16 ? 5e-3 : 3e-2;
        EXPECT_LE(normalized_error(fused, cpu), bound) << what << ": GPU vs CPU";
      }
}

TEST(GpuQuantized, DequantizeIsBitwiseTheCpus) {
  ALLOY_REQUIRE_GPU();
  for (Type t : kTypes) {
    for (int64_t K : {256, 4096 + 256}) {
      const int64_t N = 33;
      const int64_t rb = int64_t(quant::row_bytes(t, K));
      array normal = quantized_weights(t, 4096, K).w;
      array blocks = array(random_blocks(t, N, K, uint32_t(K) + 5), {N, rb});
      for (auto& [kind, w] : {std::pair{std::string("quantized rows"), slice(normal, {0, 0}, {N, rb}, Device::cpu)},
                              std::pair{std::string("random blocks"), blocks}}) {
        for (Dtype dt : {float32, float16, bfloat16}) {
          std::string what = std::string(quant::name(t)) + " " + kind + " K=" + std::to_string(K) + " " + dtype_name(dt);
          expect_bitwise_equal(dequantize(w, t, dt, Device::gpu), dequantize(w, t, dt, Device::cpu), what);
        }
        // Strided rows (every third), gathered rows (an embedding lookup) and a 3-d batch.
        array rows = slice(w, {1, 0}, {N, rb}, {3, 1}, Device::cpu);
        expect_bitwise_equal(dequantize(rows, t, float32, Device::gpu), dequantize(rows, t, float32, Device::cpu),
                             std::string(quant::name(t)) + " " + kind + " strided rows");
        array picked = take(w, array({7, 0, 32, 7, 19}), 0, Device::cpu);
        expect_bitwise_equal(dequantize(picked, t, bfloat16, Device::gpu),
                             dequantize(picked, t, bfloat16, Device::cpu),
                             std::string(quant::name(t)) + " " + kind + " gathered rows");
        array batch = reshape(slice(w, {0, 0}, {32, rb}, Device::cpu), {2, 16, rb}, Device::cpu);
        expect_bitwise_equal(dequantize(batch, t, float16, Device::gpu), dequantize(batch, t, float16, Device::cpu),
                             std::string(quant::name(t)) + " " + kind + " 3-d");
      }
    }
  }
}

// quantize() to Q8_0 (the KV cache's blocks) gives the CPU's bytes, from every float dtype.
TEST(GpuQuantized, QuantizeQ8_0IsBitwiseTheCpus) {
  ALLOY_REQUIRE_GPU();
  for (Dtype dt : {float32, float16, bfloat16}) {
    array x = astype(random::normal({2, 8, 37, 128}, float32, 0, 3, random::key(9), Device::cpu), dt, Device::cpu);
    expect_bitwise_equal(quantize(x, Type::Q8_0, Device::gpu), quantize(x, Type::Q8_0, Device::cpu),
                         std::string("quantize Q8_0 from ") + dtype_name(dt));
  }
  array zeros_row = zeros({3, 64}, float32, Device::cpu);  // d = 0: every value 0
  expect_bitwise_equal(quantize(zeros_row, Type::Q8_0, Device::gpu), quantize(zeros_row, Type::Q8_0, Device::cpu),
                       "quantize Q8_0 zeros");
}

// The five types in every GPU dtype, both matmul paths and dequantize, without the CPU.
void run_every_kernel() {
  for (Type t : kTypes) {
    const int64_t K = 256, N = 8;
    array w = array(random_blocks(t, N, K, 3), {N, int64_t(quant::row_bytes(t, K))});
    for (Dtype dt : {float32, float16, bfloat16}) {
      for (int64_t M : {1, 9}) {
        array x = astype(random::normal({M, K}, float32, 0, 1, random::key(1), Device::cpu), dt, Device::cpu);
        eval({quantized_matmul(x, w, t, Device::gpu)});
      }
      eval({dequantize(w, t, dt, Device::gpu)});
    }
  }
}

uint64_t quantized_fallbacks() {
  uint64_t n = 0;
  for (auto& [name, c] : gpu_fallback_counts())
    if (name == "quantized_matmul" || name == "dequantize") n += c;
  return n;
}

TEST(GpuQuantized, NoCpuFallback) {
  ALLOY_REQUIRE_GPU();
  uint64_t before = quantized_fallbacks();
  run_every_kernel();
  EXPECT_EQ(quantized_fallbacks(), before);
}

TEST(GpuQuantized, FallbackErrorMode) {
  ALLOY_REQUIRE_GPU();
  if (std::getenv("ALLOY_TEST_CHILD")) GTEST_SKIP() << "child process";
  // The fallback mode is read once per process: run the kernels in a child of this binary.
  char self[4096] = {};
  ASSERT_GT(readlink("/proc/self/exe", self, sizeof(self) - 1), 0);
  std::string cmd = std::string("ALLOY_TEST_CHILD=1 ALLOY_GPU_FALLBACK=error ") + self +
                    " --gtest_filter=GpuQuantized.FallbackErrorChild > /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "a quantized op fell back to the CPU under ALLOY_GPU_FALLBACK=error";
}

TEST(GpuQuantized, FallbackErrorChild) {
  if (!std::getenv("ALLOY_TEST_CHILD")) GTEST_SKIP() << "runs only as FallbackErrorMode's child";
  run_every_kernel();
}

}  // namespace
}  // namespace alloy::test
