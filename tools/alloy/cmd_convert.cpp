// alloy convert HF_DIR OUT.gguf [--type F16]: a Hugging Face model as GGUF (convert/convert.h).
#include <cstdio>

#include "alloy/llm/convert/convert.h"
#include "common.h"

namespace alloy::cli {

int cmd_convert(Args& args) {
  std::string type = args.value({"--type", "-t"}).value_or("F16");
  std::vector<std::string> files = args.finish();
  if (files.size() != 2) throw usage_error("needs a Hugging Face folder and an output file: alloy convert DIR OUT.gguf [--type F32|F16|BF16]");
  llm::convert_hf_to_gguf(files[0], files[1], type);
  std::fprintf(stderr, "convert: wrote %s (%s)\n", files[1].c_str(), type.c_str());
  return 0;
}

}  // namespace alloy::cli
