// DataLoader: shuffled mini-batches from a Dataset, prepared by a background thread while the
// current batch trains (as torch.utils.data.DataLoader with one worker).
//
//   data::DataLoader loader(train, {.batch_size = 64, .shuffle = true, .seed = 0});
//   for (int epoch = 0; epoch < 10; ++epoch) {
//     auto batches = loader.epoch(epoch);
//     for (data::Batch b; batches.next(b);) { ... b[0] images, b[1] labels ... }
//   }
//
// The order of an epoch depends only on (seed, epoch): the permutation is a Fisher-Yates shuffle
// driven by SplitMix64, identical on every platform and run.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "alloy/data/dataset.h"

namespace alloy::data {

struct LoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;  // drop a final partial batch
  int prefetch = 2;        // batches prepared ahead (>= 1)
  // Runs on the loader thread after get_batch (e.g. a conversion or augmentation).
  std::function<Batch(Batch)> transform = {};
};

// The example order of one epoch.
std::vector<int64_t> epoch_order(int64_t size, bool shuffle, uint64_t seed, int64_t epoch);

class DataLoader {
 public:
  // The dataset must outlive the loader and its epochs.
  DataLoader(const Dataset& dataset, LoaderOptions options);

  int64_t num_batches() const;
  const LoaderOptions& options() const { return options_; }

  // One pass over the data. Destroying it early stops the thread.
  class Epoch {
   public:
    Epoch(const DataLoader& loader, int64_t epoch);
    ~Epoch();
    Epoch(const Epoch&) = delete;
    Epoch& operator=(const Epoch&) = delete;
    // The next batch; false at the end of the epoch. Rethrows an error of the loader thread.
    bool next(Batch& batch);

   private:
    void produce();

    const DataLoader& loader_;
    std::vector<int64_t> order_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::deque<Batch> ready_;
    bool finished_ = false, stop_ = false;
    std::exception_ptr error_;
    std::thread thread_;
  };
  Epoch epoch(int64_t index) const { return Epoch(*this, index); }

 private:
  const Dataset& dataset_;
  LoaderOptions options_;
};

}  // namespace alloy::data
