// alloy::io: reading and writing arrays in NumPy (.npy, .npz), safetensors and GGUF files.
//
// Loaders memory-map the file and wrap tensors without copying where the data is aligned for
// its dtype (the mapping lives as long as any array made from it); otherwise they copy.
// Savers write to a temporary file beside the target and rename it into place, so a file that
// is still mapped by arrays loaded from it is never truncated under them.
// Every failure throws io_error naming the function, the file and the problem; hostile input
// (truncated, oversized counts, bad offsets) is an io_error, never a crash or a huge allocation.
// The *_from_memory variants parse a caller's buffer (they copy it) and exist mostly for tests
// and fuzzing; `name` stands in for the file name in messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "alloy/core/array.h"
#include "alloy/io/gguf.h"
#include "alloy/io/io_error.h"

namespace alloy::io {

// ---------- .npy ----------
// Reads versions 1.0, 2.0 and 3.0, little- and big-endian descrs, C and Fortran order (a
// Fortran-order file becomes a transposed view). Dtypes: b1 i1 i2 i4 i8 u1 u2 u4 u8 f2 f4 f8.
array load_npy(const std::string& path);
array load_npy_from_memory(const uint8_t* data, size_t size, const std::string& name);
// Writes version 1.0 (2.0 when the header needs it), row-major, little-endian. bfloat16 has no
// NumPy dtype and is refused.
void save_npy(const std::string& path, array a);

// ---------- .npz (a zip of <name>.npy members, stored or deflated) ----------
std::unordered_map<std::string, array> load_npz(const std::string& path);
std::unordered_map<std::string, array> load_npz_from_memory(const uint8_t* data, size_t size,
                                                            const std::string& name);
void save_npz(const std::string& path, const std::unordered_map<std::string, array>& arrays,
              bool compressed = false);

// ---------- safetensors ----------
struct SafetensorsFile {
  std::unordered_map<std::string, array> tensors;
  std::unordered_map<std::string, std::string> metadata;  // the "__metadata__" object
};
// Dtypes BOOL U8 I8 U16 I16 U32 I32 U64 I64 F16 BF16 F32 F64; others (F8_E4M3, ...) throw.
SafetensorsFile load_safetensors(const std::string& path);
SafetensorsFile load_safetensors_from_memory(const uint8_t* data, size_t size,
                                             const std::string& name);
// Tensors are laid out in sorted name order; the header is padded with spaces to 8 bytes.
void save_safetensors(const std::string& path,
                      const std::unordered_map<std::string, array>& tensors,
                      const std::unordered_map<std::string, std::string>& metadata = {});

// ---------- IDX (MNIST, Fashion-MNIST), plain or gzip-compressed ----------
// Types u8 i8 i16 i32 f32 f64; big-endian data is converted. A .gz file is inflated to exactly
// the size its header announces.
array load_idx(const std::string& path);
array load_idx_from_memory(const uint8_t* data, size_t size, const std::string& name);

}  // namespace alloy::io
