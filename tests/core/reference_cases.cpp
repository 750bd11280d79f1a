#include "reference_cases.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace alloy::test {
namespace {

struct Loaded {
  nlohmann::json cases = nlohmann::json::array();
  std::string skip_reason;
};

const Loaded& loaded() {
  static Loaded l = [] {
    Loaded out;
    std::string path = testing::TempDir() + "alloy_references.json";
    std::string cmd = std::string(ALLOY_PYTHON) + " " + ALLOY_REFERENCE_SCRIPT + " " + path + " > /dev/null";
    if (std::system(cmd.c_str()) != 0) {
      out.skip_reason = "could not run " + cmd + " (needs python3 with numpy: apt-get install python3-numpy)";
      return out;
    }
    std::ifstream f(path);
    out.cases = nlohmann::json::parse(f)["cases"];
    return out;
  }();
  return l;
}

}  // namespace

const nlohmann::json& reference_cases() { return loaded().cases; }
const std::string& reference_skip_reason() { return loaded().skip_reason; }

Dtype dtype_from_name(const std::string& name) {
  for (int i = 0; i < num_dtypes; ++i) {
    if (name == dtype_name(Dtype(i))) return Dtype(i);
  }
  throw std::invalid_argument("unknown dtype " + name);
}

std::vector<double> values_from_json(const nlohmann::json& j) {
  std::vector<double> v;
  for (auto& x : j["data"]) {
    if (x.is_string()) {
      std::string s = x;
      v.push_back(s == "nan" ? NAN : (s == "inf" ? INFINITY : -INFINITY));
    } else if (x.is_boolean()) {
      v.push_back(x.get<bool>() ? 1.0 : 0.0);
    } else {
      v.push_back(x.get<double>());
    }
  }
  return v;
}

array array_from_json(const nlohmann::json& j) {
  Shape shape = j["shape"].get<Shape>();
  Dtype t = dtype_from_name(j["dtype"]);
  std::vector<double> v = values_from_json(j);
  if (t == int64 || t == uint64) {
    std::vector<int64_t> iv;
    for (auto& x : j["data"]) iv.push_back(x.is_boolean() ? int64_t(x.get<bool>()) : x.get<int64_t>());
    return array(iv, shape, t);
  }
  return array(v, shape, t);
}

std::string compare_to_expected(array actual, const nlohmann::json& expected) {
  Dtype t = dtype_from_name(expected["dtype"]);
  Shape shape = expected["shape"].get<Shape>();
  std::ostringstream msg;
  if (actual.dtype() != t) {
    msg << "dtype " << actual.dtype() << ", expected " << t;
    return msg.str();
  }
  if (actual.shape() != shape) {
    msg << "shape " << shape_to_string(actual.shape()) << ", expected " << shape_to_string(shape);
    return msg.str();
  }
  double rtol = 0, atol = 0;
  switch (t) {
    case Dtype::float64: rtol = 1e-10; atol = 1e-12; break;
    case Dtype::float32: rtol = 2e-5; atol = 2e-6; break;
    case Dtype::float16: rtol = 2e-3; atol = 2e-3; break;
    case Dtype::bfloat16: rtol = 1.6e-2; atol = 1.6e-2; break;
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      break;
  }
  std::vector<double> got = actual.to_vector<double>();
  std::vector<double> want = values_from_json(expected);
  for (size_t i = 0; i < want.size(); ++i) {
    double g = got[i], w = want[i];
    bool ok = std::isnan(w) ? std::isnan(g) : (g == w || std::abs(g - w) <= atol + rtol * std::abs(w));
    if (!ok) {
      msg << "element " << i << " is " << g << ", expected " << w;
      return msg.str();
    }
  }
  return "";
}

}  // namespace alloy::test
