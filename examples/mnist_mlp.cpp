// mnist_mlp: the seed's model, a 784-256-10 perceptron with ReLU, trained with Adam and cross
// entropy on Fashion-MNIST (batch 64, 10 epochs), on the CPU or with --device gpu on the GPU.
// Prints loss, accuracy and time per epoch; writes mnist_mlp.csv and mnist_mlp.png.
//
//   build/examples/mnist_mlp [--device cpu|gpu] [--epochs 10] [--batch 64] [--lr 1e-3]
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

struct MLP : nn::Module {
  nn::Linear fc1{784, 256}, fc2{256, 10};
  MLP() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  // x (B, 784) -> logits (B, 10)
  array forward(const array& x) { return fc2(nn::relu(fc1(x))); }
};

}  // namespace

int main(int argc, char** argv) {
  return examples::run_main("mnist_mlp", argc, argv, [](cli::Args& args) {
    const auto setup = examples::read_common_flags(args);
    const int epochs = int(args.integer({"--epochs"}, 10));
    const int64_t batch = args.integer({"--batch"}, 64);
    const double lr = args.real({"--lr"}, 1e-3);
    args.finish();

    data::FashionMNIST fm = data::load_fashion_mnist();
    // Pixels to [0, 1], flattened: (N, 784) float32.
    auto flat = [](const array& images) { return divide(astype(reshape(images, {-1, 784}), float32), array(255.0f)); };
    data::TensorDataset train({flat(fm.train_images), astype(fm.train_labels, int32)});
    data::Subset train_used(train, setup.train_subset > 0 ? setup.train_subset : train.size());
    array test_x = flat(fm.test_images), test_y = astype(fm.test_labels, int32);
    eval(test_x, test_y);

    random::seed(setup.seed);
    MLP model;
    std::printf("%s", model.summary().c_str());
    optim::Adam opt({.lr = lr});
    auto loss_and_grad = nn::value_and_grad(model, [&](const array& x, const array& y) {
      return nn::losses::cross_entropy(model.forward(x), y);
    });

    data::DataLoader loader(train_used, {.batch_size = batch, .shuffle = true, .seed = setup.seed});
    examples::TrainingLog log("epoch");
    std::printf("%5s %10s %10s %9s %9s %11s\n", "epoch", "train_loss", "test_loss", "test_acc", "time_s", "examples/s");
    for (int epoch = 1; epoch <= epochs; ++epoch) {
      model.train();
      auto [mean_loss, seconds, steps] = examples::train_epoch(loader, epoch - 1, [&](const data::Batch& b) {
        auto [loss, grads] = loss_and_grad(b[0], b[1]);
        opt.update(model, grads);  // evaluates the new parameters and state
        return loss;
      });
      model.eval();
      auto [test_loss, test_acc] = examples::evaluate_classifier(
          [&](const array& x) { return model.forward(x); }, test_x, test_y, 1000);
      std::printf("%5d %10.4f %10.4f %8.2f%% %9.2f %11.0f\n", epoch, mean_loss, test_loss,
                  100 * test_acc, seconds, double(train_used.size()) / seconds);
      std::fflush(stdout);
      log.add(epoch, {{"train_loss", mean_loss}, {"test_loss", test_loss},
                      {"test_accuracy", test_acc}, {"epoch_seconds", seconds}});
    }
    examples::write_history(log, setup.out_dir, "mnist_mlp", "mnist_mlp: 784-256-10 MLP on Fashion-MNIST",
                            {{"train_loss", "test_loss"}, {"test_accuracy"}});
    return 0;
  });
}
