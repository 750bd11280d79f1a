// alloy quantize IN.gguf OUT.gguf --type T: llama-quantize's file types (convert/quantize.h).
#include <cstdio>

#include "alloy/llm/convert/quantize.h"
#include "common.h"

namespace alloy::cli {

int cmd_quantize(Args& args) {
  llm::QuantizeOptions o;
  o.type = args.required({"--type", "-t"}, "TYPE (Q4_0, Q8_0, Q4_K_M, Q5_K_M, Q6_K, ...)");
  std::vector<std::string> files = args.finish();
  if (files.size() != 2) throw usage_error("needs an input and an output file: alloy quantize IN.gguf OUT.gguf --type T");
  o.progress = [](size_t done, size_t total) { std::fprintf(stderr, "\rquantize: tensor %zu/%zu", done, total); };
  llm::quantize_gguf(files[0], files[1], o);
  std::fprintf(stderr, "\nquantize: wrote %s (%s)\n", files[1].c_str(), o.type.c_str());
  return 0;
}

}  // namespace alloy::cli
