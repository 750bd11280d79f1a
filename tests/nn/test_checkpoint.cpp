// nn::checkpoint: the same values and gradients, with less memory held for the backward pass
// (shown by the peak-memory counter).
#include <gtest/gtest.h>

#include "alloy/alloy.h"
#include "alloy/nn/checkpoint.h"
#include "alloy/nn/nn.h"
#include "../default_device_scope.h"
#include "torch_reference.h"

namespace alloy {
namespace {

// blocks x (layers_per_block x (Linear(width, width) + ReLU)), then a sum.
struct DeepMLP : nn::Module {
  std::vector<nn::Sequential*> blocks;
  DeepMLP(int num_blocks, int layers_per_block, int64_t width) {
    for (int b = 0; b < num_blocks; ++b) {
      auto block = std::make_unique<nn::Sequential>();
      for (int l = 0; l < layers_per_block; ++l) {
        block->append(std::make_unique<nn::Linear>(width, width));
        block->append(std::make_unique<nn::ReLU>());
      }
      blocks.push_back(&register_module("block" + std::to_string(b), std::move(block)));
    }
  }
  array forward(const array& x, bool checkpointed) {
    array h = x;
    for (nn::Sequential* b : blocks) h = checkpointed ? nn::checkpoint(*b)(h) : b->forward(h);
    return mean(square(h));
  }
};

TEST(Checkpoint, SameValuesAndGradients) {
  random::seed(3);
  DeepMLP model(3, 2, 16);
  model.set_dtype(float64);
  array x = random::normal({8, 16}, float64);
  auto run = [&](bool ckpt) {
    return nn::value_and_grad(model, [&](const array& in) { return model.forward(in, ckpt); })(x);
  };
  auto [loss_plain, grads_plain] = run(false);
  auto [loss_ckpt, grads_ckpt] = run(true);
  EXPECT_NEAR(loss_plain.item<double>(), loss_ckpt.item<double>(), 1e-14);
  ASSERT_EQ(grads_plain.names(), grads_ckpt.names());
  for (const auto& [name, g] : grads_plain) {
    EXPECT_TRUE(test::all_close(grads_ckpt.at(name), g, 1e-12, 1e-14)) << name;
  }
  // The plain function form differentiates with respect to its inputs too.
  Fn f = [](const std::vector<array>& in) { return std::vector<array>{sum(sin(in[0]) * in[1])}; };
  array a = random::normal({5}, float64), b = random::normal({5}, float64);
  auto [outs, cots] = vjp(nn::checkpoint(f), {a, b}, {array(1.0, float64)});
  EXPECT_TRUE(test::all_close(cots[0], cos(a) * b, 1e-12, 1e-14));
  EXPECT_TRUE(test::all_close(cots[1], sin(a), 1e-12, 1e-14));
}

TEST(Checkpoint, LowersPeakMemory) {
  // On the CPU: the CUDA runtime returns a buffer to its cache only when the kernels reading it
  // have finished, and the host enqueues a whole step ahead of the device, so on the GPU the
  // peak does not yet show the saving (the next step is stream-ordered reuse of freed blocks).
  test::DefaultDeviceScope on_the_cpu(Device::cpu);
  random::seed(4);
  const int64_t batch = 1024, width = 256;  // one activation: 1 MiB
  DeepMLP model(4, 4, width);
  array x = random::normal({batch, width});
  eval(x);
  for (const auto& item : model.parameters()) eval(item.second);
  auto peak_of = [&](bool ckpt) {
    auto [loss, grads] = nn::value_and_grad(model, [&](const array& in) { return model.forward(in, ckpt); })(x);
    std::vector<array> outs{loss};
    for (const auto& item : grads) outs.push_back(item.second);
    reset_peak_memory();  // of the default device, where the model runs
    size_t before = get_active_memory();
    eval(outs);
    return get_peak_memory() - before;
  };
  peak_of(false);  // warm-up
  size_t plain = peak_of(false), ckpt = peak_of(true);
  const size_t activation = size_t(batch * width * 4);
  // 16 layers keep their inputs and pre-activations (about 32 activations) without
  // checkpointing; with 4 checkpointed blocks, 4 block inputs plus one recomputed block.
  EXPECT_LT(ckpt, plain * 6 / 10) << "plain " << plain / activation << " activations, checkpointed "
                                  << ckpt / activation;
  std::printf("peak memory of the backward pass: %.1f MiB plain, %.1f MiB checkpointed\n",
              double(plain) / (1 << 20), double(ckpt) / (1 << 20));
}

}  // namespace
}  // namespace alloy
