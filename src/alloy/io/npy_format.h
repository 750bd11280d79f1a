// The .npy format pieces shared by npy.cpp and npz.cpp (internal to alloy::io).
#pragma once

#include <string>

#include "alloy/core/array.h"
#include "alloy/io/common.h"

namespace alloy::io::detail {

// The whole .npy image in `blob` (magic, version, header dict, data) to an array.
array npy_from_blob(const Blob& blob, const char* function, const std::string& file);

// Magic, version, header length and the header dict padded to 64 bytes, for a row-major
// little-endian array of `dtype` and `shape`. Throws for bfloat16.
std::string npy_preamble(Dtype dtype, const Shape& shape, const char* function,
                         const std::string& file);

}  // namespace alloy::io::detail
