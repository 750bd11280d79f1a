// Hugging Face folder -> GGUF in llama.cpp's conventions (what its convert_hf_to_gguf.py
// writes): "<arch>.*" hyper-parameters, tokenizer.* metadata, GGUF tensor names, llama's Q/K
// rows permuted for pair-wise RoPE, Gemma's norms stored as 1 + w, llama3 RoPE scaling as a
// rope_freqs tensor; 1-d tensors in F32, matrices in F32, F16 or BF16.
#pragma once

#include <string>

namespace alloy::llm {

// type: "F32", "F16" or "BF16". Throws std::invalid_argument naming what is wrong.
void convert_hf_to_gguf(const std::string& directory, const std::string& output, const std::string& type);

}  // namespace alloy::llm
