// Unary elementwise ops on the GPU: the functors of backend/common/unary_ops.h applied by the
// shared elementwise kernels (elementwise.cuh), dispatched over dtypes as on the CPU.
#include "alloy/backend/common/unary_ops.h"
#include "alloy/backend/cuda/elementwise.cuh"

namespace alloy {
namespace {
using namespace ew::unary;
using cuda::Tag;

// Converts the storage type T to its compute type, applies op, converts to U.
template <typename T, typename U, typename Op>
struct Apply {
  Op op;
  __device__ __forceinline__ U operator()(T x) const {
    return cuda::convert<U>(op(cuda::compute_t<T>(x)));
  }
};

template <typename T, typename U, typename Op>
void run(const std::vector<array>& inputs, array& out, Primitive& p, Op op) {
  if (!cuda::launch_elementwise<U, T>(inputs, out, p.stream(), Apply<T, U, Op>{op})) {
    cuda::fallback_to_cpu(p, inputs, out);
  }
}

template <typename Op>
void float_op(const std::vector<array>& inputs, array& out, Primitive& p, Op op) {
  cuda::dispatch(inputs[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (cuda::is_float_v<T>) {
      run<T, T>(inputs, out, p, op);
    } else {
      throw std::invalid_argument(std::string("[unary] needs a floating-point input, got ") +
                                  dtype_name(inputs[0].dtype()));
    }
  });
}

template <typename Op>
void any_op(const std::vector<array>& inputs, array& out, Primitive& p, Op op) {
  cuda::dispatch(inputs[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, bool>) {
      run<uint8_t, uint8_t>(inputs, out, p, op);  // bool stored as one byte, as on the CPU
    } else {
      run<T, T>(inputs, out, p, op);
    }
  });
}

template <typename Pred>
void to_bool_op(const std::vector<array>& inputs, array& out, Primitive& p, Pred pred) {
  cuda::dispatch(inputs[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    run<T, bool>(inputs, out, p, pred);
  });
}

}  // namespace

void Unary::eval_gpu(const std::vector<array>& inputs, array& out) {
  Primitive& p = *this;
  switch (op_) {
    case UnaryOp::abs: return any_op(inputs, out, p, Abs{});
    case UnaryOp::negative: return any_op(inputs, out, p, Negative{});
    case UnaryOp::sign: return any_op(inputs, out, p, Sign{});
    case UnaryOp::square: return any_op(inputs, out, p, Square{});
    case UnaryOp::bitwise_invert:
      if (inputs[0].dtype() == bool_) return run<bool, bool>(inputs, out, p, BitwiseInvert{});
      return any_op(inputs, out, p, BitwiseInvert{});
    case UnaryOp::exp: return float_op(inputs, out, p, Exp{});
    case UnaryOp::expm1: return float_op(inputs, out, p, Expm1{});
    case UnaryOp::log: return float_op(inputs, out, p, Log{});
    case UnaryOp::log1p: return float_op(inputs, out, p, Log1p{});
    case UnaryOp::log2: return float_op(inputs, out, p, Log2{});
    case UnaryOp::log10: return float_op(inputs, out, p, Log10{});
    case UnaryOp::sqrt: return float_op(inputs, out, p, Sqrt{});
    case UnaryOp::rsqrt: return float_op(inputs, out, p, Rsqrt{});
    case UnaryOp::reciprocal: return float_op(inputs, out, p, Reciprocal{});
    case UnaryOp::sin: return float_op(inputs, out, p, Sin{});
    case UnaryOp::cos: return float_op(inputs, out, p, Cos{});
    case UnaryOp::tan: return float_op(inputs, out, p, Tan{});
    case UnaryOp::arcsin: return float_op(inputs, out, p, ArcSin{});
    case UnaryOp::arccos: return float_op(inputs, out, p, ArcCos{});
    case UnaryOp::arctan: return float_op(inputs, out, p, ArcTan{});
    case UnaryOp::sinh: return float_op(inputs, out, p, Sinh{});
    case UnaryOp::cosh: return float_op(inputs, out, p, Cosh{});
    case UnaryOp::tanh: return float_op(inputs, out, p, Tanh{});
    case UnaryOp::arcsinh: return float_op(inputs, out, p, ArcSinh{});
    case UnaryOp::arccosh: return float_op(inputs, out, p, ArcCosh{});
    case UnaryOp::arctanh: return float_op(inputs, out, p, ArcTanh{});
    case UnaryOp::sigmoid: return float_op(inputs, out, p, Sigmoid{});
    case UnaryOp::erf: return float_op(inputs, out, p, Erf{});
    case UnaryOp::erfinv: return float_op(inputs, out, p, ErfInv{});
    case UnaryOp::floor: return float_op(inputs, out, p, Floor{});
    case UnaryOp::ceil: return float_op(inputs, out, p, Ceil{});
    case UnaryOp::round: return float_op(inputs, out, p, Round{});
    case UnaryOp::logical_not: return to_bool_op(inputs, out, p, IsZero{});
    case UnaryOp::isnan: return to_bool_op(inputs, out, p, IsNaN{});
    case UnaryOp::isinf: return to_bool_op(inputs, out, p, IsInf{});
  }
}

}  // namespace alloy
