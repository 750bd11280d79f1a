// load(): a file is GGUF (by its magic), a directory is a Hugging Face model.
#include "alloy/llm/load.h"

#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace alloy::llm {

LoadedModel load(const std::string& path, const LoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_hf_model(path, options);
  if (!fs::exists(path, ec)) throw std::invalid_argument("no model at " + path + ": no such file or directory");
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  f.read(magic, 4);
  if (f.gcount() == 4 && std::string(magic, 4) == "GGUF") return load_gguf_model(path, options);
  throw std::invalid_argument(path + " is neither a GGUF file nor a Hugging Face model directory");
}

}  // namespace alloy::llm

#include "alloy/llm/load/tensor_set.h"

namespace alloy::llm {

BuildOptions resolve_build_options(const LoadOptions& options, Dtype weights_dtype) {
  BuildOptions b;
  b.progress = options.progress;
  b.device = options.device ? *options.device : default_device();
  if (b.device.type == Device::gpu && !gpu_available()) {
    throw std::runtime_error("a GPU was asked for, but none is usable on this machine");
  }
  if (options.dtype) {
    b.dtype = *options.dtype;
  } else {
    b.dtype = b.device.type == Device::cpu ? float32 : weights_dtype;
  }
  return b;
}

}  // namespace alloy::llm
