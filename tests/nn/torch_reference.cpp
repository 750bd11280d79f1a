#include "torch_reference.h"

#include <cmath>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace alloy::test {
namespace {

struct Loaded {
  nn::NamedArrays arrays;
  std::string skip_reason;
};

const Loaded& loaded() {
  static Loaded l = [] {
    Loaded out;
    // One file per process: ctest runs test processes side by side.
    std::string path = testing::TempDir() + "alloy_nn_torch_cases_" + std::to_string(getpid()) + ".npz";
    std::string cmd = std::string(ALLOY_PYTHON) + " " + ALLOY_TORCH_CASES_SCRIPT + " " + path;
    if (std::system(cmd.c_str()) != 0) {
      out.skip_reason = "could not run " + cmd +
                        " (needs python3 with torch and numpy: apt-get install python3-torch)";
      return out;
    }
    auto m = io::load_npz(path);
    std::remove(path.c_str());
    std::vector<std::string> names;
    for (const auto& item : m) names.push_back(item.first);
    std::sort(names.begin(), names.end());
    for (const auto& n : names) out.arrays.insert(n, m.at(n));
    return out;
  }();
  return l;
}

}  // namespace

const std::string& torch_skip_reason() { return loaded().skip_reason; }

TorchCase torch_case(const std::string& name) {
  TorchCase c;
  c.name = name;
  std::string prefix = name + "/";
  for (const auto& [key, value] : loaded().arrays) {
    if (key.rfind(prefix, 0) == 0) c.arrays.insert(key.substr(prefix.size()), value);
  }
  if (c.arrays.empty()) ADD_FAILURE() << "no PyTorch reference case named '" << name << "'";
  return c;
}

bool has_torch_case(const std::string& name) {
  std::string prefix = name + "/";
  for (const auto& item : loaded().arrays) {
    if (item.first.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

nn::NamedArrays TorchCase::with_prefix(const std::string& prefix) const {
  nn::NamedArrays out;
  for (const auto& [key, value] : arrays) {
    if (key.rfind(prefix, 0) == 0) out.insert(key.substr(prefix.size()), value);
  }
  return out;
}

std::vector<array> TorchCase::inputs() const {
  if (has("input")) return {arrays.at("input")};
  std::vector<array> out;
  for (int i = 0; has("input" + std::to_string(i)); ++i) out.push_back(arrays.at("input" + std::to_string(i)));
  return out;
}

::testing::AssertionResult all_close(const array& actual_in, const array& expected_in, double rtol,
                                     double atol) {
  if (actual_in.shape() != expected_in.shape()) {
    return ::testing::AssertionFailure() << "shape " << shape_to_string(actual_in.shape())
                                         << ", expected " << shape_to_string(expected_in.shape());
  }
  std::vector<double> a = astype(actual_in, float64).to_vector<double>();
  std::vector<double> b = astype(expected_in, float64).to_vector<double>();
  double worst = 0;
  size_t worst_i = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double r = std::abs(a[i] - b[i]) / (atol + rtol * std::abs(b[i]));
    if (!(r <= worst)) {  // NaN counts as the worst
      worst = std::isnan(r) ? INFINITY : r;
      worst_i = i;
    }
  }
  if (worst <= 1.0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "element " << worst_i << " is " << a[worst_i] << ", expected "
                                       << b[worst_i] << " (rtol " << rtol << ", atol " << atol << ")";
}

void expect_matches_torch(nn::Module& module, const TorchCase& c, const Forward& forward, double rtol,
                          double atol) {
  module.set_dtype(float64);
  nn::NamedArrays params = c.with_prefix("param/");
  nn::NamedArrays mine = module.parameters();
  ASSERT_EQ(mine.size(), params.size()) << c.name << ": parameter count differs from PyTorch's";
  for (const auto& item : mine) ASSERT_TRUE(params.contains(item.first)) << c.name << ": PyTorch has no " << item.first;
  module.load_weights(params, /*strict=*/false);

  // Differentiable primals: the floating inputs, then the parameters.
  std::vector<array> inputs = c.inputs();
  std::vector<size_t> float_inputs;
  std::vector<array> primals;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (is_floating(inputs[i].dtype())) {
      float_inputs.push_back(i);
      primals.push_back(inputs[i]);
    }
  }
  std::vector<std::string> names = mine.names();
  for (const auto& n : names) primals.push_back(module.parameters().at(n));
  nn::NamedArrays originals = module.parameters();
  auto fn = [&](const std::vector<array>& p) {
    std::vector<array> in = inputs;
    for (size_t k = 0; k < float_inputs.size(); ++k) in[float_inputs[k]] = p[k];
    nn::NamedArrays traced;
    for (size_t k = 0; k < names.size(); ++k) traced.insert(names[k], p[float_inputs.size() + k]);
    module.update(traced);
    return std::vector<array>{forward(in)};
  };
  auto [outs, cots] = vjp(fn, primals, {c["cotangent"]});
  module.update(originals);

  EXPECT_TRUE(all_close(outs[0], c["output"], rtol, atol)) << c.name << ": output";
  for (size_t k = 0; k < float_inputs.size(); ++k) {
    std::string key = inputs.size() == 1 ? "grad_input" : "grad_input" + std::to_string(float_inputs[k]);
    if (c.has(key)) {
      EXPECT_TRUE(all_close(cots[k], c[key], rtol, atol)) << c.name << ": " << key;
    }
  }
  for (size_t k = 0; k < names.size(); ++k) {
    EXPECT_TRUE(all_close(cots[float_inputs.size() + k], c["grad/" + names[k]], rtol, atol))
        << c.name << ": gradient of " << names[k];
  }
  nn::NamedArrays buffers = module.buffers();
  for (const auto& [name, expected] : c.with_prefix("buffer/")) {
    ASSERT_TRUE(buffers.contains(name)) << c.name << ": no buffer " << name;
    EXPECT_TRUE(all_close(buffers.at(name), expected, rtol, atol)) << c.name << ": buffer " << name;
  }
}

void expect_matches_torch(nn::UnaryModule& module, const std::string& case_name, double rtol, double atol) {
  TorchCase c = torch_case(case_name);
  expect_matches_torch(module, c, [&](const std::vector<array>& in) { return module.forward(in.at(0)); },
                       rtol, atol);
}

}  // namespace alloy::test
