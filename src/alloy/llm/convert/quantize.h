// Writing a GGUF model in another tensor type, as llama-quantize does: the same metadata (with
// general.file_type updated), norms and other 1-d tensors in F32, and each matrix in the
// file type's type, with llama-quantize's per-tensor choices (the _M mixes give attn_v and
// ffn_down more bits on some layers; output.weight is Q6_K below 8 bits; a row length that
// does not divide into the type's blocks falls back as llama-quantize falls back). From an F16
// or F32 source the tensors equal llama-quantize's byte for byte.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace alloy::llm {

// F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K IQ4_NL IQ4_XS
const std::vector<std::string>& quantize_file_types();

struct QuantizeOptions {
  std::string type;  // one of quantize_file_types()
  // Called after each tensor: (tensors done, tensors in all).
  std::function<void(size_t, size_t)> progress;
};

// input: a GGUF file, or a Hugging Face folder (converted first). Throws std::invalid_argument
// for an unknown type or an input that is not a model.
void quantize_gguf(const std::string& input, const std::string& output, const QuantizeOptions& options);

}  // namespace alloy::llm
