// Encoding float rows as a GGUF tensor's bytes, for every writer of GGUF files (quantize,
// convert, alloy synth).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "alloy/core/array.h"

namespace alloy::llm {

// values: rows of `row` floats -> uint8 bytes of ggml type `ggml_type` (F32, F16, BF16 or any
// type quant::quantize_row writes), rows encoded on every core.
array encode_rows(const std::vector<float>& values, uint32_t ggml_type, int64_t row);

// fn(r) for every r in [0, rows), rows interleaved over one thread per core (for the loaders'
// and writers' per-row conversions, which run before alloy's own pool has work).
void for_each_row_on_every_core(int64_t rows, const std::function<void(int64_t)>& fn);

}  // namespace alloy::llm
