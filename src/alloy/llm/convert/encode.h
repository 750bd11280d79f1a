// Encoding float rows as a GGUF tensor's bytes, for every writer of GGUF files (quantize,
// convert, alloy synth).
#pragma once

#include <cstdint>
#include <vector>

#include "alloy/core/array.h"

namespace alloy::llm {

// values: rows of `row` floats -> uint8 bytes of ggml type `ggml_type` (F32, F16, BF16 or any
// type quant::quantize_row writes), rows encoded on every core.
array encode_rows(const std::vector<float>& values, uint32_t ggml_type, int64_t row);

}  // namespace alloy::llm
