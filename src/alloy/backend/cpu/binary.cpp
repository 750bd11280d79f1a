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
// where() copies words, so it runs on unsigned words of the element size (NaN payloads and all
// bits kept). The select is a mask blend, which GCC vectorizes where `c ? x : y` on a byte mask
// and wider words does not. CS/XS/YS: compile-time inner strides (1 dense, 0 broadcast) for the
// layouts that matter; select_row_strided takes any strides.
template <typename U>
inline U select_word(uint8_t c, U x, U y) {
  U m = U(U(0) - U(c != 0));
  return U((x & m) | (y & U(~m)));
}

template <typename U, int CS, int XS, int YS>
ALLOY_SIMD_CLONES void select_row(const uint8_t* c, const U* x, const U* y, U* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = select_word<U>(c[i * CS], x[i * XS], y[i * YS]);
}

template <typename U>
ALLOY_SIMD_CLONES void select_row_strided(const uint8_t* c, int64_t cs, const U* x, int64_t xs, const U* y,
                                          int64_t ys, U* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = select_word<U>(c[i * cs], x[i * xs], y[i * ys]);
}

// One row; the output is row-contiguous, so its inner stride is 1.
template <typename U>
void select_any(const uint8_t* c, int64_t cs, const U* x, int64_t xs, const U* y, int64_t ys, U* out, int64_t n) {
  auto unit = [](int64_t st) { return st == 0 || st == 1; };
  if (!unit(cs) || !unit(xs) || !unit(ys)) return select_row_strided<U>(c, cs, x, xs, y, ys, out, n);
  switch (cs * 4 + xs * 2 + ys) {
    case 0: return select_row<U, 0, 0, 0>(c, x, y, out, n);
    case 1: return select_row<U, 0, 0, 1>(c, x, y, out, n);
    case 2: return select_row<U, 0, 1, 0>(c, x, y, out, n);
    case 3: return select_row<U, 0, 1, 1>(c, x, y, out, n);
    case 4: return select_row<U, 1, 0, 0>(c, x, y, out, n);
    case 5: return select_row<U, 1, 0, 1>(c, x, y, out, n);
    case 6: return select_row<U, 1, 1, 0>(c, x, y, out, n);
    case 7: return select_row<U, 1, 1, 1>(c, x, y, out, n);
  }
}

template <typename U>
void select_apply(const array& c, const array& x, const array& y, array& out) {
  // Read the input pointers first: donating moves the buffer into `out`.
  const uint8_t* cp = static_cast<const uint8_t*>(const_cast<array&>(c).raw_data_ptr());
  const U* xp = static_cast<const U*>(const_cast<array&>(x).raw_data_ptr());
  const U* yp = static_cast<const U*>(const_cast<array&>(y).raw_data_ptr());
  if (x.is_donatable() && x.flags().row_contiguous) out.move_shared_buffer(x);
  else if (y.is_donatable() && y.flags().row_contiguous) out.move_shared_buffer(y);
  else cpu::allocate(out);
  U* op = static_cast<U*>(out.raw_data_ptr());
  if (c.flags().row_contiguous && x.flags().row_contiguous && y.flags().row_contiguous) {
    cpu::parallel_for(int64_t(out.size()), 1 << 14, [&](int64_t s, int64_t e) {
      select_row<U, 1, 1, 1>(cp + s, xp + s, yp + s, op + s, e - s);
    });
    return;
  }
  cpu::for_each_row<4>(out.shape(), {c.strides(), x.strides(), y.strides(), out.strides()},
                       [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
                         select_any<U>(cp + off[0], st[0], xp + off[1], st[1], yp + off[2], st[2], op + off[3], n);
                       });
}
}  // namespace

void Select::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array &c = inputs[0], &x = inputs[1], &y = inputs[2];
  switch (size_of(out.dtype())) {
    case 1: return select_apply<uint8_t>(c, x, y, out);
    case 2: return select_apply<uint16_t>(c, x, y, out);
    case 4: return select_apply<uint32_t>(c, x, y, out);
    case 8: return select_apply<uint64_t>(c, x, y, out);
  }
  throw std::invalid_argument(std::string("[where] unsupported element size of ") + dtype_name(out.dtype()));
}

}  // namespace alloy
