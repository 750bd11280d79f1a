// What every benchmark program shares: a median timer and a table of rows, each a figure next
// to the baseline measured in the same run, printed as it is measured and written as JSON.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace alloy::bench {

using Clock = std::chrono::steady_clock;

// Median seconds of `reps` runs of fn after one warm-up run.
inline double time_median(const std::function<void()>& fn, int reps) {
  fn();
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

struct Row {
  std::string group, name, unit, baseline_name;
  double value, baseline;
};

inline std::vector<Row>& rows() {
  static std::vector<Row> r;
  return r;
}

inline void print_header() {
  std::printf("%-12s %-34s %10s %-8s %10s %-8s %-24s %7s\n", "group", "case", "alloy", "", "baseline", "",
              "baseline is", "ratio");
}

// ratio = value / baseline, or baseline / value when smaller is better (times).
inline void report(const std::string& group, const std::string& name, double value, const std::string& unit,
                   double baseline, const std::string& baseline_name, bool lower_is_better = false) {
  rows().push_back({group, name, unit, baseline_name, value, baseline});
  double ratio = lower_is_better ? baseline / value : value / baseline;
  std::printf("%-12s %-34s %10.2f %-8s %10.2f %-8s %-24s %6.0f%%\n", group.c_str(), name.c_str(), value,
              unit.c_str(), baseline, unit.c_str(), baseline_name.c_str(), 100.0 * ratio);
  std::fflush(stdout);
}

inline void write_json(const std::string& path) {
  std::ofstream js(path);
  js << "[\n";
  auto& r = rows();
  for (size_t i = 0; i < r.size(); ++i) {
    js << "  {\"group\": \"" << r[i].group << "\", \"case\": \"" << r[i].name << "\", \"value\": " << r[i].value
       << ", \"unit\": \"" << r[i].unit << "\", \"baseline\": " << r[i].baseline << ", \"baseline_name\": \""
       << r[i].baseline_name << "\"}" << (i + 1 < r.size() ? "," : "") << "\n";
  }
  js << "]\n";
}

}  // namespace alloy::bench
