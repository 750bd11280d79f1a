// Every op against NumPy: each reference case runs with its inputs laid out contiguous,
// transposed (a transposed view of a transposed copy) and sliced (every other element of a
// wider copy), so the kernels' strided paths are checked against the same expected values.
#include <functional>
#include <map>

#include "reference_cases.h"

namespace alloy::test {
namespace {

using Json = nlohmann::json;
using OpFn = std::function<array(const std::vector<array>&, const Json&)>;

Axes axes_param(const Json& p) {
  if (!p.contains("axes") || p["axes"].is_null()) return {};
  if (p["axes"].is_number()) return {p["axes"].get<int>()};
  return p["axes"].get<Axes>();
}

std::optional<double> ord_param(const Json& p) {
  if (p["ord"].is_null()) return std::nullopt;
  if (p["ord"].is_string()) return p["ord"] == "inf" ? INFINITY : -INFINITY;
  return p["ord"].get<double>();
}

const std::map<std::string, OpFn>& registry() {
  static const std::map<std::string, OpFn> ops = [] {
    std::map<std::string, OpFn> m;
#define UN(NAME) m[#NAME] = [](const std::vector<array>& x, const Json&) { return NAME(x[0]); };
    UN(abs) UN(negative) UN(sign) UN(exp) UN(expm1) UN(log) UN(log1p) UN(log2) UN(log10) UN(sqrt)
    UN(rsqrt) UN(square) UN(reciprocal) UN(sin) UN(cos) UN(tan) UN(arcsin) UN(arccos) UN(arctan)
    UN(sinh) UN(cosh) UN(tanh) UN(arcsinh) UN(arccosh) UN(arctanh) UN(sigmoid) UN(erf) UN(erfinv)
    UN(floor) UN(ceil) UN(round) UN(isnan) UN(isinf) UN(isfinite) UN(logical_not) UN(bitwise_invert)
#undef UN
#define BIN(NAME) m[#NAME] = [](const std::vector<array>& x, const Json&) { return NAME(x[0], x[1]); };
    BIN(add) BIN(subtract) BIN(multiply) BIN(divide) BIN(floor_divide) BIN(remainder) BIN(power)
    BIN(maximum) BIN(minimum) BIN(logaddexp) BIN(arctan2) BIN(equal) BIN(not_equal) BIN(less)
    BIN(less_equal) BIN(greater) BIN(greater_equal) BIN(logical_and) BIN(logical_or)
    BIN(bitwise_and) BIN(bitwise_or) BIN(bitwise_xor) BIN(left_shift) BIN(right_shift)
    BIN(matmul) BIN(inner) BIN(outer)
#undef BIN
    m["where"] = [](const std::vector<array>& x, const Json&) { return where(x[0], x[1], x[2]); };
    m["clip"] = [](const std::vector<array>& x, const Json& p) {
      return clip(x[0], array(p["min"].get<float>()), array(p["max"].get<float>()));
    };
#define RED(NAME) \
  m[#NAME] = [](const std::vector<array>& x, const Json& p) { return NAME(x[0], axes_param(p), p["keepdims"].get<bool>()); };
    RED(sum) RED(prod) RED(max) RED(min) RED(mean) RED(all) RED(any) RED(logsumexp)
#undef RED
    m["var"] = [](const std::vector<array>& x, const Json& p) {
      return var(x[0], axes_param(p), p["keepdims"].get<bool>(), p["ddof"].get<int>());
    };
    m["std"] = [](const std::vector<array>& x, const Json& p) {
      return alloy::std(x[0], axes_param(p), p["keepdims"].get<bool>(), p["ddof"].get<int>());
    };
    m["argmax"] = [](const std::vector<array>& x, const Json& p) { return argmax(x[0], p["axis"].get<int>()); };
    m["argmin"] = [](const std::vector<array>& x, const Json& p) { return argmin(x[0], p["axis"].get<int>()); };
#define SCAN(NAME)                                                                                  \
  m[#NAME] = [](const std::vector<array>& x, const Json& p) {                                       \
    return NAME(x[0], p["axis"].get<int>(), p["reverse"].get<bool>(), p["inclusive"].get<bool>()); \
  };
    SCAN(cumsum) SCAN(cumprod) SCAN(cummax) SCAN(cummin)
#undef SCAN
    m["softmax"] = [](const std::vector<array>& x, const Json& p) { return softmax(x[0], p["axis"].get<int>()); };
    m["log_softmax"] = [](const std::vector<array>& x, const Json& p) { return log_softmax(x[0], p["axis"].get<int>()); };
    m["addmm"] = [](const std::vector<array>& x, const Json& p) {
      return addmm(x[0], x[1], x[2], p["alpha"].get<float>(), p["beta"].get<float>());
    };
    m["tensordot"] = [](const std::vector<array>& x, const Json& p) {
      if (p.contains("axes")) return tensordot(x[0], x[1], p["axes"].get<int>());
      return tensordot(x[0], x[1], p["axes_a"].get<Axes>(), p["axes_b"].get<Axes>());
    };
    m["norm"] = [](const std::vector<array>& x, const Json& p) {
      if (p["ord"] == "fro") return linalg::norm(x[0], "fro", axes_param(p));
      return linalg::norm(x[0], ord_param(p), axes_param(p));
    };
    m["transpose"] = [](const std::vector<array>& x, const Json& p) { return transpose(x[0], p["axes"].get<Axes>()); };
    m["swapaxes"] = [](const std::vector<array>& x, const Json& p) { return swapaxes(x[0], p["a"], p["b"]); };
    m["moveaxis"] = [](const std::vector<array>& x, const Json& p) { return moveaxis(x[0], p["a"], p["b"]); };
    m["reshape"] = [](const std::vector<array>& x, const Json& p) { return reshape(x[0], p["shape"].get<Shape>()); };
    m["flatten"] = [](const std::vector<array>& x, const Json& p) { return flatten(x[0], p["start"], p["end"]); };
    m["expand_dims"] = [](const std::vector<array>& x, const Json& p) { return expand_dims(x[0], p["axes"].get<Axes>()); };
    m["concatenate"] = [](const std::vector<array>& x, const Json& p) { return concatenate(x, p["axis"]); };
    m["stack"] = [](const std::vector<array>& x, const Json& p) { return stack(x, p["axis"]); };
    m["tile"] = [](const std::vector<array>& x, const Json& p) { return tile(x[0], p["reps"].get<Shape>()); };
    m["repeat"] = [](const std::vector<array>& x, const Json& p) { return repeat(x[0], p["repeats"], p["axis"]); };
    m["pad"] = [](const std::vector<array>& x, const Json& p) {
      std::vector<std::pair<int64_t, int64_t>> w;
      for (auto& pr : p["widths"]) w.push_back({pr[0], pr[1]});
      return pad(x[0], w, array(p["value"].get<float>()), p["mode"] == "edge" ? PadMode::edge : PadMode::constant);
    };
    m["flip"] = [](const std::vector<array>& x, const Json& p) { return flip(x[0], p["axes"].get<Axes>()); };
    m["roll"] = [](const std::vector<array>& x, const Json& p) {
      return p.contains("axis") ? roll(x[0], p["shift"], p["axis"]) : roll(x[0], p["shift"].get<int64_t>());
    };
    m["diagonal"] = [](const std::vector<array>& x, const Json& p) { return diagonal(x[0], p["offset"]); };
    m["trace"] = [](const std::vector<array>& x, const Json& p) { return trace(x[0], p["offset"]); };
    m["tril"] = [](const std::vector<array>& x, const Json& p) { return tril(x[0], p["k"]); };
    m["triu"] = [](const std::vector<array>& x, const Json& p) { return triu(x[0], p["k"]); };
    m["diag"] = [](const std::vector<array>& x, const Json& p) { return diag(x[0], p["k"]); };
    m["slice"] = [](const std::vector<array>& x, const Json& p) {
      return slice(x[0], p["start"].get<Shape>(), p["stop"].get<Shape>(), p["step"].get<Shape>());
    };
    m["slice_update"] = [](const std::vector<array>& x, const Json& p) {
      return slice_update(x[0], x[1], p["start"].get<Shape>(), p["stop"].get<Shape>(), p["step"].get<Shape>());
    };
    m["meshgrid"] = [](const std::vector<array>& x, const Json& p) {
      return meshgrid(x, false, p["indexing"].get<std::string>())[p["which"].get<int>()];
    };
    m["split"] = [](const std::vector<array>& x, const Json& p) {
      auto parts = p.contains("num") ? split(x[0], p["num"].get<int>(), p["axis"].get<int>())
                                     : split(x[0], p["indices"].get<Shape>(), p["axis"].get<int>());
      return parts[p["which"].get<int>()];
    };
    m["arange"] = [](const std::vector<array>&, const Json& p) {
      Dtype t = p.contains("dtype") ? dtype_from_name(p["dtype"]) : float32;
      return arange(p["start"].get<double>(), p["stop"].get<double>(), p["step"].get<double>(), t);
    };
    m["linspace"] = [](const std::vector<array>&, const Json& p) {
      return linspace(p["start"].get<double>(), p["stop"].get<double>(), p["num"].get<int64_t>());
    };
    m["eye"] = [](const std::vector<array>&, const Json& p) { return eye(p["n"], p["m"], p["k"]); };
    m["tri"] = [](const std::vector<array>&, const Json& p) { return tri(p["n"], p["m"], p["k"]); };
    return m;
  }();
  return ops;
}

enum class Layout { contiguous, transposed, sliced };
const char* layout_name(Layout l) {
  switch (l) {
    case Layout::contiguous: return "contiguous";
    case Layout::transposed: return "transposed";
    case Layout::sliced: return "sliced";
  }
  return "?";
}

// The same logical values as `x` in the requested memory layout.
array with_layout(const array& x, Layout layout) {
  switch (layout) {
    case Layout::contiguous:
      return x;
    case Layout::transposed: {
      if (x.ndim() < 2) return x;
      array t = copy(transpose(x));
      eval(t);
      return transpose(t);
    }
    case Layout::sliced: {
      if (x.ndim() < 1) return x;
      array wide = copy(repeat(x, 2, -1));
      eval(wide);
      Shape start(x.ndim(), 0), stop = wide.shape(), step(x.ndim(), 1);
      step.back() = 2;
      return slice(wide, start, stop, step);
    }
  }
  return x;
}

TEST(OpsReference, AllCasesAllLayouts) {
  const auto& cases = reference_cases();
  if (cases.empty()) GTEST_SKIP() << reference_skip_reason();
  int checked = 0;
  for (const auto& c : cases) {
    auto it = registry().find(c["op"]);
    ASSERT_NE(it, registry().end()) << "no test entry for op " << c["op"];
    for (Layout layout : {Layout::contiguous, Layout::transposed, Layout::sliced}) {
      std::vector<array> inputs;
      for (const auto& in : c["inputs"]) {
        array x = with_layout(array_from_json(in), layout);
        if (in.contains("broadcast_to")) x = broadcast_to(x, in["broadcast_to"].get<Shape>());
        inputs.push_back(x);
      }
      std::string err;
      try {
        err = compare_to_expected(it->second(inputs, c["params"]), c["expected"]);
      } catch (const std::exception& e) {
        err = std::string("threw: ") + e.what();
      }
      EXPECT_EQ(err, "") << c["name"].get<std::string>() << " (" << layout_name(layout) << ")";
      ++checked;
    }
  }
  EXPECT_GT(checked, 2000);
}

}  // namespace
}  // namespace alloy::test
