#include "example_setup.h"

#include <alloy/nn/losses.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "training_log.h"

namespace alloy::examples {

CommonFlags read_common_flags(cli::Args& args) {
  CommonFlags f;
  std::string device = args.value({"--device"}).value_or("cpu");
  if (device == "gpu") {
    if (!gpu_available()) throw cli::usage_error("--device gpu: no usable GPU on this machine");
    set_default_device(Device::gpu);
  } else if (device == "cpu") {
    set_default_device(Device::cpu);
  } else {
    throw cli::usage_error("--device must be cpu or gpu, got '" + device + "'");
  }
  f.seed = uint64_t(args.integer({"--seed"}, 0));
  f.train_subset = args.integer({"--train-subset"}, 0);
  f.out_dir = args.value({"--out"}).value_or(".");
  std::filesystem::create_directories(f.out_dir);
  std::printf("device: %s\n", device.c_str());
  return f;
}

int run_main(const char* name, int argc, char** argv, const std::function<int(cli::Args&)>& body) {
  try {
    cli::Args args(argc, argv, 1);
    return body(args);
  } catch (const cli::usage_error& e) {
    std::fprintf(stderr, "%s: %s\n", name, e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    return 1;
  }
}

EpochResult train_epoch(data::DataLoader& loader, int64_t epoch, const std::function<array(const data::Batch&)>& step) {
  auto t0 = std::chrono::steady_clock::now();
  double loss_sum = 0;
  int64_t steps = 0;
  auto batches = loader.epoch(epoch);
  for (data::Batch b; batches.next(b);) {
    loss_sum += step(b).item<float>();
    ++steps;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return {loss_sum / double(std::max<int64_t>(steps, 1)), seconds, steps};
}

std::pair<double, double> evaluate_classifier(const std::function<array(const array&)>& forward, const array& x,
                                              const array& y, int64_t batch) {
  const int64_t n = x.shape(0);
  double loss_sum = 0, correct = 0;
  for (int64_t start = 0; start < n; start += batch) {
    int64_t stop = std::min(n, start + batch);
    Shape lo(size_t(x.ndim()), 0), hi = x.shape();
    lo[0] = start, hi[0] = stop;
    array logits = forward(slice(x, lo, hi));
    array yb = slice(y, {start}, {stop});
    array loss = nn::losses::cross_entropy(logits, yb, std::nullopt, -100, nn::losses::Reduction::sum);
    array hits = sum(astype(equal(astype(argmax(logits, -1), int32), astype(yb, int32)), float32));
    eval(loss, hits);
    loss_sum += loss.item<float>();
    correct += hits.item<float>();
  }
  return {loss_sum / double(n), correct / double(n)};
}

void write_history(const TrainingLog& log, const std::string& out_dir, const std::string& name,
                   const std::string& title, const std::vector<std::vector<std::string>>& panels) {
  std::string base = out_dir + "/" + name;
  log.write_csv(base + ".csv");
  std::printf("history: %s.csv\n", base.c_str());
  try {
    log.write_png(base + ".png", title, panels);
    std::printf("chart: %s.png\n", base.c_str());
  } catch (const std::runtime_error& e) {
    std::printf("chart: %s\n", e.what());
  }
}

}  // namespace alloy::examples
