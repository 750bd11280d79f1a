// Writes the gpt example's checkpoint as a Hugging Face model folder: config.json,
// model.safetensors, a byte-level tokenizer.json (256 byte tokens, no merges, and
// <|endoftext|>), tokenizer_config.json and generation_config.json.
#pragma once

#include <string>

#include "gpt/gpt_model.h"

namespace gpt {

void save_hf_checkpoint(const GPT& model, const std::string& dir);

}  // namespace gpt
