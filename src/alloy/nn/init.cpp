#include "alloy/nn/init.h"

#include <cmath>
#include <stdexcept>
#include <vector>

#include "alloy/core/ops.h"
#include "alloy/core/random.h"

namespace alloy::nn::init {
namespace {

void require_floating(Dtype dtype, const char* op) {
  if (!is_floating(dtype)) {
    throw std::invalid_argument(std::string("[init::") + op + "] needs a floating dtype, got " +
                                dtype_name(dtype));
  }
}

int64_t fan_for(const Shape& shape, const std::string& mode, const char* op) {
  auto [fan_in, fan_out] = fans(shape);
  if (mode == "fan_in") return fan_in;
  if (mode == "fan_out") return fan_out;
  throw std::invalid_argument(std::string("[init::") + op + "] mode must be fan_in or fan_out, got '" +
                              mode + "'");
}

}  // namespace

std::pair<int64_t, int64_t> fans(const Shape& shape) {
  if (shape.size() < 2) {
    throw std::invalid_argument("[init::fans] needs at least 2 dimensions, got shape " +
                                shape_to_string(shape));
  }
  int64_t receptive = 1;
  for (size_t i = 1; i + 1 < shape.size(); ++i) receptive *= shape[i];
  return {shape.back() * receptive, shape.front() * receptive};
}

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity.rfind("conv", 0) == 0) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 0.75;
  throw std::invalid_argument("[init::calculate_gain] unknown nonlinearity '" + nonlinearity + "'");
}

array constant(const Shape& shape, double value, Dtype dtype) {
  return full(shape, array(value), dtype);
}

array uniform(const Shape& shape, double low, double high, Dtype dtype, Key key) {
  require_floating(dtype, "uniform");
  return random::uniform(shape, dtype, low, high, key);
}

array normal(const Shape& shape, double mean, double std, Dtype dtype, Key key) {
  require_floating(dtype, "normal");
  return random::normal(shape, dtype, mean, std, key);
}

array truncated_normal(const Shape& shape, double mean, double std, double a, double b, Dtype dtype,
                       Key key) {
  require_floating(dtype, "truncated_normal");
  if (!(std > 0) || !(a < b)) {
    throw std::invalid_argument("[init::truncated_normal] needs std > 0 and a < b");
  }
  // Standard normal in [(a - mean) / std, (b - mean) / std], then scaled.
  array z = random::truncated_normal(array((a - mean) / std), array((b - mean) / std), shape, float32, key);
  return astype(add(multiply(z, array(float(std))), array(float(mean))), dtype);
}

array xavier_uniform(const Shape& shape, double gain, Dtype dtype, Key key) {
  auto [fan_in, fan_out] = fans(shape);
  double bound = gain * std::sqrt(6.0 / double(fan_in + fan_out));
  return uniform(shape, -bound, bound, dtype, key);
}

array xavier_normal(const Shape& shape, double gain, Dtype dtype, Key key) {
  auto [fan_in, fan_out] = fans(shape);
  return normal(shape, 0.0, gain * std::sqrt(2.0 / double(fan_in + fan_out)), dtype, key);
}

array kaiming_uniform(const Shape& shape, double a, const std::string& mode,
                      const std::string& nonlinearity, Dtype dtype, Key key) {
  double std = calculate_gain(nonlinearity, a) / std::sqrt(double(fan_for(shape, mode, "kaiming_uniform")));
  double bound = std::sqrt(3.0) * std;
  return uniform(shape, -bound, bound, dtype, key);
}

array kaiming_normal(const Shape& shape, double a, const std::string& mode, const std::string& nonlinearity,
                     Dtype dtype, Key key) {
  double std = calculate_gain(nonlinearity, a) / std::sqrt(double(fan_for(shape, mode, "kaiming_normal")));
  return normal(shape, 0.0, std, dtype, key);
}

array orthogonal(const Shape& shape, double gain, Dtype dtype, Key key) {
  require_floating(dtype, "orthogonal");
  if (shape.size() < 2) {
    throw std::invalid_argument("[init::orthogonal] needs at least 2 dimensions, got shape " +
                                shape_to_string(shape));
  }
  const int64_t rows = shape[0];
  int64_t cols = 1;
  for (size_t i = 1; i < shape.size(); ++i) cols *= shape[i];
  // Q of the (long, short) matrix by modified Gram-Schmidt on its columns in float64: the
  // matrices are parameter-sized, and this runs once per parameter.
  const int64_t m = std::max(rows, cols), n = std::min(rows, cols);
  std::vector<double> a = astype(random::normal({m, n}, float32, 0.0, 1.0, key), float64).to_vector<double>();
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t k = 0; k < j; ++k) {
      double dot = 0;
      for (int64_t i = 0; i < m; ++i) dot += a[i * n + j] * a[i * n + k];
      for (int64_t i = 0; i < m; ++i) a[i * n + j] -= dot * a[i * n + k];
    }
    double norm = 0;
    for (int64_t i = 0; i < m; ++i) norm += a[i * n + j] * a[i * n + j];
    norm = std::sqrt(norm);
    // Gram-Schmidt gives R's diagonal positive, which is PyTorch's sign fix.
    for (int64_t i = 0; i < m; ++i) a[i * n + j] /= norm;
  }
  // The gain only after all columns are orthonormal: the projections above need unit columns.
  for (double& v : a) v *= gain;
  array q(a, Shape{m, n});
  if (rows < cols) q = transpose(q);  // (rows, cols) with orthonormal rows
  return astype(reshape(q, shape), dtype);
}

}  // namespace alloy::nn::init
