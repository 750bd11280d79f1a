// Encoding float rows as a GGUF tensor's bytes, for every writer of GGUF files (quantize,
// convert, alloy synth).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "alloy/core/array.h"

namespace alloy::llm {

// values: rows of `row` floats -> uint8 bytes of ggml type `ggml_type` (F32, F16, BF16 or any
// type quant::quantize_row writes), rows encoded on every core.
array encode_rows(const std::vector<float>& values, uint32_t ggml_type, int64_t row);

// `bytes` of memory for a converted tensor, freed with std::free, on transparent huge pages
// where the kernel offers them: a multi-GB model converted at load spends as long faulting in
// fresh 4 KiB pages as converting (3.4 GB: 1.25 s against 0.51 s on 2 MiB pages, on the 2-core
// machine). Throws std::runtime_error naming `what` when the memory is not there.
uint8_t* allocate_converted(size_t bytes, const std::string& what);

// fn(r) for every r in [0, rows), rows interleaved over one thread per core (for the loaders'
// and writers' per-row conversions, which run before alloy's own pool has work).
void for_each_row_on_every_core(int64_t rows, const std::function<void(int64_t)>& fn);

}  // namespace alloy::llm
