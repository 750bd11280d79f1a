// Unary elementwise kernels. Each op is a functor on the compute type (float for 16-bit floats);
// rows are plain loops compiled for several instruction sets (see simd.h).
#include <cmath>

#include "alloy/backend/common/unary_ops.h"
#include "alloy/backend/cpu/simd.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/core/primitives.h"

namespace alloy {
namespace {
using ew::compute_t;
using namespace ew::unary;

// out[i] = U(op(compute(in[i]))) over one row.
template <typename T, typename U, typename Op>
ALLOY_SIMD_CLONES void unary_row(const T* in, int64_t is, U* out, int64_t os, int64_t n, Op op) {
  using C = compute_t<T>;
  if (is == 1 && os == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = U(op(C(in[i])));
  } else {
    for (int64_t i = 0; i < n; ++i) out[i * os] = U(op(C(in[i * is])));
  }
}

template <typename T, typename U, typename Op>
void unary_apply(const array& in, array& out, Op op) {
  // Read the input pointer first: donating moves the buffer into `out`.
  const T* ip = static_cast<const T*>(const_cast<array&>(in).raw_data_ptr());
  if constexpr (std::is_same_v<T, U>) {
    if (in.is_donatable() && in.flags().row_contiguous) out.move_shared_buffer(in);
    else cpu::allocate(out);
  } else {
    cpu::allocate(out);
  }
  U* op_ = static_cast<U*>(out.raw_data_ptr());
  if (in.flags().row_contiguous) {
    cpu::parallel_for(int64_t(in.size()), 1 << 14, [&](int64_t b, int64_t e) {
      unary_row<T, U, Op>(ip + b, 1, op_ + b, 1, e - b, op);
    });
    return;
  }
  cpu::for_each_row<2>(in.shape(), {in.strides(), out.strides()},
                       [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                         unary_row<T, U, Op>(ip + off[0], st[0], op_ + off[1], st[1], n, op);
                       });
}

template <typename Op>
void float_op(const array& in, array& out, Op op) {
  switch (in.dtype()) {
    case Dtype::float16: return unary_apply<float16_t, float16_t>(in, out, op);
    case Dtype::bfloat16: return unary_apply<bfloat16_t, bfloat16_t>(in, out, op);
    case Dtype::float32: return unary_apply<float, float>(in, out, op);
    case Dtype::float64: return unary_apply<double, double>(in, out, op);
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      throw std::invalid_argument(std::string("[unary] needs a floating-point input, got ") + dtype_name(in.dtype()));
  }
}

template <typename Op>
void any_op(const array& in, array& out, Op op) {
  dispatch_dtype(in.dtype(), [&](auto v) {
    using T = decltype(v);
    if constexpr (std::is_same_v<T, bool>) {
      unary_apply<uint8_t, uint8_t>(in, out, op);  // bool stored as one byte
    } else {
      unary_apply<T, T>(in, out, op);
    }
  });
}

template <typename Pred>
void to_bool_op(const array& in, array& out, Pred pred) {
  dispatch_dtype(in.dtype(), [&](auto v) {
    using T = decltype(v);
    unary_apply<T, bool>(in, out, pred);
  });
}

}  // namespace

void Unary::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  switch (op_) {
    case UnaryOp::abs: return any_op(in, out, Abs{});
    case UnaryOp::negative: return any_op(in, out, Negative{});
    case UnaryOp::sign: return any_op(in, out, Sign{});
    case UnaryOp::square: return any_op(in, out, Square{});
    case UnaryOp::bitwise_invert:
      if (in.dtype() == bool_) return unary_apply<bool, bool>(in, out, BitwiseInvert{});
      return any_op(in, out, BitwiseInvert{});
    case UnaryOp::exp: return float_op(in, out, Exp{});
    case UnaryOp::expm1: return float_op(in, out, Expm1{});
    case UnaryOp::log: return float_op(in, out, Log{});
    case UnaryOp::log1p: return float_op(in, out, Log1p{});
    case UnaryOp::log2: return float_op(in, out, Log2{});
    case UnaryOp::log10: return float_op(in, out, Log10{});
    case UnaryOp::sqrt: return float_op(in, out, Sqrt{});
    case UnaryOp::rsqrt: return float_op(in, out, Rsqrt{});
    case UnaryOp::reciprocal: return float_op(in, out, Reciprocal{});
    case UnaryOp::sin: return float_op(in, out, Sin{});
    case UnaryOp::cos: return float_op(in, out, Cos{});
    case UnaryOp::tan: return float_op(in, out, Tan{});
    case UnaryOp::arcsin: return float_op(in, out, ArcSin{});
    case UnaryOp::arccos: return float_op(in, out, ArcCos{});
    case UnaryOp::arctan: return float_op(in, out, ArcTan{});
    case UnaryOp::sinh: return float_op(in, out, Sinh{});
    case UnaryOp::cosh: return float_op(in, out, Cosh{});
    case UnaryOp::tanh: return float_op(in, out, Tanh{});
    case UnaryOp::arcsinh: return float_op(in, out, ArcSinh{});
    case UnaryOp::arccosh: return float_op(in, out, ArcCosh{});
    case UnaryOp::arctanh: return float_op(in, out, ArcTanh{});
    case UnaryOp::sigmoid: return float_op(in, out, Sigmoid{});
    case UnaryOp::erf: return float_op(in, out, Erf{});
    case UnaryOp::erfinv: return float_op(in, out, ErfInv{});
    case UnaryOp::floor: return float_op(in, out, Floor{});
    case UnaryOp::ceil: return float_op(in, out, Ceil{});
    case UnaryOp::round: return float_op(in, out, Round{});
    case UnaryOp::logical_not: return to_bool_op(in, out, IsZero{});
    case UnaryOp::isnan: return to_bool_op(in, out, IsNaN{});
    case UnaryOp::isinf: return to_bool_op(in, out, IsInf{});
  }
}

}  // namespace alloy
