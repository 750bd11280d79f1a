// Finite-difference checks of vjp and jvp in float64: the loss is sum(f(x) * w) with fixed
// random weights w, so every output element's cotangent differs.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <string>

#include "alloy/alloy.h"

namespace alloy::test {

using MultiFn = std::function<array(const std::vector<array>&)>;

inline array random_f64(const Shape& shape, double lo, double hi, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<double> v(shape_size(shape));
  for (auto& x : v) x = dist(gen);
  return array(v, shape);
}

// Returns "" when the analytic gradient (vjp) and forward derivative (jvp) match central
// differences to `tol` (relative to max(1, |numeric|)).
inline std::string gradcheck(const MultiFn& f, const std::vector<array>& inputs, double tol = 1e-6,
                             double eps = 1e-6) {
  array y0 = f(inputs);
  array w = random_f64(y0.shape(), 0.5, 1.5, 99);
  auto loss = [&](const std::vector<array>& x) { return sum(multiply(astype(f(x), float64), w)); };
  auto grads = grad(ScalarFn(loss), [&] {
    std::vector<int> all(inputs.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = int(i);
    return all;
  }())(inputs);
  for (size_t k = 0; k < inputs.size(); ++k) {
    std::vector<double> base = inputs[k].to_vector<double>();
    std::vector<double> g = astype(grads[k], float64).to_vector<double>();
    if (g.size() != base.size()) return "gradient " + std::to_string(k) + " has the wrong size";
    for (size_t i = 0; i < base.size(); ++i) {
      auto at = [&](double delta) {
        std::vector<double> v = base;
        v[i] += delta;
        std::vector<array> x = inputs;
        x[k] = array(v, inputs[k].shape());
        return loss(x).item<double>();
      };
      double numeric = (at(eps) - at(-eps)) / (2 * eps);
      if (!(std::abs(numeric - g[i]) <= tol * std::max(1.0, std::abs(numeric)))) {
        return "vjp of input " + std::to_string(k) + " element " + std::to_string(i) + ": analytic " +
               std::to_string(g[i]) + ", numeric " + std::to_string(numeric);
      }
    }
  }
  // jvp along a random direction against a directional difference.
  std::vector<array> tangents;
  for (size_t k = 0; k < inputs.size(); ++k) tangents.push_back(random_f64(inputs[k].shape(), -1, 1, 7 + k));
  auto [outs, tans] = jvp([&](const std::vector<array>& x) { return std::vector<array>{astype(f(x), float64)}; },
                          inputs, tangents);
  auto shifted = [&](double t) {
    std::vector<array> x;
    for (size_t k = 0; k < inputs.size(); ++k) x.push_back(add(inputs[k], multiply(array(t), tangents[k])));
    return astype(f(x), float64);
  };
  array numeric = divide(subtract(shifted(eps), shifted(-eps)), array(2 * eps));
  std::vector<double> n = numeric.to_vector<double>(), a = tans[0].to_vector<double>();
  for (size_t i = 0; i < n.size(); ++i) {
    if (!(std::abs(n[i] - a[i]) <= tol * std::max(1.0, std::abs(n[i])))) {
      return "jvp element " + std::to_string(i) + ": analytic " + std::to_string(a[i]) + ", numeric " +
             std::to_string(n[i]);
    }
  }
  return "";
}

}  // namespace alloy::test
