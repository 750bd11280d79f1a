// Binary elementwise kernels and where(). Inputs are already broadcast (views with zero
// strides); a row is vector-vector, scalar-vector, vector-scalar or strided.
#include <cmath>
#include <limits>

#include "alloy/backend/common/binary_ops.h"
#include "alloy/backend/cpu/simd.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/core/primitives.h"

namespace alloy {
namespace {
using ew::compute_t;
using namespace ew::binary;

template <typename T, typename U, typename Op>
ALLOY_SIMD_CLONES void binary_row(const T* a, int64_t as, const T* b, int64_t bs, U* out, int64_t n, Op op) {
  using C = compute_t<T>;
  if (as == 1 && bs == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = U(op(C(a[i]), C(b[i])));
  } else if (as == 0 && bs == 1) {
    C av = C(a[0]);
    for (int64_t i = 0; i < n; ++i) out[i] = U(op(av, C(b[i])));
  } else if (as == 1 && bs == 0) {
    C bv = C(b[0]);
    for (int64_t i = 0; i < n; ++i) out[i] = U(op(C(a[i]), bv));
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = U(op(C(a[i * as]), C(b[i * bs])));
  }
}

template <typename T, typename U, typename Op>
void binary_apply(const array& a, const array& b, array& out, Op op) {
  // Read the input pointers first: donating moves the buffer into `out`.
  const T* ap = static_cast<const T*>(const_cast<array&>(a).raw_data_ptr());
  const T* bp = static_cast<const T*>(const_cast<array&>(b).raw_data_ptr());
  if constexpr (std::is_same_v<T, U>) {
    if (a.is_donatable() && a.flags().row_contiguous) out.move_shared_buffer(a);
    else if (b.is_donatable() && b.flags().row_contiguous) out.move_shared_buffer(b);
    else cpu::allocate(out);
  } else {
    cpu::allocate(out);
  }
  U* op_ = static_cast<U*>(out.raw_data_ptr());
  if (a.flags().row_contiguous && b.flags().row_contiguous) {
    cpu::parallel_for(int64_t(out.size()), 1 << 14, [&](int64_t s, int64_t e) {
      binary_row<T, U, Op>(ap + s, 1, bp + s, 1, op_ + s, e - s, op);
    });
    return;
  }
  cpu::for_each_row<3>(out.shape(), {a.strides(), b.strides(), out.strides()},
                       [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
                         // The output is row-contiguous, so its inner stride is 1.
                         binary_row<T, U, Op>(ap + off[0], st[0], bp + off[1], st[1], op_ + off[2], n, op);
                       });
}

template <typename Op>
void same_type(const array& a, const array& b, array& out, Op op) {
  dispatch_dtype(a.dtype(), [&](auto v) {
    using T = decltype(v);
    if constexpr (!std::is_same_v<T, bool>) {
      binary_apply<T, T>(a, b, out, op);
    } else {
      throw std::invalid_argument("[binary] bool inputs are handled by the caller");
    }
  });
}

template <typename Op>
void compare(const array& a, const array& b, array& out, Op op) {
  dispatch_dtype(a.dtype(), [&](auto v) {
    using T = decltype(v);
    binary_apply<T, bool>(a, b, out, op);
  });
}

template <typename Op>
void integer_only(const array& a, const array& b, array& out, Op op) {
  dispatch_dtype(a.dtype(), [&](auto v) {
    using T = decltype(v);
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      binary_apply<T, T>(a, b, out, op);
    } else if constexpr (std::is_same_v<T, bool>) {
      binary_apply<uint8_t, uint8_t>(a, b, out, op);
    } else {
      throw std::invalid_argument(std::string("[binary] needs integer inputs, got ") + dtype_name(a.dtype()));
    }
  });
}

template <typename Op>
void float_only(const array& a, const array& b, array& out, Op op) {
  switch (a.dtype()) {
    case Dtype::float16: return binary_apply<float16_t, float16_t>(a, b, out, op);
    case Dtype::bfloat16: return binary_apply<bfloat16_t, bfloat16_t>(a, b, out, op);
    case Dtype::float32: return binary_apply<float, float>(a, b, out, op);
    case Dtype::float64: return binary_apply<double, double>(a, b, out, op);
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      throw std::invalid_argument(std::string("[binary] needs floating-point inputs, got ") + dtype_name(a.dtype()));
  }
}

// Numeric ops on bool inputs act as logic (NumPy: True + True is True).
template <typename Op>
void arith(const array& a, const array& b, array& out, Op op) {
  if (a.dtype() == bool_) throw std::invalid_argument("[binary] bool inputs are handled by the caller");
  same_type(a, b, out, op);
}

}  // namespace

void Binary::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& a = inputs[0];
  const array& b = inputs[1];
  bool is_bool = a.dtype() == bool_;
  switch (op_) {
    case BinaryOp::add:
      if (is_bool) return binary_apply<bool, bool>(a, b, out, LogicalOr{});
      return arith(a, b, out, Add{});
    case BinaryOp::multiply:
      if (is_bool) return binary_apply<bool, bool>(a, b, out, LogicalAnd{});
      return arith(a, b, out, Multiply{});
    case BinaryOp::maximum:
      if (is_bool) return binary_apply<bool, bool>(a, b, out, LogicalOr{});
      return arith(a, b, out, Maximum{});
    case BinaryOp::minimum:
      if (is_bool) return binary_apply<bool, bool>(a, b, out, LogicalAnd{});
      return arith(a, b, out, Minimum{});
    case BinaryOp::subtract: return arith(a, b, out, Subtract{});
    case BinaryOp::divide: return float_only(a, b, out, Divide{});
    case BinaryOp::floor_divide: return arith(a, b, out, FloorDivide{});
    case BinaryOp::remainder: return arith(a, b, out, Remainder{});
    case BinaryOp::power: return arith(a, b, out, Power{});
    case BinaryOp::logaddexp: return float_only(a, b, out, LogAddExp{});
    case BinaryOp::arctan2: return float_only(a, b, out, ArcTan2{});
    case BinaryOp::equal: return compare(a, b, out, Equal{});
    case BinaryOp::not_equal: return compare(a, b, out, NotEqual{});
    case BinaryOp::less: return compare(a, b, out, Less{});
    case BinaryOp::less_equal: return compare(a, b, out, LessEqual{});
    case BinaryOp::greater: return compare(a, b, out, Greater{});
    case BinaryOp::greater_equal: return compare(a, b, out, GreaterEqual{});
    case BinaryOp::logical_and: return binary_apply<bool, bool>(a, b, out, LogicalAnd{});
    case BinaryOp::logical_or: return binary_apply<bool, bool>(a, b, out, LogicalOr{});
    case BinaryOp::bitwise_and: return integer_only(a, b, out, BitwiseAnd{});
    case BinaryOp::bitwise_or: return integer_only(a, b, out, BitwiseOr{});
    case BinaryOp::bitwise_xor: return integer_only(a, b, out, BitwiseXor{});
    case BinaryOp::left_shift: return integer_only(a, b, out, LeftShift{});
    case BinaryOp::right_shift: return integer_only(a, b, out, RightShift{});
  }
}

namespace {
template <typename T>
ALLOY_SIMD_CLONES void select_row(const bool* c, int64_t cs, const T* x, int64_t xs, const T* y, int64_t ys,
                                  T* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = c[i * cs] ? x[i * xs] : y[i * ys];
}
}  // namespace

void Select::eval_cpu(const std::vector<array>& inputs, array& out) {
  cpu::allocate(out);
  const array &c = inputs[0], &x = inputs[1], &y = inputs[2];
  const bool* cp = static_cast<const bool*>(const_cast<array&>(c).raw_data_ptr());
  dispatch_dtype(out.dtype(), [&](auto v) {
    using T = decltype(v);
    const T* xp = static_cast<const T*>(const_cast<array&>(x).raw_data_ptr());
    const T* yp = static_cast<const T*>(const_cast<array&>(y).raw_data_ptr());
    T* op = static_cast<T*>(out.raw_data_ptr());
    cpu::for_each_row<4>(out.shape(), {c.strides(), x.strides(), y.strides(), out.strides()},
                         [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
                           select_row<T>(cp + off[0], st[0], xp + off[1], st[1], yp + off[2], st[2],
                                         op + off[3], n);
                         });
  });
}

}  // namespace alloy
