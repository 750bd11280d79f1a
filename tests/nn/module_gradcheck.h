// Finite-difference check of a module's gradients: test::gradcheck (tests/core/gradcheck.h: vjp
// and jvp against central differences of sum(f(x) * w) in float64) over the module's floating
// inputs and every trainable parameter. The module is cast to float64; for each evaluation the
// parameters being varied are put into it, and its own ones back afterwards.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "../core/gradcheck.h"
#include "alloy/nn/module.h"

namespace alloy::test {

using ModuleForward = std::function<array(const std::vector<array>&)>;

// Returns "" when every gradient matches, else what differs (naming the input or parameter).
inline std::string module_gradcheck(nn::Module& module, const std::vector<array>& inputs,
                                    const ModuleForward& forward, double tol = 1e-6, double eps = 1e-6) {
  module.set_dtype(float64);
  const nn::NamedArrays originals = module.trainable_parameters();
  const std::vector<std::string> names = originals.names();
  std::vector<size_t> float_inputs;  // positions of the differentiated inputs
  std::vector<array> primals;
  std::vector<std::string> labels;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (is_floating(inputs[i].dtype())) {
      float_inputs.push_back(i);
      primals.push_back(astype(inputs[i], float64));
      labels.push_back("input " + std::to_string(i));
    }
  }
  for (const auto& [name, value] : originals) {
    primals.push_back(value);
    labels.push_back("parameter " + name);
  }
  auto f = [&](const std::vector<array>& p) {
    std::vector<array> in = inputs;
    for (size_t k = 0; k < float_inputs.size(); ++k) in[float_inputs[k]] = p[k];
    nn::NamedArrays traced;
    for (size_t k = 0; k < names.size(); ++k) traced.insert(names[k], p[float_inputs.size() + k]);
    module.update(traced);
    array y = forward(in);
    module.update(originals);
    return y;
  };
  std::string err = gradcheck(f, primals, tol, eps);
  // gradcheck names primals by position ("vjp of input 3 ..."): say which one that is.
  const std::string tag = "vjp of input ";
  if (err.rfind(tag, 0) == 0) {
    size_t k = std::stoul(err.substr(tag.size()));
    if (k < labels.size()) err += " (" + labels[k] + ")";
  }
  return err;
}

inline std::string module_gradcheck(nn::UnaryModule& module, const array& input, double tol = 1e-6,
                                    double eps = 1e-6) {
  return module_gradcheck(
      module, {input}, [&](const std::vector<array>& in) { return module.forward(in[0]); }, tol, eps);
}

}  // namespace alloy::test
