// Random ops: RandomBits nodes plus compositions of ops (see random.h for the bit-to-float
// mappings). The global key lives on the host and is split there, so drawing without a key
// never grows a graph chain.
#include "alloy/core/random.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <numbers>

#include "alloy/core/ops_util.h"

namespace alloy::random {
using detail::fail;

namespace {

struct GlobalKey {
  std::mutex mutex;
  std::array<uint32_t, 2> key;
  GlobalKey() {
    auto t = uint64_t(std::chrono::system_clock::now().time_since_epoch().count());
    key = {uint32_t(t >> 32), uint32_t(t)};
  }
};

GlobalKey& global_key() {
  static GlobalKey g;
  return g;
}

// split(global, 2): keep block 0 as the new global key, hand out block 1.
array next_key() {
  auto& g = global_key();
  std::lock_guard<std::mutex> lock(g.mutex);
  auto keep = threefry2x32(g.key, {0, 0});
  auto out = threefry2x32(g.key, {1, 0});
  g.key = keep;
  return array({out[0], out[1]});
}

// The given key (checked: uint32 of shape (2,), or (..., 2) when batched) or a fresh one.
array resolve_key(const std::optional<array>& key, const char* op, bool batched = false) {
  if (!key) return next_key();
  const array& k = *key;
  bool shape_ok = batched ? (k.ndim() >= 1 && k.shape(-1) == 2) : (k.ndim() == 1 && k.shape(0) == 2);
  if (k.dtype() != uint32 || !shape_ok) {
    fail(op, "a key is a uint32 array of shape ", batched ? "(..., 2)" : "(2,)", ", got ", k.dtype(), " ",
         shape_to_string(k.shape()));
  }
  return k;
}

void check_shape(const Shape& shape, const char* op) {
  for (auto n : shape) {
    if (n < 0) fail(op, "negative dimension in shape ", shape_to_string(shape));
  }
}

// The shape of a parameter broadcast against `shape` must be `shape`.
void check_broadcasts(const array& param, const Shape& shape, const char* op, const char* what) {
  bool ok = true;
  try {
    ok = broadcast_shapes(param.shape(), shape) == shape;
  } catch (const std::invalid_argument&) {
    ok = false;
  }
  if (!ok) {
    fail(op, what, " of shape ", shape_to_string(param.shape()), " does not broadcast to the shape ",
         shape_to_string(shape));
  }
}

void check_float(Dtype t, const char* op) {
  if (!is_floating(t)) fail(op, "needs a floating-point dtype, got ", t);
}

Dtype compute_type(Dtype t) { return t == float64 ? float64 : float32; }

// Floats from bits in [0, 1) (open = false) or (0, 1) (open = true), in `compute`.
array unit_float(const Shape& shape, Dtype compute, bool open, const array& key, Stream s) {
  if (compute == float64) {
    array b = bits(shape, 8, key, s);
    if (!open) return multiply(astype(right_shift(b, array(uint64_t(11)), s), float64, s), array(0x1p-53), s);
    array k = astype(right_shift(b, array(uint64_t(12)), s), float64, s);
    return multiply(add(k, array(0.5), s), array(0x1p-52), s);
  }
  array b = bits(shape, 4, key, s);
  if (!open) return multiply(astype(right_shift(b, array(uint32_t(8)), s), float32, s), array(0x1p-24f), s);
  array k = astype(right_shift(b, array(uint32_t(9)), s), float32, s);
  return multiply(add(k, array(0.5f), s), array(0x1p-23f), s);
}

// Machine epsilon of a float dtype (spacing just above 1).
double epsilon(Dtype t) {
  switch (t) {
    case Dtype::float16: return 0x1p-10;
    case Dtype::bfloat16: return 0x1p-7;
    case Dtype::float32: return 0x1p-23;
    case Dtype::float64: return 0x1p-52;
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      return 0;
  }
  return 0;
}

}  // namespace

array key(uint64_t seed) { return array({uint32_t(seed >> 32), uint32_t(seed & 0xffffffffu)}); }

void seed(uint64_t seed) {
  auto& g = global_key();
  std::lock_guard<std::mutex> lock(g.mutex);
  g.key = {uint32_t(seed >> 32), uint32_t(seed & 0xffffffffu)};
}

array split(const array& key, int num, SD s) {
  if (num < 1) fail("random::split", "num must be >= 1, got ", num);
  return bits({num, 2}, 4, resolve_key(key, "random::split"), s);
}

array bits(const Shape& shape, int width, std::optional<array> key_in, SD sd) {
  check_shape(shape, "random::bits");
  if (width != 1 && width != 2 && width != 4 && width != 8) {
    fail("random::bits", "width must be 1, 2, 4 or 8 bytes, got ", width);
  }
  Stream s = to_stream(sd);
  array k = resolve_key(key_in, "random::bits", true);
  Shape words = shape;
  if (width == 8) words.push_back(2);
  Shape out(k.shape().begin(), k.shape().end() - 1);
  out.insert(out.end(), words.begin(), words.end());
  array b(out, uint32, std::make_shared<RandomBits>(s, words), {k});
  if (width == 1) return astype(b, uint8, s);
  if (width == 2) return astype(b, uint16, s);
  if (width == 4) return b;
  // (..., shape, 2) words -> (word0 << 32) | word1.
  Shape start(out.size(), 0), stop = out;
  stop.back() = 1;
  array hi = astype(squeeze(slice(b, start, stop, s), Axes{-1}, s), uint64, s);
  start.back() = 1;
  stop.back() = 2;
  array lo = astype(squeeze(slice(b, start, stop, s), Axes{-1}, s), uint64, s);
  return bitwise_or(left_shift(hi, array(uint64_t(32)), s), lo, s);
}

array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype, std::optional<array> key,
              SD sd) {
  check_float(dtype, "random::uniform");
  check_shape(shape, "random::uniform");
  check_broadcasts(low, shape, "random::uniform", "low");
  check_broadcasts(high, shape, "random::uniform", "high");
  Stream s = to_stream(sd);
  Dtype c = compute_type(dtype);
  array u = unit_float(shape, c, false, resolve_key(key, "random::uniform"), s);
  array lo = astype(low, c, s), hi = astype(high, c, s);
  array out = astype(add(lo, multiply(subtract(hi, lo, s), u, s), s), dtype, s);
  // Rounding can land on `high`: clamp to a value just below it in the output dtype.
  array hi_t = astype(high, dtype, s);
  array below = subtract(hi_t, multiply(abs(hi_t, s), array(epsilon(dtype), dtype), s), s);
  return minimum(out, below, s);
}

array uniform(const Shape& shape, Dtype dtype, double low, double high, std::optional<array> key, SD s) {
  check_float(dtype, "random::uniform");
  Dtype c = compute_type(dtype);
  return uniform(array(low, c), array(high, c), shape, dtype, std::move(key), s);
}

array normal(const Shape& shape, Dtype dtype, double loc, double scale, std::optional<array> key, SD sd) {
  check_float(dtype, "random::normal");
  check_shape(shape, "random::normal");
  Stream s = to_stream(sd);
  Dtype c = compute_type(dtype);
  array u = unit_float(shape, c, true, resolve_key(key, "random::normal"), s);
  // 2u - 1 is exact and symmetric in (-1, 1).
  array z = multiply(erfinv(subtract(multiply(u, array(2.0, c), s), array(1.0, c), s), s),
                     array(std::numbers::sqrt2, c), s);
  if (loc != 0.0 || scale != 1.0) z = add(multiply(z, array(scale, c), s), array(loc, c), s);
  return astype(z, dtype, s);
}

array truncated_normal(const array& lower, const array& upper, const Shape& shape, Dtype dtype,
                       std::optional<array> key, SD sd) {
  check_float(dtype, "random::truncated_normal");
  check_shape(shape, "random::truncated_normal");
  check_broadcasts(lower, shape, "random::truncated_normal", "lower");
  check_broadcasts(upper, shape, "random::truncated_normal", "upper");
  Stream s = to_stream(sd);
  // Inverse CDF in float64: erf of the bounds, a uniform between them, erfinv back.
  array lo = astype(lower, float64, s), hi = astype(upper, float64, s);
  array r2 = array(std::numbers::sqrt2);
  array a = erf(divide(lo, r2, s), s), b = erf(divide(hi, r2, s), s);
  array u = unit_float(shape, float64, true, resolve_key(key, "random::truncated_normal"), s);
  array z = multiply(erfinv(add(a, multiply(subtract(b, a, s), u, s), s), s), r2, s);
  return astype(clip(z, lo, hi, s), dtype, s);
}

array truncated_normal(const array& lower, const array& upper, Dtype dtype, std::optional<array> key, SD s) {
  Shape shape;
  try {
    shape = broadcast_shapes(lower.shape(), upper.shape());
  } catch (const std::invalid_argument&) {
    fail("random::truncated_normal", "lower of shape ", shape_to_string(lower.shape()), " and upper of shape ",
         shape_to_string(upper.shape()), " cannot be broadcast together");
  }
  return truncated_normal(lower, upper, shape, dtype, std::move(key), s);
}

array randint(const array& low, const array& high, const Shape& shape, Dtype dtype, std::optional<array> key,
              SD sd) {
  if (!is_integral(dtype)) fail("random::randint", "needs an integer dtype, got ", dtype);
  check_shape(shape, "random::randint");
  check_broadcasts(low, shape, "random::randint", "low");
  check_broadcasts(high, shape, "random::randint", "high");
  if (low.is_available() && high.is_available() && low.size() == 1 && high.size() == 1) {
    double range = array(high).item<double>() - array(low).item<double>();
    if (range > 0x1p32) fail("random::randint", "the range [low, high) is wider than 2^32");
  }
  Stream s = to_stream(sd);
  array lo = astype(low, int64, s), hi = astype(high, int64, s);
  array range = astype(maximum(subtract(hi, lo, s), array(int64_t(0)), s), uint64, s);
  array b = astype(bits(shape, 4, resolve_key(key, "random::randint"), s), uint64, s);
  // (b * range) >> 32 is uniform on [0, range) up to a bias of range / 2^32.
  array r = right_shift(multiply(b, range, s), array(uint64_t(32)), s);
  return astype(add(astype(r, int64, s), lo, s), dtype, s);
}

array bernoulli(const array& p, const Shape& shape, std::optional<array> key, SD sd) {
  check_shape(shape, "random::bernoulli");
  check_broadcasts(p, shape, "random::bernoulli", "p");
  Stream s = to_stream(sd);
  Dtype c = p.dtype() == float64 ? float64 : float32;
  array u = unit_float(shape, c, false, resolve_key(key, "random::bernoulli"), s);
  return less(u, astype(p, c, s), s);
}

array bernoulli(const array& p, std::optional<array> key, SD s) { return bernoulli(p, p.shape(), std::move(key), s); }

array gumbel(const Shape& shape, Dtype dtype, std::optional<array> key, SD sd) {
  check_float(dtype, "random::gumbel");
  check_shape(shape, "random::gumbel");
  Stream s = to_stream(sd);
  array u = unit_float(shape, compute_type(dtype), true, resolve_key(key, "random::gumbel"), s);
  return astype(negative(log(negative(log(u, s), s), s), s), dtype, s);
}

array categorical(const array& logits, int axis, std::optional<int> num_samples, std::optional<array> key, SD sd) {
  if (logits.ndim() == 0) fail("random::categorical", "needs logits with at least 1 dimension");
  int ax = normalize_axis(axis, logits.ndim(), "random::categorical");
  Stream s = to_stream(sd);
  Dtype c = compute_type(float_result_type(logits.dtype()));
  array k = resolve_key(key, "random::categorical");
  array l = astype(moveaxis(logits, ax, -1, s), c, s);  // (B..., V)
  if (!num_samples) return argmax(add(l, gumbel(l.shape(), c, k, s), s), -1, false, s);
  if (*num_samples < 0) fail("random::categorical", "num_samples must be >= 0, got ", *num_samples);
  l = expand_dims(l, -2, s);  // (B..., 1, V)
  Shape shape = l.shape();
  shape[shape.size() - 2] = *num_samples;
  return argmax(add(l, gumbel(shape, c, k, s), s), -1, false, s);  // (B..., num_samples)
}

array permutation(int64_t n, std::optional<array> key, SD sd) {
  if (n < 0) fail("random::permutation", "n must be >= 0, got ", n);
  Stream s = to_stream(sd);
  array order = argsort(bits({n}, 4, resolve_key(key, "random::permutation"), s), -1, s);
  return astype(order, n < (int64_t(1) << 31) ? int32 : int64, s);
}

array permutation(const array& x, int axis, std::optional<array> key, SD sd) {
  if (x.ndim() == 0) fail("random::permutation", "needs an array with at least 1 dimension");
  int ax = normalize_axis(axis, x.ndim(), "random::permutation");
  Stream s = to_stream(sd);
  array order = argsort(bits({x.shape(ax)}, 4, resolve_key(key, "random::permutation"), s), -1, s);
  return take(x, order, ax, s);
}

}  // namespace alloy::random
