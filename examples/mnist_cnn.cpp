// mnist_cnn: a small convolutional network on Fashion-MNIST (two 3x3 conv + ReLU + 2x2 max-pool
// blocks, 32 and 64 channels, then 3136-128-10), Adam and cross entropy, batch 64, on the CPU or
// with --device gpu on the GPU. Images are channels-last (N, 28, 28, 1), as alloy's convolutions
// take them. Prints loss, accuracy and time per epoch; writes mnist_cnn.csv and mnist_cnn.png.
//
//   build/examples/mnist_cnn [--device cpu|gpu] [--epochs 5] [--batch 64] [--lr 1e-3]
//                            [--train-subset N] [--out DIR]
#include <alloy/alloy.h>
#include <alloy/data/data.h>
#include <alloy/nn/nn.h>
#include <alloy/optim/optim.h>

#include <chrono>
#include <cstdio>

#include "common/example_setup.h"
#include "common/training_log.h"

using namespace alloy;

namespace {

struct CNN : nn::Module {
  nn::Conv2d conv1{1, 32, 3, 1, 1}, conv2{32, 64, 3, 1, 1};
  nn::MaxPool2d pool{2};
  nn::Linear fc1{7 * 7 * 64, 128}, fc2{128, 10};
  CNN() {
    register_module("conv1", conv1);
    register_module("conv2", conv2);
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  // x (B, 28, 28, 1) -> logits (B, 10)
  array forward(const array& x) {
    array h = pool(nn::relu(conv1(x)));  // (B, 14, 14, 32)
    h = pool(nn::relu(conv2(h)));        // (B, 7, 7, 64)
    return fc2(nn::relu(fc1(reshape(h, {h.shape(0), -1}))));
  }
};

}  // namespace

int main(int argc, char** argv) {
  return examples::run_main("mnist_cnn", argc, argv, [](cli::Args& args) {
    const auto setup = examples::read_common_flags(args);
    const int epochs = int(args.integer({"--epochs"}, 5));
    const int64_t batch = args.integer({"--batch"}, 64);
    const double lr = args.real({"--lr"}, 1e-3);
    args.finish();

    data::FashionMNIST fm = data::load_fashion_mnist();
    // Pixels to [0, 1], channels-last: (N, 28, 28, 1) float32.
    auto images = [](const array& im) { return divide(astype(expand_dims(im, -1), float32), array(255.0f)); };
    data::TensorDataset train({images(fm.train_images), astype(fm.train_labels, int32)});
    data::Subset train_used(train, setup.train_subset > 0 ? setup.train_subset : train.size());
    array test_x = images(fm.test_images), test_y = astype(fm.test_labels, int32);
    eval(test_x, test_y);

    random::seed(setup.seed);
    CNN model;
    std::printf("%s", model.summary().c_str());
    optim::Adam opt({.lr = lr});
    auto loss_and_grad = nn::value_and_grad(model, [&](const array& x, const array& y) {
      return nn::losses::cross_entropy(model.forward(x), y);
    });

    data::DataLoader loader(train_used, {.batch_size = batch, .shuffle = true, .seed = setup.seed});
    examples::TrainingLog log("epoch");
    std::printf("%5s %10s %10s %9s %9s %9s\n", "epoch", "train_loss", "test_loss", "test_acc", "time_s", "step_ms");
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      model.train();
      auto [mean_loss, seconds, steps] = examples::train_epoch(loader, epoch - 1, [&](const data::Batch& b) {
        auto [loss, grads] = loss_and_grad(b[0], b[1]);
        opt.update(model, grads);  // evaluates the new parameters and state
        return loss;
      });
      model.eval();
      auto [test_loss, test_acc] = examples::evaluate_classifier(
          [&](const array& x) { return model.forward(x); }, test_x, test_y, 500);
      std::printf("%5d %10.4f %10.4f %8.2f%% %9.2f %9.2f\n", epoch, mean_loss, test_loss,
                  100 * test_acc, seconds, 1e3 * seconds / double(steps));
      std::fflush(stdout);
      log.add(epoch, {{"train_loss", mean_loss}, {"test_loss", test_loss},
                      {"test_accuracy", test_acc}, {"step_ms", 1e3 * seconds / double(steps)}});
    }
    examples::write_history(log, setup.out_dir, "mnist_cnn", "mnist_cnn: 2 conv blocks + MLP on Fashion-MNIST",
                            {{"train_loss", "test_loss"}, {"test_accuracy"}});
    return 0;
  });
}
