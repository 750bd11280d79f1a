// CPU evaluation of the quantized ops: the matmul runs quant_dot's integer kernels on float32
// activations (with SwiGLU over the two halves for quantized_matmul_swiglu); dequantize expands rows of blocks with the scalar codecs, rows across threads.
#include <algorithm>
#include <vector>

#include "alloy/backend/cpu/dispatch_float.h"
#include "alloy/backend/cpu/quant_dot.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/backend/cpu/swiglu_rows.h"
#include "alloy/backend/cpu/threading.h"
#include "alloy/core/quantized_primitives.h"

namespace alloy {

void QuantizedMatmul::eval_cpu(const std::vector<array>& inputs, array& out) {
  array x = cpu::as_row_contiguous(inputs[0], float32);  // (M, K)
  array w = cpu::as_row_contiguous(inputs[1]);           // (N, row_bytes)
  int64_t K = x.shape(-1), N = w.shape(0);
  int64_t M = K == 0 ? 0 : x.size() / K;
  const auto* wp = static_cast<const uint8_t*>(w.raw_data_ptr());
  const auto* xp = static_cast<const float*>(x.raw_data_ptr());
  if (out.dtype() == float32) {
    cpu::allocate(out);
    cpu::quant::quantized_matmul(type(), xp, M, K, wp, N, static_cast<float*>(out.raw_data_ptr()));
    return;
  }
  array out32(out.shape(), float32, nullptr, {});
  cpu::allocate(out32);
  cpu::quant::quantized_matmul(type(), xp, M, K, wp, N, static_cast<float*>(out32.raw_data_ptr()));
  cpu::allocate(out);
  cpu::copy_contiguous(out32, out);
}

void QuantizedMatmulSwiGLU::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array& out = outputs[0];
  array gate_up(Shape{int64_t(out.size() / std::max<size_t>(out.shape(-1), 1)), 2 * out.shape(-1)}, out.dtype(),
                nullptr, {});
  QuantizedMatmul(stream(), type()).eval_cpu(inputs, gate_up);
  cpu::allocate(out);
  const int64_t M = gate_up.shape(0), F = out.shape(-1);
  cpu::dispatch_float(out.dtype(), "quantized_matmul_swiglu", [&](auto v) {
    using T = decltype(v);
    const T* gu = static_cast<const T*>(gate_up.raw_data_ptr());
    T* op = static_cast<T*>(out.raw_data_ptr());
    cpu::parallel_for(M, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(F, 1)), [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m) cpu::swiglu_rows(gu + m * 2 * F, gu + m * 2 * F + F, op + m * F, F);
    });
  });
}

void Dequantize::eval_cpu(const std::vector<array>& inputs, array& out) {
  array w = cpu::as_row_contiguous(inputs[0]);  // (rows, row_bytes)
  int64_t row_bytes = w.shape(-1), K = out.shape(-1);
  int64_t rows = row_bytes == 0 ? 0 : w.size() / row_bytes;
  const auto* wp = static_cast<const uint8_t*>(w.raw_data_ptr());
  bool direct = out.dtype() == float32;
  array out32 = direct ? out : array(out.shape(), float32, nullptr, {});
  cpu::allocate(out32);
  auto* op = static_cast<float*>(out32.raw_data_ptr());
  cpu::parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(K, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) quant::dequantize_row(type(), wp + r * row_bytes, op + r * K, K);
  });
  if (direct) return;
  cpu::allocate(out);
  cpu::copy_contiguous(out32, out);
}

void Quantize::eval_cpu(const std::vector<array>& inputs, array& out) {
  array x = cpu::as_row_contiguous(inputs[0]);  // (rows, K) float32
  cpu::allocate(out);
  const int64_t K = x.shape(-1), row_bytes = out.shape(-1);
  const int64_t rows = K == 0 ? 0 : int64_t(x.size()) / K;
  const auto* xp = static_cast<const float*>(x.raw_data_ptr());
  auto* op = static_cast<uint8_t*>(out.raw_data_ptr());
  cpu::parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(K, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) quant::quantize_row(type(), xp + r * K, op + r * row_bytes, K);
  });
}

}  // namespace alloy
