// What every training example shares: the common flags (--device, --seed, --train-subset,
// --out), error reporting around main, classifier evaluation, and writing the history as CSV
// and PNG.
#pragma once

#include <alloy/alloy.h>
#include <alloy/data/loader.h>
#include <alloy/nn/module.h>

#include <functional>
#include <string>
#include <utility>

#include "../../tools/alloy/args.h"

namespace alloy::examples {

class TrainingLog;

struct CommonFlags {
  uint64_t seed = 0;
  int64_t train_subset = 0;  // 0: all
  std::string out_dir = ".";
};

// Reads --device cpu|gpu (and makes it the default device), --seed, --train-subset, --out.
CommonFlags read_common_flags(cli::Args& args);

// Runs body(args) and turns usage errors and exceptions into a message and exit code.
int run_main(const char* name, int argc, char** argv, const std::function<int(cli::Args&)>& body);

// One pass over the loader: step(batch) trains on a batch and returns its loss.
struct EpochResult {
  double mean_loss, seconds;
  int64_t steps;
};
EpochResult train_epoch(data::DataLoader& loader, int64_t epoch, const std::function<array(const data::Batch&)>& step);

// Mean cross-entropy and accuracy of logits = forward(x) over (x, y) in batches.
std::pair<double, double> evaluate_classifier(const std::function<array(const array&)>& forward, const array& x,
                                              const array& y, int64_t batch);

// <out>/<name>.csv and <out>/<name>.png
void write_history(const TrainingLog& log, const std::string& out_dir, const std::string& name,
                   const std::string& title, const std::vector<std::vector<std::string>>& panels);

}  // namespace alloy::examples
