// Helpers shared by the format files (internal to alloy::io): a byte blob that is either a
// private file mapping or a heap copy, a bounds-checked little-endian reader, overflow-checked
// arithmetic, an atomic file writer, and turning a byte range of a blob into an array.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/io/io_error.h"

namespace alloy::io::detail {

// Bytes of a whole file or buffer; `owner` keeps them alive (munmap or delete[] at the end).
struct Blob {
  std::shared_ptr<const void> owner;
  const uint8_t* data = nullptr;
  size_t size = 0;
};

// Maps the file privately with write permission: pages are copy-on-write, so an array that
// wraps them may be written in place (buffer donation) without touching the file.
Blob map_file(const std::string& path, const char* function);
// A heap copy of exactly `size` bytes (so ASan sees reads past the end).
Blob copy_blob(const uint8_t* data, size_t size);
// The size of a regular file; throws io_error for missing files and non-files.
uint64_t regular_file_size(const std::string& path, const char* function);

// a * b and a + b, false on overflow of uint64_t.
inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}
inline bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_add_overflow(a, b, out);
}
// Product of dims as an element count that fits int64 (alloy's Shape); false on overflow,
// also of the product of the nonzero dims, or for a negative dim.
bool checked_element_count(const Shape& shape, uint64_t* count);

// Reads little-endian values from [data, data + size); every read is bounds-checked and a
// short read throws io_error naming `what`.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const char* function, const std::string& file)
      : data_(data), size_(size), function_(function), file_(file) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return size_ - pos_; }
  const uint8_t* here() const { return data_ + pos_; }

  void need(uint64_t n, const char* what) const;
  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += size_t(n);
  }
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, data_ + pos_, sizeof(T));  // little-endian host assumed (x86-64, ARM64)
    pos_ += sizeof(T);
    return v;
  }
  std::string read_bytes_as_string(uint64_t n, const char* what) {
    need(n, what);
    std::string s(reinterpret_cast<const char*>(data_ + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }
  [[noreturn]] void fail(const std::string& problem) const;

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  const char* function_;
  std::string file_;
};

// Writes `path` through a temporary file in the same folder, renamed into place by commit().
// A writer destroyed without commit() removes the temporary file.
class AtomicFileWriter {
 public:
  AtomicFileWriter(const std::string& path, const char* function);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t n);
  void write_zeros(size_t n);
  // Writes the elements of `a` in row-major order, in chunks (no full copy of a large array).
  void write_array(const array& a);
  uint64_t bytes_written() const { return written_; }
  void commit();

 private:
  std::string path_, tmp_path_;
  const char* function_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

// Calls sink(ptr, n) with the elements of `a` in row-major order, chunk by chunk.
void for_each_array_chunk(const array& a, const std::function<void(const void*, size_t)>& sink);

// An array of `shape` and `dtype` from the bytes at blob.data + offset (the caller checked the
// extent). Wraps the blob without a copy when the pointer is aligned for the dtype; copies
// otherwise, when `byte_swap` (big-endian source) is set, and for bool (bytes other than 0/1
// are normalized, since such a bool is undefined behaviour to read).
array blob_to_array(const Blob& blob, size_t offset, const Shape& shape, Dtype dtype,
                    bool byte_swap = false);

}  // namespace alloy::io::detail
