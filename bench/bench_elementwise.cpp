// Elementwise ops that layers lean on, at the size where they were found slow: (1600, 1024)
// float32, 1.6M elements. Each row is an op's time next to the op it should keep up with, measured
// in the same run (where and the broadcast cases beside dense maximum; expm1, log1p, erf,
// logaddexp beside exp), then the same ops in NumPy when python3 with numpy is there.
// Prints a table and writes JSON (bench_elementwise.json, or the path given as the first argument).
#include <cstdio>
#include <functional>
#include <map>
#include <string>

#include "alloy/alloy.h"
#include "alloy/backend/cpu/threading.h"
#include "bench_report.h"

using namespace alloy;

namespace {

using bench::report;
using bench::time_median;

constexpr int kReps = 21;

double ms(const std::function<array()>& fn) {
  return 1e3 * time_median([&] { eval(fn()); }, kReps);
}

// NumPy's time (ms, median) for each expression, on the same shape, in one python3 run.
std::map<std::string, double> numpy_ms() {
  const char* script =
      "import numpy as np, time, math\n"
      "r = np.random.default_rng(0)\n"
      "a = r.uniform(-3, 3, (1600, 1024)).astype(np.float32)\n"
      "b = r.uniform(-3, 3, (1600, 1024)).astype(np.float32)\n"
      "c = a > b\n"
      "cases = {'maximum': lambda: np.maximum(a, b), 'relu': lambda: np.maximum(np.float32(0), a),\n"
      "  'where': lambda: np.where(c, a, b), 'where_scalar': lambda: np.where(c, a, np.float32(0)),\n"
      "  'exp': lambda: np.exp(a), 'expm1': lambda: np.expm1(a), 'log1p': lambda: np.log1p(np.abs(a)),\n"
      "  'logaddexp': lambda: np.logaddexp(a, b)}\n"
      "for k, f in cases.items():\n"
      "    f(); t = []\n"
      "    for _ in range(21):\n"
      "        t0 = time.perf_counter(); f(); t.append(time.perf_counter() - t0)\n"
      "    print(k, sorted(t)[10] * 1e3)\n";
  std::string cmd = "/usr/bin/python3 -c \"" + std::string(script) + "\" 2>/dev/null";
  std::map<std::string, double> out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char name[64];
  double v;
  while (std::fscanf(p, "%63s %lf", name, &v) == 2) out[name] = v;
  pclose(p);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::printf("alloy elementwise benchmarks, (1600, 1024) float32, %d threads; times in ms, smaller is better\n\n",
              cpu::num_threads());
  bench::print_header();
  array a = random::uniform({1600, 1024}, float32, -3, 3, random::key(1));
  array b = random::uniform({1600, 1024}, float32, -3, 3, random::key(2));
  array c = greater(a, b);
  array row_mask = greater(random::uniform({1, 1024}, float32, -1, 1, random::key(3)), array(0.0f));
  array ah = astype(a, float16), bh = astype(b, float16);
  array ab = astype(a, bfloat16), bb = astype(b, bfloat16);
  array pos = abs(a);
  eval(a, b, c, row_mask, ah, bh, ab, bb, pos);

  double t_max = ms([&] { return maximum(a, b); });
  report("binary", "maximum(a, b)", t_max, "ms", t_max, "maximum(a, b)", true);
  report("binary", "maximum(0, a) (relu)", ms([&] { return maximum(array(0.0f), a); }), "ms", t_max,
         "maximum(a, b)", true);
  report("binary", "maximum f16", ms([&] { return maximum(ah, bh); }), "ms", t_max, "maximum(a, b)", true);
  report("binary", "maximum bf16", ms([&] { return maximum(ab, bb); }), "ms", t_max, "maximum(a, b)", true);
  report("where", "where(c, a, b)", ms([&] { return where(c, a, b); }), "ms", t_max, "maximum(a, b)", true);
  report("where", "where(c, a, 0)", ms([&] { return where(c, a, array(0.0f)); }), "ms", t_max, "maximum(a, b)",
         true);
  report("where", "where(row mask (1, 1024), a, b)", ms([&] { return where(row_mask, a, b); }), "ms", t_max,
         "maximum(a, b)", true);
  // A transposed operand reads down columns: its peer is the binary op on the same layout.
  array at = transpose(reshape(a, {1024, 1600}));
  double t_max_t = ms([&] { return maximum(at, b); });
  report("where", "where(c, a.T, b)", ms([&] { return where(c, at, b); }), "ms", t_max_t, "maximum(a.T, b)", true);

  double t_exp = ms([&] { return exp(a); });
  report("unary", "exp", t_exp, "ms", t_exp, "exp", true);
  report("unary", "expm1", ms([&] { return expm1(a); }), "ms", t_exp, "exp", true);
  report("unary", "log1p(|a|)", ms([&] { return log1p(pos); }), "ms", t_exp, "exp", true);
  report("unary", "erf", ms([&] { return erf(a); }), "ms", t_exp, "exp", true);
  report("binary", "logaddexp(a, b)", ms([&] { return logaddexp(a, b); }), "ms", t_exp, "exp", true);

  // The same figures beside NumPy (one thread, eager).
  auto np = numpy_ms();
  if (np.empty()) {
    std::printf("\n(no NumPy figures: /usr/bin/python3 with numpy did not run)\n");
  } else {
    auto vs = [&](const std::string& key, const std::string& name, const std::function<array()>& fn) {
      if (np.count(key)) report("vs NumPy", name, ms(fn), "ms", np[key], "NumPy", true);
    };
    vs("maximum", "maximum(a, b)", [&] { return maximum(a, b); });
    vs("relu", "maximum(0, a)", [&] { return maximum(array(0.0f), a); });
    vs("where", "where(c, a, b)", [&] { return where(c, a, b); });
    vs("where_scalar", "where(c, a, 0)", [&] { return where(c, a, array(0.0f)); });
    vs("exp", "exp", [&] { return exp(a); });
    vs("expm1", "expm1", [&] { return expm1(a); });
    vs("log1p", "log1p(|a|)", [&] { return log1p(pos); });
    vs("logaddexp", "logaddexp(a, b)", [&] { return logaddexp(a, b); });
  }
  bench::write_json(argc > 1 ? argv[1] : "bench_elementwise.json");
  return 0;
}
