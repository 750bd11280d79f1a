// Names, equivalence and the derivative rules (vjp/jvp) of the core primitives. The rules are
// written with ops, so they run on any backend and can be differentiated again.
#include "alloy/core/primitives.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>

#include "alloy/core/ops_util.h"
#include "alloy/core/transforms.h"

namespace alloy {
using detail::fail;

std::vector<array> Primitive::vjp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  throw std::invalid_argument("[" + name() + "] has no vjp (it is not differentiable)");
}
std::vector<array> Primitive::jvp(const std::vector<array>&, const std::vector<array>&,
                                  const std::vector<int>&) {
  throw std::invalid_argument("[" + name() + "] has no jvp (it is not differentiable)");
}
std::vector<Shape> Primitive::output_shapes(const std::vector<array>&) {
  throw std::invalid_argument("[" + name() + "] cannot infer its output shapes");
}
std::vector<Dtype> Primitive::output_dtypes(const std::vector<array>&) {
  throw std::invalid_argument("[" + name() + "] cannot infer its output dtypes");
}

// Single-output linear-in-each-input helpers: jvp through the vjp-free chain rule per op.
namespace {
// Sum of per-argument tangent contributions.
array sum_tangents(const std::vector<array>& parts) {
  array out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) out = add(out, parts[i]);
  return out;
}
}  // namespace

// ---------------- Unary ----------------
const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::abs: return "abs";
    case UnaryOp::negative: return "negative";
    case UnaryOp::sign: return "sign";
    case UnaryOp::exp: return "exp";
    case UnaryOp::expm1: return "expm1";
    case UnaryOp::log: return "log";
    case UnaryOp::log1p: return "log1p";
    case UnaryOp::log2: return "log2";
    case UnaryOp::log10: return "log10";
    case UnaryOp::sqrt: return "sqrt";
    case UnaryOp::rsqrt: return "rsqrt";
    case UnaryOp::square: return "square";
    case UnaryOp::reciprocal: return "reciprocal";
    case UnaryOp::sin: return "sin";
    case UnaryOp::cos: return "cos";
    case UnaryOp::tan: return "tan";
    case UnaryOp::arcsin: return "arcsin";
    case UnaryOp::arccos: return "arccos";
    case UnaryOp::arctan: return "arctan";
    case UnaryOp::sinh: return "sinh";
    case UnaryOp::cosh: return "cosh";
    case UnaryOp::tanh: return "tanh";
    case UnaryOp::arcsinh: return "arcsinh";
    case UnaryOp::arccosh: return "arccosh";
    case UnaryOp::arctanh: return "arctanh";
    case UnaryOp::sigmoid: return "sigmoid";
    case UnaryOp::erf: return "erf";
    case UnaryOp::erfinv: return "erfinv";
    case UnaryOp::floor: return "floor";
    case UnaryOp::ceil: return "ceil";
    case UnaryOp::round: return "round";
    case UnaryOp::logical_not: return "logical_not";
    case UnaryOp::bitwise_invert: return "bitwise_invert";
    case UnaryOp::isnan: return "isnan";
    case UnaryOp::isinf: return "isinf";
  }
  return "unary";
}

bool Unary::is_equivalent(const Primitive& o) const {
  auto* u = dynamic_cast<const Unary*>(&o);
  return u && u->op_ == op_;
}

namespace {
// d op(x) / dx as an array (x the primal, y the output).
array unary_derivative(UnaryOp op, const array& x, const array& y) {
  Dtype t = x.dtype();
  auto c = [t](double v) { return array(v, t); };
  switch (op) {
    case UnaryOp::abs: return sign(x);
    case UnaryOp::negative: return full_like(x, c(-1));
    case UnaryOp::exp: return y;
    case UnaryOp::expm1: return add(y, c(1));
    case UnaryOp::log: return reciprocal(x);
    case UnaryOp::log1p: return reciprocal(add(x, c(1)));
    case UnaryOp::log2: return reciprocal(multiply(x, c(std::numbers::ln2)));
    case UnaryOp::log10: return reciprocal(multiply(x, c(std::numbers::ln10)));
    case UnaryOp::sqrt: return divide(c(0.5), y);
    case UnaryOp::rsqrt: return multiply(c(-0.5), divide(y, x));
    case UnaryOp::square: return multiply(c(2), x);
    case UnaryOp::reciprocal: return negative(square(y));
    case UnaryOp::sin: return cos(x);
    case UnaryOp::cos: return negative(sin(x));
    case UnaryOp::tan: return add(c(1), square(y));
    case UnaryOp::arcsin: return rsqrt(subtract(c(1), square(x)));
    case UnaryOp::arccos: return negative(rsqrt(subtract(c(1), square(x))));
    case UnaryOp::arctan: return reciprocal(add(c(1), square(x)));
    case UnaryOp::sinh: return cosh(x);
    case UnaryOp::cosh: return sinh(x);
    case UnaryOp::tanh: return subtract(c(1), square(y));
    case UnaryOp::arcsinh: return rsqrt(add(square(x), c(1)));
    case UnaryOp::arccosh: return rsqrt(subtract(square(x), c(1)));
    case UnaryOp::arctanh: return reciprocal(subtract(c(1), square(x)));
    case UnaryOp::sigmoid: return multiply(y, subtract(c(1), y));
    case UnaryOp::erf: return multiply(c(2.0 / std::sqrt(std::numbers::pi)), exp(negative(square(x))));
    case UnaryOp::erfinv:
      return multiply(c(std::sqrt(std::numbers::pi) / 2.0), exp(square(y)));
    case UnaryOp::sign:
    case UnaryOp::floor:
    case UnaryOp::ceil:
    case UnaryOp::round:
      return zeros_like(x);
    case UnaryOp::logical_not:
    case UnaryOp::bitwise_invert:
    case UnaryOp::isnan:
    case UnaryOp::isinf:
      return zeros_like(x);  // piecewise constant (bool or integer valued)
  }
  return zeros_like(x);
}
}  // namespace

std::vector<array> Unary::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>&, const std::vector<array>& outputs) {
  return {multiply(cotangents[0], unary_derivative(op_, primals[0], outputs[0]))};
}

std::vector<array> Unary::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>&) {
  array y = array(primals[0].shape(), primals[0].dtype(), std::make_shared<Unary>(stream(), op_), primals);
  return {multiply(tangents[0], unary_derivative(op_, primals[0], y))};
}

// ---------------- Binary ----------------
const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::subtract: return "subtract";
    case BinaryOp::multiply: return "multiply";
    case BinaryOp::divide: return "divide";
    case BinaryOp::floor_divide: return "floor_divide";
    case BinaryOp::remainder: return "remainder";
    case BinaryOp::power: return "power";
    case BinaryOp::maximum: return "maximum";
    case BinaryOp::minimum: return "minimum";
    case BinaryOp::logaddexp: return "logaddexp";
    case BinaryOp::arctan2: return "arctan2";
    case BinaryOp::equal: return "equal";
    case BinaryOp::not_equal: return "not_equal";
    case BinaryOp::less: return "less";
    case BinaryOp::less_equal: return "less_equal";
    case BinaryOp::greater: return "greater";
    case BinaryOp::greater_equal: return "greater_equal";
    case BinaryOp::logical_and: return "logical_and";
    case BinaryOp::logical_or: return "logical_or";
    case BinaryOp::bitwise_and: return "bitwise_and";
    case BinaryOp::bitwise_or: return "bitwise_or";
    case BinaryOp::bitwise_xor: return "bitwise_xor";
    case BinaryOp::left_shift: return "left_shift";
    case BinaryOp::right_shift: return "right_shift";
  }
  return "binary";
}

bool is_comparison(BinaryOp op) {
  return op == BinaryOp::equal || op == BinaryOp::not_equal || op == BinaryOp::less ||
         op == BinaryOp::less_equal || op == BinaryOp::greater || op == BinaryOp::greater_equal;
}

bool Binary::is_equivalent(const Primitive& o) const {
  auto* b = dynamic_cast<const Binary*>(&o);
  return b && b->op_ == op_;
}

namespace {
// (d out/d a, d out/d b) for the differentiable binary ops.
std::pair<array, array> binary_partials(BinaryOp op, const array& a, const array& b, const array& y) {
  Dtype t = a.dtype();
  auto c = [t](double v) { return array(v, t); };
  switch (op) {
    case BinaryOp::add: return {ones_like(a), ones_like(b)};
    case BinaryOp::subtract: return {ones_like(a), full_like(b, c(-1))};
    case BinaryOp::multiply: return {b, a};
    case BinaryOp::divide: return {reciprocal(b), negative(divide(y, b))};
    case BinaryOp::power: {
      // d/da = b a^(b-1); d/db = y log(a), defined as 0 where a == 0.
      array da = multiply(b, power(a, subtract(b, c(1))));
      array db = where(equal(a, c(0)), zeros_like(y), multiply(y, log(a)));
      return {da, db};
    }
    case BinaryOp::maximum: {
      array pick_a = astype(greater_equal(a, b), t);
      return {pick_a, subtract(c(1), pick_a)};
    }
    case BinaryOp::minimum: {
      array pick_a = astype(less_equal(a, b), t);
      return {pick_a, subtract(c(1), pick_a)};
    }
    case BinaryOp::logaddexp: {
      array sa = exp(subtract(a, y));
      return {sa, exp(subtract(b, y))};
    }
    case BinaryOp::arctan2: {
      array denom = add(square(a), square(b));
      return {divide(b, denom), negative(divide(a, denom))};
    }
    case BinaryOp::remainder:
      return {ones_like(a), negative(floor_divide(a, b))};
    case BinaryOp::floor_divide:
      return {zeros_like(a), zeros_like(b)};
    case BinaryOp::equal: case BinaryOp::not_equal: case BinaryOp::less:
    case BinaryOp::less_equal: case BinaryOp::greater: case BinaryOp::greater_equal:
    case BinaryOp::logical_and: case BinaryOp::logical_or: case BinaryOp::bitwise_and:
    case BinaryOp::bitwise_or: case BinaryOp::bitwise_xor: case BinaryOp::left_shift:
    case BinaryOp::right_shift:
      return {zeros_like(a), zeros_like(b)};
  }
  return {zeros_like(a), zeros_like(b)};
}
}  // namespace

std::vector<array> Binary::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>& outputs) {
  if (!is_floating(primals[0].dtype()) || is_comparison(op_)) {
    std::vector<array> z;
    for (int a : argnums) z.push_back(zeros_like(primals[a]));
    return z;
  }
  auto [da, db] = binary_partials(op_, primals[0], primals[1], outputs[0]);
  std::vector<array> out;
  for (int a : argnums) out.push_back(multiply(cotangents[0], a == 0 ? da : db));
  return out;
}

std::vector<array> Binary::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  Dtype out_t = is_comparison(op_) ? bool_ : primals[0].dtype();
  if (!is_floating(out_t)) return {zeros(primals[0].shape(), out_t)};
  array y(primals[0].shape(), out_t, std::make_shared<Binary>(stream(), op_), primals);
  auto [da, db] = binary_partials(op_, primals[0], primals[1], y);
  std::vector<array> parts;
  for (size_t k = 0; k < argnums.size(); ++k) parts.push_back(multiply(tangents[k], argnums[k] == 0 ? da : db));
  return {sum_tangents(parts)};
}

// ---------------- Select, AsType, Copy, Full, Arange ----------------
std::vector<array> Select::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  array zero = zeros({}, cotangents[0].dtype());
  for (int a : argnums) {
    if (a == 0) out.push_back(zeros_like(primals[0]));
    else if (a == 1) out.push_back(where(primals[0], cotangents[0], zero));
    else out.push_back(where(primals[0], zero, cotangents[0]));
  }
  return out;
}
std::vector<array> Select::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  array tx = zeros_like(primals[1]), ty = zeros_like(primals[2]);
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 1) tx = tangents[k];
    if (argnums[k] == 2) ty = tangents[k];
  }
  return {where(primals[0], tx, ty)};
}

bool AsType::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const AsType*>(&o);
  return p && p->dtype_ == dtype_;
}
std::vector<array> AsType::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>&, const std::vector<array>&) {
  if (!is_floating(primals[0].dtype())) return {zeros_like(primals[0])};
  return {astype(cotangents[0], primals[0].dtype())};
}
std::vector<array> AsType::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                               const std::vector<int>&) {
  return {astype(tangents[0], dtype_)};
}

bool Copy::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Copy*>(&o);
  return p && p->stop_gradient_ == stop_gradient_;
}
std::vector<array> Copy::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) {
  return {stop_gradient_ ? zeros_like(primals[0]) : cotangents[0]};
}
std::vector<array> Copy::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  return {stop_gradient_ ? zeros_like(primals[0]) : tangents[0]};
}

std::vector<array> Full::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>&) {
  return {reshape(sum(cotangents[0]), primals[0].shape())};
}
std::vector<array> Full::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  return {broadcast_to(tangents[0], shape_)};
}

bool Arange::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Arange*>(&o);
  return p && p->start_ == start_ && p->step_ == step_;
}

// ---------------- views ----------------
bool Reshape::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Reshape*>(&o);
  return p && p->shape_ == shape_;
}
std::vector<array> Reshape::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>&, const std::vector<array>&) {
  return {reshape(cotangents[0], primals[0].shape())};
}
std::vector<array> Reshape::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                const std::vector<int>&) {
  return {reshape(tangents[0], shape_)};
}

bool Transpose::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Transpose*>(&o);
  return p && p->axes_ == axes_;
}
std::vector<array> Transpose::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>&) {
  Axes inverse(axes_.size());
  for (size_t i = 0; i < axes_.size(); ++i) inverse[axes_[i]] = int(i);
  return {transpose(cotangents[0], inverse)};
}
std::vector<array> Transpose::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                  const std::vector<int>&) {
  return {transpose(tangents[0], Axes(axes_.begin(), axes_.end()))};
}

bool Slice::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Slice*>(&o);
  return p && p->start_ == start_ && p->step_ == step_;
}
namespace {
// Python-style stop for a slice of `len` elements from `start` with `step`.
Shape slice_stops(const Shape& start, const Shape& step, const Shape& out_shape, const Shape& in_shape) {
  Shape stop;
  for (size_t i = 0; i < start.size(); ++i) {
    int64_t last = start[i] + step[i] * (out_shape[i] - 1);
    int64_t st = out_shape[i] == 0 ? start[i] : last + (step[i] > 0 ? 1 : -1);
    // A stop of -1 with a negative step means "before 0"; write it as -(n + 1).
    if (st < 0) st = -in_shape[i] - 1;
    stop.push_back(st);
  }
  return stop;
}
}  // namespace
std::vector<array> Slice::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>&, const std::vector<array>&) {
  Shape stop = slice_stops(start_, step_, shape_, primals[0].shape());
  return {slice_update(zeros_like(primals[0]), cotangents[0], start_, stop, step_)};
}
std::vector<array> Slice::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>&) {
  Shape stop = slice_stops(start_, step_, shape_, primals[0].shape());
  return {slice(tangents[0], start_, stop, step_)};
}

bool Broadcast::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Broadcast*>(&o);
  return p && p->shape_ == shape_;
}
std::vector<array> Broadcast::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>&) {
  const Shape& in = primals[0].shape();
  int lead = int(shape_.size() - in.size());
  Axes axes;
  for (int i = 0; i < int(shape_.size()); ++i) {
    if (i < lead || (in[i - lead] == 1 && shape_[i] != 1)) axes.push_back(i);
  }
  array g = axes.empty() ? cotangents[0] : sum(cotangents[0], axes, true);
  return {reshape(g, in)};
}
std::vector<array> Broadcast::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                  const std::vector<int>&) {
  return {broadcast_to(tangents[0], shape_)};
}

bool AsStrided::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const AsStrided*>(&o);
  return p && p->shape_ == shape_ && p->strides_ == strides_ && p->offset_ == offset_;
}
std::vector<array> AsStrided::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>&, const std::vector<array>&) {
  // Scatter-add the cotangent back through the index map of the view.
  int64_t n = int64_t(primals[0].size());
  array idx = as_strided(arange(0.0, double(n), 1.0, int64), shape_, strides_, offset_);
  array flat = zeros({n}, cotangents[0].dtype());
  flat = scatter_add(flat, {flatten(idx)}, reshape(cotangents[0], {-1, 1}), Axes{0});
  return {reshape(flat, primals[0].shape())};
}
std::vector<array> AsStrided::jvp(const std::vector<array>&, const std::vector<array>& tangents,
                                  const std::vector<int>&) {
  return {as_strided(tangents[0], shape_, strides_, offset_)};
}

int64_t DynamicSliceUpdate::element_offset(const int32_t* start, const array& out, const array& update) const {
  int64_t off = 0;
  for (size_t i = 0; i < axes_.size(); ++i) {
    int d = axes_[i];
    int64_t at = std::clamp<int64_t>(start[i], 0, out.shape(d) - update.shape(d));
    off += at * out.strides()[d];
  }
  return off;
}

std::vector<array> SliceUpdate::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  Shape stop = slice_stops(start_, step_, primals[1].shape(), primals[0].shape());
  std::vector<array> out;
  for (int a : argnums) {
    if (a == 0) out.push_back(slice_update(cotangents[0], zeros_like(primals[1]), start_, stop, step_));
    else out.push_back(slice(cotangents[0], start_, stop, step_));
  }
  return out;
}
std::vector<array> SliceUpdate::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  array ta = zeros_like(primals[0]), tu = zeros_like(primals[1]);
  for (size_t k = 0; k < argnums.size(); ++k) (argnums[k] == 0 ? ta : tu) = tangents[k];
  Shape stop = slice_stops(start_, step_, primals[1].shape(), primals[0].shape());
  return {slice_update(ta, tu, start_, stop, step_)};
}

}  // namespace alloy
