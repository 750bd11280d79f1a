// GEMM on the GPU through cuBLASLt. Row-major C (M, N) = A (M, K) @ B (K, N) is computed as the
// column-major product C^T = B^T A^T, so a row-major operand is passed untransposed and a
// transposed view (unit stride on the row axis) as a transpose, both without copies. Batch dims
// that collapse to one stride per operand (broadcast batches included) become one strided
// batched call; other layouts are copied first. float32 runs in full precision unless
// ALLOY_MATMUL_TF32=1; float16/bfloat16 accumulate in float32. AddMM adds a broadcast row
// vector through the bias epilogue, and any other c through beta.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <tuple>

#include "alloy/backend/common/collapse.h"
#include "alloy/backend/common/matrix_layout.h"
#include "alloy/backend/cuda/cublaslt_api.h"
#include "alloy/backend/cuda/cuda_utils.h"

namespace alloy {
namespace {

void check_blas(cublasStatus_t st, const char* what) {
  if (st != CUBLAS_STATUS_SUCCESS) {
    throw std::runtime_error(std::string("[matmul] cuBLASLt ") + what + " failed with status " +
                             std::to_string(int(st)));
  }
}

cublasLtHandle_t handle() {
  static cublasLtHandle_t h = [] {
    cublasLtHandle_t x;
    check_blas(cuda::cublaslt().create(&x), "create");
    return x;
  }();
  return h;
}

bool tf32_enabled() {
  static bool on = [] {
    const char* e = std::getenv("ALLOY_MATMUL_TF32");
    return e && std::string(e) == "1";
  }();
  return on;
}

// One stride per operand over all batch dims (C is dense), or nullopt.
std::optional<std::pair<int64_t, int64_t>> batch_strides(const array& a, const array& b, int64_t batch) {
  if (batch == 1) return std::make_pair(int64_t(0), int64_t(0));
  int nb = a.ndim() - 2;
  Shape shape(a.shape().begin(), a.shape().begin() + nb);
  Strides sa(a.strides().begin(), a.strides().begin() + nb);
  Strides sb(b.strides().begin(), b.strides().begin() + nb);
  Strides sc = row_major_strides(shape);
  auto [cs, cst] = collapse_dims<3>(shape, {sa, sb, sc});
  if (cs.size() != 1) return std::nullopt;
  return std::make_pair(cst[0][0], cst[1][0]);
}

struct Types {
  cudaDataType_t data;
  cublasComputeType_t compute;
  cudaDataType_t scale;
};
std::optional<Types> types_of(Dtype d) {
  switch (d) {
    case Dtype::float32:
      return Types{CUDA_R_32F, tf32_enabled() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUDA_R_32F};
    case Dtype::float16: return Types{CUDA_R_16F, CUBLAS_COMPUTE_32F, CUDA_R_32F};
    case Dtype::bfloat16: return Types{CUDA_R_16BF, CUBLAS_COMPUTE_32F, CUDA_R_32F};
    case Dtype::float64: return Types{CUDA_R_64F, CUBLAS_COMPUTE_64F, CUDA_R_64F};
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      return std::nullopt;
  }
  return std::nullopt;
}

constexpr size_t kWorkspace = size_t(32) << 20;

// The best algorithm for a problem, found once per distinct problem.
using PlanKey = std::tuple<int, int, int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                           int64_t, int64_t, int64_t, int64_t, bool>;
std::mutex& plan_mutex() {
  static auto* m = new std::mutex();
  return *m;
}
std::map<PlanKey, cublasLtMatmulAlgo_t>& plans() {
  static auto* m = new std::map<PlanKey, cublasLtMatmulAlgo_t>();
  return *m;
}

struct Descs {
  cublasLtMatmulDesc_t op{};
  cublasLtMatrixLayout_t a{}, b{}, c{};
  ~Descs() {
    if (a) cuda::cublaslt().layout_destroy(a);
    if (b) cuda::cublaslt().layout_destroy(b);
    if (c) cuda::cublaslt().layout_destroy(c);
    if (op) cuda::cublaslt().desc_destroy(op);
  }
};

// The algorithm for a new problem: cuBLASLt's first choice, or, for large products whose output
// may be overwritten (beta == 0), the fastest of its first few candidates timed on the stream
// (tens of milliseconds once per distinct problem).
template <typename Run>
cublasLtMatmulAlgo_t choose_algo(const Descs& d, int64_t flops_scale, bool can_time, Run& run,
                                 cudaStream_t stream) {
  cublasLtMatmulPreference_t pref;
  check_blas(cuda::cublaslt().preference_create(&pref), "preference");
  size_t ws = kWorkspace;
  cuda::cublaslt().preference_set_attribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  constexpr int kCandidates = 6;
  cublasLtMatmulHeuristicResult_t results[kCandidates] = {};
  int found = 0;
  cublasStatus_t st =
      cuda::cublaslt().algo_get_heuristic(handle(), d.op, d.a, d.b, d.c, d.c, pref, kCandidates, results, &found);
  cuda::cublaslt().preference_destroy(pref);
  if (st != CUBLAS_STATUS_SUCCESS || found == 0) {
    throw std::runtime_error("[matmul] cuBLASLt has no algorithm for this problem");
  }
  if (!can_time || found == 1 || flops_scale < (int64_t(1) << 30)) return results[0].algo;
  // The card's clocks ramp up after idle and sag under sustained load: a warm-up first, then
  // every candidate in three interleaved rounds of windows of at least 2 ms each, compared by
  // their total over the rounds, so that no candidate wins or loses on the clock state or the
  // noise of one short window. Another candidate replaces the first usable one (cuBLASLt's
  // choice, which is cublasGemmEx's) only when clearly faster.
  bool usable[kCandidates] = {};
  float total_ms[kCandidates] = {};
  int first = -1;
  for (int i = 0; i < found; ++i) {
    usable[i] = results[i].state == CUBLAS_STATUS_SUCCESS && run(results[i].algo) == CUBLAS_STATUS_SUCCESS;
    if (usable[i] && first < 0) first = i;
  }
  if (first < 0) throw std::runtime_error("[matmul] no cuBLASLt candidate runs this problem");
  cudaEvent_t start, end;
  cuda::check(cudaEventCreate(&start), "cudaEventCreate");
  cuda::check(cudaEventCreate(&end), "cudaEventCreate");
  auto window_ms = [&](int i, int reps) {
    cuda::check(cudaEventRecord(start, stream), "cudaEventRecord");
    for (int r = 0; r < reps; ++r) run(results[i].algo);
    cuda::check(cudaEventRecord(end, stream), "cudaEventRecord");
    cuda::check(cudaEventSynchronize(end), "cudaEventSynchronize");
    float ms = 0;
    cudaEventElapsedTime(&ms, start, end);
    return ms;
  };
  const float warm_ms = window_ms(first, 3) / 3;  // also the warm-up
  const int reps = std::clamp(int(2.0f / std::max(warm_ms, 1e-3f)) + 1, 3, 64);
  window_ms(first, reps);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < found; ++i)
      if (usable[i]) total_ms[i] += window_ms(i, reps);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(end);
  int best = first;
  for (int i = first + 1; i < found; ++i)
    if (usable[i] && total_ms[i] < total_ms[best]) best = i;
  if (total_ms[best] > 0.97f * total_ms[first]) best = first;
  if (const char* log = std::getenv("ALLOY_MATMUL_LOG"); log && std::string(log) == "1") {
    std::fprintf(stderr, "[matmul] M*N*K*batch %lld: candidate %d of %d (", static_cast<long long>(flops_scale),
                 best, found);
    for (int i = 0; i < found; ++i)
      std::fprintf(stderr, "%s%.3f", i ? " " : "", usable[i] ? total_ms[i] / (3.0f * reps) : -1.0f);
    std::fprintf(stderr, " ms each)\n");
  }
  return results[best].algo;
}

void set_batch(cublasLtMatrixLayout_t l, int32_t count, int64_t stride) {
  check_blas(cuda::cublaslt().layout_set_attribute(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)),
             "layout batch count");
  check_blas(cuda::cublaslt().layout_set_attribute(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                              sizeof(stride)),
             "layout batch stride");
}

// One GEMM over device pointers: C (M, N), rows ldc apart, = alpha A (M, K) B (K, N) + beta C.
struct GemmCall {
  int64_t M, N, K;
  MatrixLayout la, lb;
  int64_t ldc, batch;
  std::pair<int64_t, int64_t> bs;  // batch strides of A and B
  const char* a;
  const char* b;
  char* c;
  float alpha, beta;
  const void* bias;  // the epilogue's (N,) bias, or null
};

void enqueue_gemm(const Stream& s, const Types& types, const GemmCall& g) {
  const int64_t M = g.M, N = g.N, K = g.K;
  const MatrixLayout &la = g.la, &lb = g.lb;
  cudaStream_t stream = cuda::stream_of(s);
  Descs d;
  check_blas(cuda::cublaslt().desc_create(&d.op, types.compute, types.scale), "desc");
  // cuBLAS's A is our B, its B our A (column-major C^T = B^T A^T).
  cublasOperation_t ta = lb.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  cublasOperation_t tb = la.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  check_blas(cuda::cublaslt().desc_set_attribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)), "transa");
  check_blas(cuda::cublaslt().desc_set_attribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)), "transb");
  if (g.bias) {
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    check_blas(cuda::cublaslt().desc_set_attribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)), "epilogue");
    check_blas(cuda::cublaslt().desc_set_attribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias, sizeof(g.bias)),
               "bias");
  }
  // Stored shapes, column-major: B^T is (N, K) untransposed, (K, N) transposed; likewise A^T.
  check_blas(cuda::cublaslt().layout_create(&d.a, types.data, lb.transposed ? K : N, lb.transposed ? N : K, lb.ld), "layout");
  check_blas(cuda::cublaslt().layout_create(&d.b, types.data, la.transposed ? M : K, la.transposed ? K : M, la.ld), "layout");
  check_blas(cuda::cublaslt().layout_create(&d.c, types.data, N, M, g.ldc), "layout");
  if (g.batch > 1) {
    set_batch(d.a, int32_t(g.batch), g.bs.second);
    set_batch(d.b, int32_t(g.batch), g.bs.first);
    set_batch(d.c, int32_t(g.batch), M * N);
  }

  PlanKey key{int(types.data), int(types.compute), int(ta) * 2 + int(tb), M, N, K, la.ld, lb.ld, g.ldc,
              g.batch, g.bs.first, g.bs.second, int64_t(g.bias != nullptr), int64_t(g.beta != 0.0f), false};
  void* ws = cuda::scratch(s, kWorkspace);
  double alpha64 = g.alpha, beta64 = g.beta;
  const void* alpha_p = types.scale == CUDA_R_64F ? static_cast<const void*>(&alpha64) : &g.alpha;
  const void* beta_p = types.scale == CUDA_R_64F ? static_cast<const void*>(&beta64) : &g.beta;
  auto run = [&](const cublasLtMatmulAlgo_t& algo) {
    return cuda::cublaslt().matmul(handle(), d.op, alpha_p, g.b, d.a, g.a, d.b, beta_p, g.c, d.c, g.c, d.c, &algo, ws,
                          kWorkspace, stream);
  };

  cublasLtMatmulAlgo_t algo;
  std::lock_guard lk(plan_mutex());
  auto it = plans().find(key);
  if (it != plans().end()) {
    algo = it->second;
  } else {
    algo = choose_algo(d, M * N * K * g.batch, g.beta == 0.0f, run, stream);
    plans()[key] = algo;
  }
  check_blas(run(algo), "matmul");
}

// A long dimension that is not a multiple of 64 (a 50257-token vocabulary: the logits' N, their
// gradient's K, the embedding gradient's M) keeps cuBLASLt on slow kernels even with aligned
// rows: such a product runs as a multiple-of-64 body and a thin tail (K: the tail accumulates
// onto the body, beta = 1). One batch, no bias; each part splits again on the other dims.
constexpr int64_t kSplitMin = 4096, kSplitUnit = 64;

void split_gemm(const Stream& s, const Types& types, const GemmCall& g, size_t item) {
  auto split_at = [](int64_t n) { return n >= kSplitMin && n % kSplitUnit != 0 ? n - n % kSplitUnit : 0; };
  if (g.batch != 1 || g.bias) return enqueue_gemm(s, types, g);
  // Element offsets of row/column i of A (M, K) and of B (K, N) in their stored layouts.
  auto a_row = [&](int64_t i) { return (g.la.transposed ? i : i * g.la.ld) * int64_t(item); };
  auto a_col = [&](int64_t k) { return (g.la.transposed ? k * g.la.ld : k) * int64_t(item); };
  auto b_row = [&](int64_t k) { return (g.lb.transposed ? k : k * g.lb.ld) * int64_t(item); };
  auto b_col = [&](int64_t n) { return (g.lb.transposed ? n * g.lb.ld : n) * int64_t(item); };
  if (int64_t n0 = split_at(g.N)) {
    GemmCall body = g, tail = g;
    body.N = n0;
    tail.N = g.N - n0;
    tail.b = g.b + b_col(n0);
    tail.c = g.c + n0 * int64_t(item);
    split_gemm(s, types, body, item);
    return split_gemm(s, types, tail, item);
  }
  if (int64_t m0 = split_at(g.M)) {
    GemmCall body = g, tail = g;
    body.M = m0;
    tail.M = g.M - m0;
    tail.a = g.a + a_row(m0);
    tail.c = g.c + m0 * g.ldc * int64_t(item);
    split_gemm(s, types, body, item);
    return split_gemm(s, types, tail, item);
  }
  if (int64_t k0 = split_at(g.K)) {
    GemmCall body = g, tail = g;
    body.K = k0;
    tail.K = g.K - k0;
    tail.a = g.a + a_col(k0);
    tail.b = g.b + b_row(k0);
    tail.beta = 1.0f;  // onto the body's sum
    enqueue_gemm(s, types, body);
    return enqueue_gemm(s, types, tail);
  }
  enqueue_gemm(s, types, g);
}

}  // namespace

namespace cuda {
void gemm(const Stream& s, array a, array b, array& out, float alpha, float beta, const array* bias) {
  int64_t M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  int64_t batch = int64_t(out.size()) / std::max<int64_t>(M * N, 1);
  if (M == 0 || N == 0 || batch == 0) return;
  auto types = *types_of(out.dtype());
  auto la = matrix_layout(M, K, a.strides()[a.ndim() - 2], a.strides()[a.ndim() - 1]);
  auto lb = matrix_layout(K, N, b.strides()[b.ndim() - 2], b.strides()[b.ndim() - 1]);
  auto bs = batch_strides(a, b, batch);
  if (!la || !bs || a.dtype() != out.dtype()) {
    a = cuda::as_row_contiguous(a, s, out.dtype());
    la = MatrixLayout{false, std::max<int64_t>(K, 1)};
  }
  if (!lb || !bs || b.dtype() != out.dtype()) {
    b = cuda::as_row_contiguous(b, s, out.dtype());
    lb = MatrixLayout{false, std::max<int64_t>(N, 1)};
  }
  bs = batch_strides(a, b, batch);  // the copies above are dense: their batches have one stride
  if (!bs) throw std::logic_error("[matmul] dense operands without a single batch stride");
  if (K == 0) {
    // No products: out = 0 (AddMM with K == 0 runs on the CPU).
    cuda::check(cudaMemsetAsync(cuda::device_out_ptr(out), 0, out.data_size() * size_of(out.dtype()),
                                cuda::stream_of(s)),
                "memset");
    return;
  }
  // C's row pitch: N, or the padded pitch of a 2-D output from cuda::allocate_rows.
  const int64_t ldc = out.ndim() == 2 && M > 1 ? out.strides()[0] : N;
  GemmCall g{M, N, K, *la, *lb, ldc, batch, *bs, static_cast<const char*>(cuda::device_ptr(a, s)),
             static_cast<const char*>(cuda::device_ptr(b, s)), static_cast<char*>(cuda::device_out_ptr(out)),
             alpha, beta, bias ? cuda::device_ptr(*bias, s) : nullptr};
  split_gemm(s, types, g, size_of(out.dtype()));
}

}  // namespace cuda

namespace {

// A bias the epilogue can add: c broadcast from a dense vector over the last dim.
bool is_bias_vector(const array& c, const array& out) {
  if (c.dtype() != out.dtype() || c.shape() != out.shape()) return false;
  for (int d = 0; d + 1 < c.ndim(); ++d) {
    if (c.strides()[d] != 0 && c.shape(d) != 1) return false;
  }
  return c.ndim() > 0 && (c.strides().back() == 1 || c.shape(-1) == 1);
}

}  // namespace

void Matmul::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!types_of(out.dtype())) return cuda::fallback_to_cpu(*this, inputs, out);
  // A wide product with an odd N (logits over a 50257-token vocabulary) gets 16-byte aligned
  // rows, so it and the GEMMs of its gradient run on cuBLASLt's fast kernels.
  if (out.ndim() == 2) cuda::allocate_rows(out, cuda::padded_row_pitch(out.shape(1), size_of(out.dtype())));
  else cuda::allocate(out);
  cuda::gemm(stream(), inputs[0], inputs[1], out, 1.0f, 0.0f, nullptr);
}

void AddMM::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (!types_of(out.dtype()) || inputs[0].shape(-1) == 0) return cuda::fallback_to_cpu(*this, inputs, out);
  cuda::allocate(out);
  const array& c = inputs[2];
  if (beta_ == 1.0f && is_bias_vector(c, out)) {
    cuda::gemm(stream(), inputs[0], inputs[1], out, alpha_, 0.0f, &c);
    return;
  }
  if (beta_ != 0.0f) cuda::copy_into(c, cuda::device_out_ptr(out), out.dtype(), out.strides(), out.shape(), stream());
  cuda::gemm(stream(), inputs[0], inputs[1], out, alpha_, beta_, nullptr);
}

}  // namespace alloy
