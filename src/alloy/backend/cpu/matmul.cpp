// GEMM on the CPU through OpenBLAS on alloy's pool (cpu/blas.h). Transposed and row-sliced
// views are passed as transposes / leading dimensions without copies; other layouts are copied
// first. float16 and bfloat16 are converted to float32, multiplied, and rounded back.
#include <optional>

#include "alloy/backend/common/matrix_layout.h"
#include "alloy/backend/cpu/blas.h"
#include "alloy/backend/cpu/simd.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/backend/cpu/threading.h"
#include "alloy/core/primitives.h"

namespace alloy {
namespace {

// A float32/float64 view of `a` that BLAS can read: `a` itself, or a converted/dense copy.
array blas_operand(const array& a, Dtype compute, bool& ok_layout) {
  int64_t r = a.shape(-2), c = a.shape(-1);
  ok_layout = a.dtype() == compute && matrix_layout(r, c, a.strides()[a.ndim() - 2], a.strides()[a.ndim() - 1]);
  if (ok_layout) return a;
  array tmp(a.shape(), compute, nullptr, {});
  cpu::copy_contiguous(a, tmp);
  return tmp;
}

// Offsets (in elements) of each batch matrix of `a`, following its batch strides.
std::vector<int64_t> batch_offsets(const array& a) {
  int nb = a.ndim() - 2;
  int64_t count = 1;
  for (int d = 0; d < nb; ++d) count *= a.shape(d);
  std::vector<int64_t> offs(count, 0);
  for (int64_t i = 0; i < count; ++i) {
    int64_t rem = i, off = 0;
    for (int d = nb - 1; d >= 0; --d) {
      off += (rem % a.shape(d)) * a.strides()[d];
      rem /= a.shape(d);
    }
    offs[i] = off;
  }
  return offs;
}

// c (N) = alpha * a (K, stride inc) @ B (K, N) + beta * c, in float32. B is stored as (N, K)
// rows when lb.transposed (weights), else as (K, N). OpenBLAS's sgemv wakes its threads on
// every call, which costs more than the product itself at decode sizes; this runs on our pool,
// inline when small.
ALLOY_SIMD_CLONES void dot_rows(const float* a, int64_t inc, const float* B, int64_t ld, int64_t K, int64_t n0,
                                int64_t n1, float alpha, float beta, float* c) {
  for (int64_t n = n0; n < n1; ++n) {
    const float* row = B + n * ld;
    float acc[8] = {};
    int64_t k = 0;
    if (inc == 1)
      for (; k + 8 <= K; k += 8)
        for (int j = 0; j < 8; ++j) acc[j] += row[k + j] * a[k + j];
    float sum = 0;
    for (int j = 0; j < 8; ++j) sum += acc[j];
    for (; k < K; ++k) sum += row[k] * a[k * inc];
    c[n] = alpha * sum + (beta == 0.0f ? 0.0f : beta * c[n]);
  }
}

ALLOY_SIMD_CLONES void axpy_rows(const float* a, int64_t inc, const float* B, int64_t ld, int64_t K, int64_t n0,
                                 int64_t n1, float alpha, float beta, float* c) {
  for (int64_t n = n0; n < n1; ++n) c[n] = beta == 0.0f ? 0.0f : beta * c[n];
  for (int64_t k = 0; k < K; ++k) {
    const float s = alpha * a[k * inc];
    const float* row = B + k * ld;
    for (int64_t n = n0; n < n1; ++n) c[n] += s * row[n];
  }
}

void gemv(const float* a, int64_t inc, const float* B, const MatrixLayout& lb, int64_t K, int64_t N, float alpha,
          float beta, float* c) {
  const int64_t grain = std::max<int64_t>(16, 32768 / std::max<int64_t>(K, 1));  // ~32K multiply-adds a chunk
  cpu::parallel_for(N, grain, [&](int64_t n0, int64_t n1) {
    if (lb.transposed) dot_rows(a, inc, B, lb.ld, K, n0, n1, alpha, beta, c);
    else axpy_rows(a, inc, B, lb.ld, K, n0, n1, alpha, beta, c);
  });
}

template <typename T>
void gemm(const array& a, const array& b, T* c, float alpha, float beta) {
  int64_t M = a.shape(-2), K = a.shape(-1), N = b.shape(-1);
  auto la = *matrix_layout(M, K, a.strides()[a.ndim() - 2], a.strides()[a.ndim() - 1]);
  auto lb = *matrix_layout(K, N, b.strides()[b.ndim() - 2], b.strides()[b.ndim() - 1]);
  const T* ap = static_cast<const T*>(const_cast<array&>(a).raw_data_ptr());
  const T* bp = static_cast<const T*>(const_cast<array&>(b).raw_data_ptr());
  auto oa = batch_offsets(a), ob = batch_offsets(b);
  if (M == 0 || N == 0) return;
  auto product = [&](int64_t i) {
    T* ci = c + i * M * N;
    if (K == 0) {
      for (int64_t k = 0; k < M * N; ++k) ci[k] = beta == 0.0f ? T(0) : T(beta) * ci[k];
      return;
    }
    if constexpr (std::is_same_v<T, float>) {
      if (M == 1) {  // a vector times a matrix (LLM decode): read the matrix once, no packing
        gemv(ap + oa[i], la.transposed ? la.ld : 1, bp + ob[i], lb, K, N, alpha, beta, ci);
        return;
      }
    }
    cpu::gemm<T>(la.transposed, lb.transposed, M, N, K, T(alpha), ap + oa[i], la.ld, bp + ob[i], lb.ld, T(beta), ci,
                 std::max<int64_t>(N, 1));
  };
  const int64_t count = int64_t(oa.size());
  // A batch of small products (attention heads): one product per chunk of the pool, each
  // single-threaded; a large product is split by cpu::gemm itself.
  if (count > 1 && M * N * K < (int64_t(1) << 22)) {
    cpu::parallel_for(count, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) product(i);
    });
  } else {
    for (int64_t i = 0; i < count; ++i) product(i);
  }
}

// out = alpha * a @ b + beta * out (out already holds c when beta != 0).
void matmul_cpu(const array& a_in, const array& b_in, array& out, float alpha, float beta) {
  Dtype compute = out.dtype() == float64 ? float64 : float32;
  bool ok_a, ok_b;
  array a = blas_operand(a_in, compute, ok_a);
  array b = blas_operand(b_in, compute, ok_b);
  if (out.dtype() == compute) {
    if (compute == float32) gemm<float>(a, b, static_cast<float*>(out.raw_data_ptr()), alpha, beta);
    else gemm<double>(a, b, static_cast<double*>(out.raw_data_ptr()), alpha, beta);
    return;
  }
  // 16-bit output: compute into a float32 buffer, then round.
  array c32(out.shape(), float32, nullptr, {});
  cpu::allocate(c32);
  if (beta != 0.0f) cpu::copy_into(out, c32.raw_data_ptr(), float32, c32.strides(), out.shape());
  gemm<float>(a, b, static_cast<float*>(c32.raw_data_ptr()), alpha, beta);
  cpu::copy_into(c32, out.raw_data_ptr(), out.dtype(), out.strides(), out.shape());
}

}  // namespace

void Matmul::eval_cpu(const std::vector<array>& inputs, array& out) {
  cpu::allocate(out);
  matmul_cpu(inputs[0], inputs[1], out, 1.0f, 0.0f);
}

void AddMM::eval_cpu(const std::vector<array>& inputs, array& out) {
  cpu::allocate(out);
  if (beta_ != 0.0f) cpu::copy_into(inputs[2], out.raw_data_ptr(), out.dtype(), out.strides(), out.shape());
  matmul_cpu(inputs[0], inputs[1], out, alpha_, beta_);
}

}  // namespace alloy
