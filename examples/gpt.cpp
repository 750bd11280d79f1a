// gpt: trains a small decoder-only transformer (Llama layout, a few million parameters) on a
// plain-text corpus (Debian's `fortunes` by default), byte-tokenized; prints loss and tokens/s,
// saves a Hugging Face checkpoint folder that the alloy LLM runtime loads
// (`alloy generate -m gpt-checkpoint`), and samples text from it at the end.
//
//   build/examples/gpt [--device cpu|gpu] [--steps 600] [--batch 16] [--context 256]
//                      [--dim 256] [--layers 6] [--heads 8] [--kv-heads 4] [--lr 2e-3]
//                      [--dtype float32|bfloat16] [--corpus PATH] [--checkpoint DIR] [--out DIR]
#include <alloy/alloy.h>
#include <alloy/data/data.h>
#include <alloy/llm/generate/generate.h>
#include <alloy/llm/load.h>
#include <alloy/nn/nn.h>
#include <alloy/optim/optim.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "common/example_setup.h"
#include "common/training_log.h"
#include "gpt/corpus.h"
#include "gpt/gpt_model.h"
#include "gpt/hf_export.h"

using namespace alloy;

namespace {

// Windows of context + 1 tokens starting every `stride` tokens: (inputs, targets) shifted by one.
class WindowDataset : public data::Dataset {
 public:
  WindowDataset(const std::vector<int32_t>& tokens, int64_t context, int64_t stride)
      : tokens_(tokens), context_(context), stride_(stride) {}
  int64_t size() const override { return std::max<int64_t>(0, (int64_t(tokens_.size()) - context_ - 1) / stride_); }
  data::Batch get_batch(const std::vector<int64_t>& indices) const override {
    const int64_t B = int64_t(indices.size()), T = context_;
    std::vector<int32_t> x(size_t(B * T)), y(size_t(B * T));
    for (int64_t b = 0; b < B; ++b) {
      const int32_t* src = tokens_.data() + indices[size_t(b)] * stride_;
      std::copy(src, src + T, x.begin() + b * T);
      std::copy(src + 1, src + T + 1, y.begin() + b * T);
    }
    return {array(x, Shape{B, T}), array(y, Shape{B, T})};
  }

 private:
  const std::vector<int32_t>& tokens_;
  int64_t context_, stride_;
};

// Mean loss over the first max_batches batches of the validation windows (float32 weights).
double validation_loss(gpt::GPT& model, const WindowDataset& val, int64_t batch, int64_t max_batches) {
  double total = 0;
  int64_t n = 0;
  for (int64_t b = 0; b < max_batches && (b + 1) * batch <= val.size(); ++b) {
    std::vector<int64_t> idx(static_cast<size_t>(batch));
    for (int64_t i = 0; i < batch; ++i) idx[size_t(i)] = b * batch + i;
    data::Batch xy = val.get_batch(idx);
    array logits = model.forward(xy[0]);
    array loss = nn::losses::cross_entropy(logits, xy[1]);
    total += loss.item<float>();
    ++n;
  }
  return n ? total / double(n) : NAN;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::run_main("gpt", argc, argv, [](cli::Args& args) {
    const auto setup = examples::read_common_flags(args);
    gpt::Config cfg;
    cfg.context = args.integer({"--context"}, cfg.context);
    cfg.dim = args.integer({"--dim"}, cfg.dim);
    cfg.layers = args.integer({"--layers"}, cfg.layers);
    cfg.heads = args.integer({"--heads"}, cfg.heads);
    cfg.kv_heads = args.integer({"--kv-heads"}, cfg.kv_heads);
    cfg.ffn_dim = args.integer({"--ffn"}, (cfg.dim * 8 / 3 + 63) / 64 * 64);
    const int64_t steps = args.integer({"--steps"}, 600);
    const int64_t batch = args.integer({"--batch"}, 16);
    const double lr = args.real({"--lr"}, 2e-3);
    const int64_t warmup = std::max<int64_t>(1, args.integer({"--warmup"}, std::min<int64_t>(100, steps / 10)));
    const int64_t eval_every = args.integer({"--eval-every"}, 100);
    const int64_t sample_tokens = args.integer({"--sample-tokens"}, 300);
    const std::string corpus_path = args.value({"--corpus"}).value_or("");
    const std::string checkpoint = args.value({"--checkpoint"}).value_or(setup.out_dir + "/gpt-checkpoint");
    const std::string dtype_name = args.value({"--dtype"}).value_or(default_device() == Device::gpu ? "bfloat16" : "float32");
    const std::string prompt = args.value({"--prompt"}).value_or("The ");
    args.finish();
    std::optional<Dtype> compute;
    if (dtype_name == "bfloat16") compute = bfloat16;
    else if (dtype_name == "float16") compute = float16;
    else if (dtype_name != "float32") throw cli::usage_error("--dtype must be float32, bfloat16 or float16");

    gpt::Corpus corpus = gpt::load_corpus(corpus_path);
    std::printf("corpus: %s, %lld documents, %.2f MB; %zu training and %zu validation tokens\n",
                corpus.source.c_str(), (long long)corpus.documents, double(corpus.bytes) / 1e6, corpus.train.size(),
                corpus.validation.size());
    WindowDataset train(corpus.train, cfg.context, cfg.context / 2), val(corpus.validation, cfg.context, cfg.context);

    random::seed(setup.seed);
    gpt::GPT model(cfg);
    std::printf("%s", model.summary().c_str());
    // AdamW with linear warm-up and cosine decay to a tenth; no weight decay on norms.
    optim::AdamW opt({.lr = optim::join_schedules({optim::linear_schedule(lr / 100, lr, warmup),
                                                    optim::cosine_decay(lr, std::max<int64_t>(1, steps - warmup), lr / 10)},
                                                   {warmup}),
                      .betas = {0.9, 0.95},
                      .weight_decay = 0.1});
    auto loss_and_grad = nn::value_and_grad(
        model,
        [&](const array& x, const array& y) { return nn::losses::cross_entropy(model.forward(x), y); },
        compute);

    data::DataLoader loader(train, {.batch_size = batch, .shuffle = true, .seed = setup.seed, .drop_last = true});
    examples::TrainingLog log("step");
    std::printf("%6s %10s %10s %10s %11s\n", "step", "train_loss", "val_loss", "lr", "tokens/s");
    int64_t step = 0, epoch = 0, tokens_since = 0;
    double loss_since = 0;
    int64_t loss_count = 0;
    auto t_last = std::chrono::steady_clock::now();
    while (step < steps) {
      auto batches = loader.epoch(epoch++);
      for (data::Batch b; step < steps && batches.next(b);) {
        auto [loss, grads] = loss_and_grad(b[0], b[1]);
        auto [clipped, norm] = optim::clip_grad_norm(grads, 1.0);
        opt.update(model, clipped);
        loss_since += loss.item<float>();
        ++loss_count;
        tokens_since += batch * cfg.context;
        ++step;
        if (step % eval_every == 0 || step == steps || step == 1) {
          double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_last).count();
          double val_loss = validation_loss(model, val, batch, 8);
          double train_loss = loss_since / double(loss_count);
          std::printf("%6lld %10.4f %10.4f %10.2e %11.0f\n", (long long)step, train_loss, val_loss,
                      opt.learning_rate(), double(tokens_since) / seconds);
          std::fflush(stdout);
          log.add(double(step), {{"train_loss", train_loss}, {"val_loss", val_loss},
                                 {"tokens_per_second", double(tokens_since) / seconds}});
          loss_since = 0, loss_count = 0, tokens_since = 0;
          t_last = std::chrono::steady_clock::now();
        }
      }
    }
    examples::write_history(log, setup.out_dir, "gpt", "gpt: byte-level transformer on " + corpus.source,
                            {{"train_loss", "val_loss"}, {"tokens_per_second"}});

    gpt::save_hf_checkpoint(model, checkpoint);
    std::printf("checkpoint: %s (alloy generate -m %s)\n", checkpoint.c_str(), checkpoint.c_str());

    // Sampling through the LLM runtime, from the files just written.
    auto [runtime_model, tokenizer] = llm::load(checkpoint);
    llm::GenerateOptions gen;
    gen.max_tokens = sample_tokens;
    gen.sampling.temperature = 0.8f;
    gen.sampling.seed = setup.seed;
    std::printf("\nsample (temperature 0.8):\n%s", prompt.c_str());
    llm::generate(runtime_model, tokenizer, prompt, gen, [](const llm::GeneratedToken& t) {
      std::fputs(t.text.c_str(), stdout);
      std::fflush(stdout);
      return true;
    });
    std::printf("\n");
    return 0;
  });
}
