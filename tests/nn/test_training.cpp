// Training converges: the seed's MLP (784-256-10, ReLU, Adam, cross entropy, batch 64) reaches
// the 85% test accuracy bar of the mnist_mlp example on a subset of Fashion-MNIST.
#include <gtest/gtest.h>

#include <filesystem>

#include "alloy/alloy.h"
#include "alloy/data/data.h"
#include "alloy/nn/nn.h"
#include "alloy/optim/optim.h"

namespace alloy {
namespace {

struct MLP : nn::Module {
  nn::Linear fc1{784, 256}, fc2{256, 10};
  MLP() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  array forward(const array& x) { return fc2(nn::relu(fc1(x))); }
};

TEST(Training, MlpReachesTheAccuracyBarOnFashionMnist) {
  if (!std::filesystem::exists(data::fashion_mnist_dir())) {
    GTEST_SKIP() << data::fashion_mnist_dir() << " is missing (apt-get install dataset-fashion-mnist)";
  }
  data::FashionMNIST fm = data::load_fashion_mnist();
  auto flat = [](const array& im) { return divide(astype(reshape(im, {-1, 784}), float32), array(255.0f)); };
  data::TensorDataset train({flat(fm.train_images), astype(fm.train_labels, int32)});
  data::Subset subset(train, 30000);
  random::seed(0);
  MLP model;
  optim::Adam opt({.lr = 1e-3});
  auto step = nn::value_and_grad(model, [&](const array& x, const array& y) {
    return nn::losses::cross_entropy(model.forward(x), y);
  });
  data::DataLoader loader(subset, {.batch_size = 64, .shuffle = true, .seed = 0});
  std::vector<double> epoch_loss;
  for (int epoch = 0; epoch < 6; ++epoch) {
    double total = 0;
    int n = 0;
    auto batches = loader.epoch(epoch);
    for (data::Batch b; batches.next(b);) {
      auto [loss, grads] = step(b[0], b[1]);
      opt.update(model, grads);
      total += loss.item<float>();
      ++n;
    }
    epoch_loss.push_back(total / n);
  }
  for (size_t i = 1; i < epoch_loss.size(); ++i) EXPECT_LT(epoch_loss[i], epoch_loss[i - 1]) << "epoch " << i;
  array logits = model.forward(flat(fm.test_images));
  double accuracy =
      mean(astype(equal(astype(argmax(logits, -1), int32), astype(fm.test_labels, int32)), float32)).item<float>();
  EXPECT_GE(accuracy, 0.85) << "test accuracy after 6 epochs of 30,000 images";
  std::printf("test accuracy %.2f%%, epoch losses %.3f .. %.3f\n", 100 * accuracy, epoch_loss.front(), epoch_loss.back());
}

}  // namespace
}  // namespace alloy
