// Elementwise ops: unary, binary, where, clip, astype and the C++ operators.
#include <cmath>
#include <limits>

#include "alloy/core/ops_util.h"
#include "alloy/core/transforms.h"

namespace alloy {
using detail::fail;

array astype(const array& a, Dtype dtype, SD s) {
  if (a.dtype() == dtype) return a;
  return array(a.shape(), dtype, std::make_shared<AsType>(to_stream(s), dtype), {a});
}

array copy(const array& a, SD s) {
  return array(a.shape(), a.dtype(), std::make_shared<Copy>(to_stream(s)), {a});
}

array contiguous(const array& a, SD s) {
  if (a.is_available() && a.flags().row_contiguous && !a.error()) return a;
  return copy(a, s);
}

array stop_gradient(const array& a, SD s) {
  return array(a.shape(), a.dtype(), std::make_shared<Copy>(to_stream(s), true), {a});
}

namespace {

enum class UnaryKind { float_fn, same, to_bool, integer_only, rounding };

UnaryKind unary_kind(UnaryOp op) {
  switch (op) {
    case UnaryOp::abs:
    case UnaryOp::negative:
    case UnaryOp::sign:
    case UnaryOp::square:
      return UnaryKind::same;
    case UnaryOp::floor:
    case UnaryOp::ceil:
    case UnaryOp::round:
      return UnaryKind::rounding;
    case UnaryOp::logical_not:
    case UnaryOp::isnan:
    case UnaryOp::isinf:
      return UnaryKind::to_bool;
    case UnaryOp::bitwise_invert:
      return UnaryKind::integer_only;
    case UnaryOp::exp: case UnaryOp::expm1: case UnaryOp::log: case UnaryOp::log1p:
    case UnaryOp::log2: case UnaryOp::log10: case UnaryOp::sqrt: case UnaryOp::rsqrt:
    case UnaryOp::reciprocal: case UnaryOp::sin: case UnaryOp::cos: case UnaryOp::tan:
    case UnaryOp::arcsin: case UnaryOp::arccos: case UnaryOp::arctan: case UnaryOp::sinh:
    case UnaryOp::cosh: case UnaryOp::tanh: case UnaryOp::arcsinh: case UnaryOp::arccosh:
    case UnaryOp::arctanh: case UnaryOp::sigmoid: case UnaryOp::erf: case UnaryOp::erfinv:
      return UnaryKind::float_fn;
  }
  return UnaryKind::same;
}

array unary(UnaryOp op, const array& a, SD sd) {
  Stream s = to_stream(sd);
  const char* name = unary_op_name(op);
  switch (unary_kind(op)) {
    case UnaryKind::float_fn: {
      Dtype t = float_result_type(a.dtype());
      return array(a.shape(), t, std::make_shared<Unary>(s, op), {astype(a, t, s)});
    }
    case UnaryKind::same:
      if (a.dtype() == bool_ && op != UnaryOp::abs) {
        fail(name, "is not defined for bool arrays; use logical_not or astype first");
      }
      return array(a.shape(), a.dtype(), std::make_shared<Unary>(s, op), {a});
    case UnaryKind::rounding:
      if (!is_floating(a.dtype())) return a;
      return array(a.shape(), a.dtype(), std::make_shared<Unary>(s, op), {a});
    case UnaryKind::to_bool:
      if (op != UnaryOp::logical_not && !is_floating(a.dtype())) return zeros(a.shape(), bool_, s);
      return array(a.shape(), bool_, std::make_shared<Unary>(s, op), {a});
    case UnaryKind::integer_only:
      if (is_floating(a.dtype())) fail(name, "needs an integer or bool array, got ", a.dtype());
      return array(a.shape(), a.dtype(), std::make_shared<Unary>(s, op), {a});
  }
  return a;
}

}  // namespace

#define ALLOY_UNARY_OP(NAME) \
  array NAME(const array& a, SD s) { return unary(UnaryOp::NAME, a, s); }
ALLOY_UNARY_OP(abs)
ALLOY_UNARY_OP(negative)
ALLOY_UNARY_OP(sign)
ALLOY_UNARY_OP(exp)
ALLOY_UNARY_OP(expm1)
ALLOY_UNARY_OP(log)
ALLOY_UNARY_OP(log1p)
ALLOY_UNARY_OP(log2)
ALLOY_UNARY_OP(log10)
ALLOY_UNARY_OP(sqrt)
ALLOY_UNARY_OP(rsqrt)
ALLOY_UNARY_OP(square)
ALLOY_UNARY_OP(reciprocal)
ALLOY_UNARY_OP(sin)
ALLOY_UNARY_OP(cos)
ALLOY_UNARY_OP(tan)
ALLOY_UNARY_OP(arcsin)
ALLOY_UNARY_OP(arccos)
ALLOY_UNARY_OP(arctan)
ALLOY_UNARY_OP(sinh)
ALLOY_UNARY_OP(cosh)
ALLOY_UNARY_OP(tanh)
ALLOY_UNARY_OP(arcsinh)
ALLOY_UNARY_OP(arccosh)
ALLOY_UNARY_OP(arctanh)
ALLOY_UNARY_OP(sigmoid)
ALLOY_UNARY_OP(erf)
ALLOY_UNARY_OP(erfinv)
ALLOY_UNARY_OP(floor)
ALLOY_UNARY_OP(ceil)
ALLOY_UNARY_OP(round)
ALLOY_UNARY_OP(isnan)
ALLOY_UNARY_OP(isinf)
ALLOY_UNARY_OP(logical_not)
ALLOY_UNARY_OP(bitwise_invert)
#undef ALLOY_UNARY_OP

array isfinite(const array& a, SD s) {
  return logical_not(logical_or(isnan(a, s), isinf(a, s), s), s);
}

namespace {

enum class BinaryKind { arithmetic, true_divide, float_fn, comparison, logical, integer_only };

BinaryKind binary_kind(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: case BinaryOp::subtract: case BinaryOp::multiply:
    case BinaryOp::floor_divide: case BinaryOp::remainder: case BinaryOp::power:
    case BinaryOp::maximum: case BinaryOp::minimum:
      return BinaryKind::arithmetic;
    case BinaryOp::divide:
      return BinaryKind::true_divide;
    case BinaryOp::logaddexp: case BinaryOp::arctan2:
      return BinaryKind::float_fn;
    case BinaryOp::equal: case BinaryOp::not_equal: case BinaryOp::less:
    case BinaryOp::less_equal: case BinaryOp::greater: case BinaryOp::greater_equal:
      return BinaryKind::comparison;
    case BinaryOp::logical_and: case BinaryOp::logical_or:
      return BinaryKind::logical;
    case BinaryOp::bitwise_and: case BinaryOp::bitwise_or: case BinaryOp::bitwise_xor:
    case BinaryOp::left_shift: case BinaryOp::right_shift:
      return BinaryKind::integer_only;
  }
  return BinaryKind::arithmetic;
}

array binary(BinaryOp op, const array& a, const array& b, SD sd) {
  Stream s = to_stream(sd);
  const char* name = binary_op_name(op);
  Dtype t = detail::result_type(a, b);
  Dtype out_t = t;
  switch (binary_kind(op)) {
    case BinaryKind::arithmetic:
      if (t == bool_ && op != BinaryOp::maximum && op != BinaryOp::minimum &&
          op != BinaryOp::multiply && op != BinaryOp::add) {
        fail(name, "is not defined for bool arrays");
      }
      break;
    case BinaryKind::true_divide:
    case BinaryKind::float_fn:
      t = out_t = float_result_type(t);
      break;
    case BinaryKind::comparison:
      out_t = bool_;
      break;
    case BinaryKind::logical:
      t = out_t = bool_;
      break;
    case BinaryKind::integer_only:
      if (is_floating(t)) fail(name, "needs integer or bool arrays, got ", a.dtype(), " and ", b.dtype());
      break;
  }
  auto [x, y] = detail::broadcast_pair(a, b, t, s, name);
  return array(x.shape(), out_t, std::make_shared<Binary>(s, op), {x, y});
}

}  // namespace

#define ALLOY_BINARY_OP(NAME) \
  array NAME(const array& a, const array& b, SD s) { return binary(BinaryOp::NAME, a, b, s); }
ALLOY_BINARY_OP(add)
ALLOY_BINARY_OP(subtract)
ALLOY_BINARY_OP(multiply)
ALLOY_BINARY_OP(divide)
ALLOY_BINARY_OP(floor_divide)
ALLOY_BINARY_OP(remainder)
ALLOY_BINARY_OP(power)
ALLOY_BINARY_OP(maximum)
ALLOY_BINARY_OP(minimum)
ALLOY_BINARY_OP(logaddexp)
ALLOY_BINARY_OP(arctan2)
ALLOY_BINARY_OP(equal)
ALLOY_BINARY_OP(not_equal)
ALLOY_BINARY_OP(less)
ALLOY_BINARY_OP(less_equal)
ALLOY_BINARY_OP(greater)
ALLOY_BINARY_OP(greater_equal)
ALLOY_BINARY_OP(logical_and)
ALLOY_BINARY_OP(logical_or)
ALLOY_BINARY_OP(bitwise_and)
ALLOY_BINARY_OP(bitwise_or)
ALLOY_BINARY_OP(bitwise_xor)
ALLOY_BINARY_OP(left_shift)
ALLOY_BINARY_OP(right_shift)
#undef ALLOY_BINARY_OP

array where(const array& condition, const array& x, const array& y, SD sd) {
  Stream s = to_stream(sd);
  Dtype t = detail::result_type(x, y);
  Shape shape;
  try {
    shape = broadcast_shapes(broadcast_shapes(condition.shape(), x.shape()), y.shape());
  } catch (const std::invalid_argument&) {
    fail("where", "shapes ", shape_to_string(condition.shape()), ", ", shape_to_string(x.shape()),
         " and ", shape_to_string(y.shape()), " cannot be broadcast together");
  }
  return array(shape, t, std::make_shared<Select>(s),
               {broadcast_to(astype(condition, bool_, s), shape, s),
                broadcast_to(astype(x, t, s), shape, s), broadcast_to(astype(y, t, s), shape, s)});
}

array clip(const array& a, std::optional<array> a_min, std::optional<array> a_max, SD s) {
  if (!a_min && !a_max) fail("clip", "needs a_min, a_max or both");
  array out = a;
  if (a_min) out = maximum(out, *a_min, s);
  if (a_max) out = minimum(out, *a_max, s);
  return out;
}

bool allclose(const array& a, const array& b, double rtol, double atol, bool equal_nan) {
  array ad = astype(a, float64), bd = astype(b, float64);
  array close = less_equal(abs(subtract(ad, bd)), add(array(atol), multiply(array(rtol), abs(bd))));
  close = logical_or(close, equal(ad, bd));  // equal infinities
  if (equal_nan) close = logical_or(close, logical_and(isnan(ad), isnan(bd)));
  return all(close).item<bool>();
}

bool array_equal(const array& a, const array& b, bool equal_nan) {
  if (a.shape() != b.shape()) return false;
  array eq = equal(a, b);
  if (equal_nan && is_floating(detail::result_type(a, b))) {
    eq = logical_or(eq, logical_and(isnan(a), isnan(b)));
  }
  return all(eq).item<bool>();
}

array operator-(const array& a) { return negative(a); }
array operator!(const array& a) { return logical_not(a); }
array operator~(const array& a) { return bitwise_invert(a); }
array operator+(const array& a, const array& b) { return add(a, b); }
array operator-(const array& a, const array& b) { return subtract(a, b); }
array operator*(const array& a, const array& b) { return multiply(a, b); }
array operator/(const array& a, const array& b) { return divide(a, b); }
array operator%(const array& a, const array& b) { return remainder(a, b); }
array operator==(const array& a, const array& b) { return equal(a, b); }
array operator!=(const array& a, const array& b) { return not_equal(a, b); }
array operator<(const array& a, const array& b) { return less(a, b); }
array operator<=(const array& a, const array& b) { return less_equal(a, b); }
array operator>(const array& a, const array& b) { return greater(a, b); }
array operator>=(const array& a, const array& b) { return greater_equal(a, b); }
array operator&&(const array& a, const array& b) { return logical_and(a, b); }
array operator||(const array& a, const array& b) { return logical_or(a, b); }
array operator&(const array& a, const array& b) { return bitwise_and(a, b); }
array operator|(const array& a, const array& b) { return bitwise_or(a, b); }
array operator^(const array& a, const array& b) { return bitwise_xor(a, b); }
array operator<<(const array& a, const array& b) { return left_shift(a, b); }
array operator>>(const array& a, const array& b) { return right_shift(a, b); }

}  // namespace alloy
