// TrainingLog: the history of a training run (one row per epoch or step: named numeric columns),
// written as CSV and drawn as a PNG line chart (cairo), one panel per column group.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace alloy::examples {

class TrainingLog {
 public:
  // x_name: the first column (e.g. "epoch" or "step").
  explicit TrainingLog(std::string x_name) : x_name_(std::move(x_name)) {}

  // Adds a row; every row must name the same columns.
  void add(double x, const std::map<std::string, double>& values);

  void write_csv(const std::string& path) const;
  // One panel per group of columns (e.g. {{"train_loss", "test_loss"}, {"test_accuracy"}}).
  void write_png(const std::string& path, const std::string& title,
                 const std::vector<std::vector<std::string>>& panels) const;

 private:
  std::string x_name_;
  std::vector<std::string> columns_;
  std::vector<double> xs_;
  std::map<std::string, std::vector<double>> values_;
};

}  // namespace alloy::examples
