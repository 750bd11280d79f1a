// Binary elementwise ops and where() on the GPU: the functors of backend/common/binary_ops.h on
// the shared elementwise kernels, dispatched over dtypes as on the CPU.
#include "alloy/backend/common/binary_ops.h"
#include "alloy/backend/cuda/elementwise.cuh"

namespace alloy {
namespace {
using namespace ew::binary;

template <typename T, typename U, typename Op>
struct Apply {
  Op op;
  __device__ __forceinline__ U operator()(T a, T b) const {
    using C = cuda::compute_t<T>;
    return cuda::convert<U>(op(C(a), C(b)));
  }
};

template <typename T, typename U, typename Op>
void run(const std::vector<array>& inputs, array& out, Primitive& p, Op op) {
  if (!cuda::launch_elementwise<U, T, T>(inputs, out, p.stream(), Apply<T, U, Op>{op})) {
    cuda::fallback_to_cpu(p, inputs, out);
  }
}

template <typename Op>
void arith(const std::vector<array>& inputs, array& out, Primitive& p, Op op) {
  cuda::dispatch(inputs[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_same_v<T, bool>) {
      run<T, T>(inputs, out, p, op);
    } else {
      throw std::invalid_argument("[binary] bool inputs are handled by the caller");
    }
  });
}

template <typename Op>
void compare(const std::vector<array>& inputs, array& out, Primitive& p, Op op) {
  cuda::dispatch(inputs[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    run<T, bool>(inputs, out, p, op);
  });
}

template <typename Op>
void integer_only(const std::vector<array>& inputs, array& out, Primitive& p, Op op) {
  cuda::dispatch(inputs[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      run<T, T>(inputs, out, p, op);
    } else if constexpr (std::is_same_v<T, bool>) {
      run<uint8_t, uint8_t>(inputs, out, p, op);
    } else {
      throw std::invalid_argument(std::string("[binary] needs integer inputs, got ") +
                                  dtype_name(inputs[0].dtype()));
    }
  });
}

template <typename Op>
void float_only(const std::vector<array>& inputs, array& out, Primitive& p, Op op) {
  cuda::dispatch(inputs[0].dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (cuda::is_float_v<T>) {
      run<T, T>(inputs, out, p, op);
    } else {
      throw std::invalid_argument(std::string("[binary] needs floating-point inputs, got ") +
                                  dtype_name(inputs[0].dtype()));
    }
  });
}

struct SelectFn {
  template <typename T>
  __device__ __forceinline__ T operator()(bool c, T x, T y) const { return c ? x : y; }
};

}  // namespace

void Binary::eval_gpu(const std::vector<array>& inputs, array& out) {
  Primitive& p = *this;
  bool is_bool = inputs[0].dtype() == bool_;
  switch (op_) {
    case BinaryOp::add:
      if (is_bool) return run<bool, bool>(inputs, out, p, LogicalOr{});
      return arith(inputs, out, p, Add{});
    case BinaryOp::multiply:
      if (is_bool) return run<bool, bool>(inputs, out, p, LogicalAnd{});
      return arith(inputs, out, p, Multiply{});
    case BinaryOp::maximum:
      if (is_bool) return run<bool, bool>(inputs, out, p, LogicalOr{});
      return arith(inputs, out, p, Maximum{});
    case BinaryOp::minimum:
      if (is_bool) return run<bool, bool>(inputs, out, p, LogicalAnd{});
      return arith(inputs, out, p, Minimum{});
    case BinaryOp::subtract: return arith(inputs, out, p, Subtract{});
    case BinaryOp::divide: return float_only(inputs, out, p, Divide{});
    case BinaryOp::floor_divide: return arith(inputs, out, p, FloorDivide{});
    case BinaryOp::remainder: return arith(inputs, out, p, Remainder{});
    case BinaryOp::power: return arith(inputs, out, p, Power{});
    case BinaryOp::logaddexp: return float_only(inputs, out, p, LogAddExp{});
    case BinaryOp::arctan2: return float_only(inputs, out, p, ArcTan2{});
    case BinaryOp::equal: return compare(inputs, out, p, Equal{});
    case BinaryOp::not_equal: return compare(inputs, out, p, NotEqual{});
    case BinaryOp::less: return compare(inputs, out, p, Less{});
    case BinaryOp::less_equal: return compare(inputs, out, p, LessEqual{});
    case BinaryOp::greater: return compare(inputs, out, p, Greater{});
    case BinaryOp::greater_equal: return compare(inputs, out, p, GreaterEqual{});
    case BinaryOp::logical_and: return run<bool, bool>(inputs, out, p, LogicalAnd{});
    case BinaryOp::logical_or: return run<bool, bool>(inputs, out, p, LogicalOr{});
    case BinaryOp::bitwise_and: return integer_only(inputs, out, p, BitwiseAnd{});
    case BinaryOp::bitwise_or: return integer_only(inputs, out, p, BitwiseOr{});
    case BinaryOp::bitwise_xor: return integer_only(inputs, out, p, BitwiseXor{});
    case BinaryOp::left_shift: return integer_only(inputs, out, p, LeftShift{});
    case BinaryOp::right_shift: return integer_only(inputs, out, p, RightShift{});
  }
}

void Select::eval_gpu(const std::vector<array>& inputs, array& out) {
  cuda::dispatch(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (!cuda::launch_elementwise<T, bool, T, T>(inputs, out, stream(), SelectFn{})) {
      cuda::fallback_to_cpu(*this, inputs, out);
    }
  });
}

}  // namespace alloy
