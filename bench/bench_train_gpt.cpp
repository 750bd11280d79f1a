// Training throughput of a decoder-only transformer (the gpt example's model: Llama layout) on
// random tokens: forward, backward, gradient clipping and AdamW per step, with a bfloat16
// compute dtype over float32 master weights. Prints tokens/s over the timed steps (after
// warm-up) and one JSON line. The default shape is GPT-2 small's (12 layers, dim 768, 12 heads,
// vocab 50257, context 1024) at batch 16, the benchmark.
//   bench_train_gpt [--device gpu] [--batch 16] [--context 1024] [--dim 768] [--layers 12]
//                   [--heads 12] [--vocab 50257] [--steps 10] [--warmup 3] [--dtype bfloat16]
#include <alloy/alloy.h>
#include <alloy/nn/nn.h>
#include <alloy/optim/optim.h>

#include <chrono>
#include <cstdio>

#include "../examples/gpt/gpt_model.h"
#include "alloy/backend/gpu_api.h"
#include "../tools/alloy/args.h"

using namespace alloy;

int main(int argc, char** argv) {
  try {
    cli::Args args(argc, argv, 1);
    std::string device = args.value({"--device"}).value_or(gpu_available() ? "gpu" : "cpu");
    set_default_device(device == "gpu" ? Device::gpu : Device::cpu);
    gpt::Config cfg;
    cfg.vocab_size = args.integer({"--vocab"}, 50257);
    cfg.dim = args.integer({"--dim"}, 768);
    cfg.layers = args.integer({"--layers"}, 12);
    cfg.heads = args.integer({"--heads"}, 12);
    cfg.kv_heads = args.integer({"--kv-heads"}, cfg.heads);
    cfg.ffn_dim = args.integer({"--ffn"}, 2048);  // SwiGLU at 3 x 768 x 2048: GPT-2's 2 x 768 x 3072 parameters
    cfg.context = args.integer({"--context"}, 1024);
    cfg.tie_embeddings = true;
    const int64_t batch = args.integer({"--batch"}, 16);
    const int64_t steps = args.integer({"--steps"}, 10), warmup = args.integer({"--warmup"}, 3);
    std::string dtype = args.value({"--dtype"}).value_or("bfloat16");
    args.finish();
    std::optional<Dtype> compute;
    if (dtype == "bfloat16") compute = bfloat16;
    else if (dtype == "float16") compute = float16;

    random::seed(0);
    gpt::GPT model(cfg);
    size_t params = nn::element_count(model.parameters());
    optim::AdamW opt({.lr = 3e-4, .betas = {0.9, 0.95}, .weight_decay = 0.1});
    auto loss_and_grad = nn::value_and_grad(
        model,
        [&](const array& x, const array& y) { return nn::losses::cross_entropy(model.forward(x), y); },
        compute);
    array tokens = random::randint(array(0), array(int(cfg.vocab_size)), {batch, cfg.context + 1}, int32);
    array x = slice(tokens, {0, 0}, {batch, cfg.context}), y = slice(tokens, {0, 1}, {batch, cfg.context + 1});
    eval(x, y);
    double seconds = 0, last_loss = 0;
    for (int64_t s = 0; s < warmup + steps; ++s) {
      auto t0 = std::chrono::steady_clock::now();
      auto [loss, grads] = loss_and_grad(x, y);
      auto [clipped, norm] = optim::clip_grad_norm(grads, 1.0);
      opt.update(model, clipped);
      last_loss = loss.item<float>();
      double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (s >= warmup) seconds += dt;
      if (s + 1 == warmup && device == "gpu" && gpu::profiling()) gpu::profile_reset();  // time steady steps only
      std::fprintf(stderr, "step %lld: loss %.4f, %.1f ms\n", (long long)s, last_loss, dt * 1e3);
    }
    double tokens_per_s = double(batch * cfg.context * steps) / seconds;
    std::printf("alloy: %zu parameters, batch %lld x %lld, %s on %s: %.0f tokens/s (%.1f ms/step), peak memory %.2f GB\n",
                params, (long long)batch, (long long)cfg.context, dtype.c_str(), device.c_str(), tokens_per_s,
                1e3 * seconds / double(steps), double(get_peak_memory()) / 1e9);
    std::printf("{\"impl\": \"alloy\", \"tokens_per_s\": %.1f, \"ms_per_step\": %.2f, \"params\": %zu, \"loss\": %.4f}\n",
                tokens_per_s, 1e3 * seconds / double(steps), params, last_loss);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_train_gpt: %s\n", e.what());
    return 1;
  }
}
