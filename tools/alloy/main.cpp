// The alloy command-line program: run, chat with, benchmark, inspect and make LLMs.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "common.h"

namespace {

const char* kUsage =
    "usage: alloy COMMAND [options]\n"
    "  generate -m MODEL -p PROMPT [-n N] [--temp T --top-k K --top-p P --min-p P --repeat-penalty R --seed S]\n"
    "           [--device cpu|gpu] [--chat] [--system TEXT] [--ctx N] [--cache-type f16|bf16|f32|q8_0]\n"
    "  chat     -m MODEL [--system TEXT] [sampling options]   (/reset, /exit; Ctrl-C stops an answer)\n"
    "  bench    -m MODEL [-p 512] [-n 128] [-r 5] [--device cpu|gpu] [--cache-type f16|q8_0]\n"
    "  info     -m MODEL\n"
    "  convert  HF_DIR OUT.gguf [--type F32|F16|BF16]\n"
    "  quantize IN.gguf|HF_DIR OUT.gguf --type Q4_0|Q4_1|Q5_0|Q5_1|Q8_0|Q2_K|Q3_K_M|Q4_K_M|Q5_K_M|Q6_K|IQ4_NL|IQ4_XS|F16|BF16|F32\n"
    "  synth    --arch llama --dim D --ffn F --layers L --heads H --kv-heads KV --vocab-from FILE.gguf\n"
    "           -o OUT.gguf [--type F32|F16|Q4_0|Q8_0|Q4_K|Q5_K|Q6_K] [--seed S]\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::string cmd = argv[1];
  try {
    alloy::cli::Args args(argc, argv, 2);
    if (cmd == "generate") return alloy::cli::cmd_generate(args);
    if (cmd == "chat") return alloy::cli::cmd_chat(args);
    if (cmd == "bench") return alloy::cli::cmd_bench(args);
    if (cmd == "info") return alloy::cli::cmd_info(args);
    if (cmd == "synth") return alloy::cli::cmd_synth(args);
    if (cmd == "quantize") return alloy::cli::cmd_quantize(args);
    if (cmd == "convert") return alloy::cli::cmd_convert(args);
    std::fprintf(stderr, "alloy: unknown command '%s'\n%s", cmd.c_str(), kUsage);
    return 2;
  } catch (const alloy::cli::usage_error& e) {
    std::fprintf(stderr, "alloy %s: %s\n", cmd.c_str(), e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "alloy %s: error: %s\n", cmd.c_str(), e.what());
    return 1;
  }
}
