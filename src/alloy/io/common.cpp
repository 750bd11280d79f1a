// Shared helpers of alloy::io: file mapping, heap blobs, bounds-checked reading, atomic
// writing and blob -> array conversion (see common.h).
#include "alloy/io/common.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <limits>

#include "alloy/core/ops.h"

namespace alloy::io::detail {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// A valid pointer for empty files and buffers (mmap refuses length 0).
const uint8_t empty_bytes[8] = {};

}  // namespace

Blob map_file(const std::string& path, const char* function) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw io_error(function, path, "cannot open: " + errno_text(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    throw io_error(function, path, "cannot stat: " + errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw io_error(function, path, "not a regular file");
  }
  Blob blob;
  blob.size = size_t(st.st_size);
  if (blob.size == 0) {
    ::close(fd);
    blob.data = empty_bytes;
    return blob;
  }
  void* p = ::mmap(nullptr, blob.size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int err = errno;
  ::close(fd);  // the mapping keeps its own reference to the file
  if (p == MAP_FAILED) throw io_error(function, path, "cannot map: " + errno_text(err));
  size_t size = blob.size;
  blob.owner = std::shared_ptr<const void>(
      p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
  blob.data = static_cast<const uint8_t*>(p);
  return blob;
}

uint64_t regular_file_size(const std::string& path, const char* function) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    throw io_error(function, path, "cannot open: " + errno_text(errno));
  }
  if (!S_ISREG(st.st_mode)) throw io_error(function, path, "not a regular file");
  return uint64_t(st.st_size);
}

Blob copy_blob(const uint8_t* data, size_t size) {
  Blob blob;
  if (size == 0) {
    blob.data = empty_bytes;
    return blob;
  }
  std::shared_ptr<uint8_t[]> copy(new uint8_t[size]);
  std::memcpy(copy.get(), data, size);
  blob.data = copy.get();
  blob.size = size;
  blob.owner = std::move(copy);
  return blob;
}

bool checked_element_count(const Shape& shape, uint64_t* count) {
  // The product of the nonzero dims must fit too: row-major strides are built from it even
  // when another dim is 0, as in (0, 2^40, 2^40).
  uint64_t n = 1, span = 1;
  const uint64_t limit = uint64_t(std::numeric_limits<int64_t>::max());
  for (int64_t d : shape) {
    if (d < 0 || mul_overflows(n, uint64_t(d), &n) ||
        mul_overflows(span, uint64_t(std::max<int64_t>(d, 1)), &span) || span > limit) {
      return false;
    }
  }
  *count = n;
  return true;
}

// ---------- Reader ----------

void Reader::need(uint64_t n, const char* what) const {
  if (n > remaining()) {
    fail("truncated: " + std::string(what) + " at offset " + std::to_string(pos_) + " needs " +
         std::to_string(n) + " bytes but only " + std::to_string(remaining()) + " remain");
  }
}

void Reader::fail(const std::string& problem) const { throw io_error(function_, file_, problem); }

// ---------- AtomicFileWriter ----------

AtomicFileWriter::AtomicFileWriter(const std::string& path, const char* function)
    : path_(path), function_(function) {
  static std::atomic<uint64_t> counter{0};
  // O_EXCL with a fresh name per attempt; 0666 so the umask applies as for a plain open().
  for (int attempt = 0; attempt < 16 && fd_ < 0; ++attempt) {
    tmp_path_ =
        path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
    fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    throw io_error(function, path, "cannot create " + tmp_path_ + ": " + errno_text(errno));
  }
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
}

void AtomicFileWriter::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw io_error(function_, path_, "write failed: " + errno_text(errno));
    }
    p += w;
    n -= size_t(w);
    written_ += uint64_t(w);
  }
}

void AtomicFileWriter::write_zeros(size_t n) {
  static const uint8_t zeros[64] = {};
  while (n > 0) {
    size_t k = std::min(n, sizeof(zeros));
    write(zeros, k);
    n -= k;
  }
}

void AtomicFileWriter::write_array(const array& a) {
  for_each_array_chunk(a, [this](const void* p, size_t n) { write(p, n); });
}

void AtomicFileWriter::commit() {
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    throw io_error(function_, path_, "close failed: " + errno_text(err));
  }
  if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp_path_.c_str());
    throw io_error(function_, path_,
                   "cannot rename the temporary file into place: " + errno_text(err));
  }
}

// ---------- arrays ----------

void for_each_array_chunk(const array& a_in, const std::function<void(const void*, size_t)>& sink) {
  array a = a_in;
  size_t n = a.size();
  if (n == 0) return;
  size_t item = a.itemsize();
  // 16 MiB pieces: a large array is never duplicated whole in host memory.
  size_t chunk = std::max<size_t>(1, (size_t(16) << 20) / item);
  if (n <= chunk) {
    std::vector<uint8_t> buf(n * item);
    a.copy_elements_to(buf.data(), a.dtype());
    sink(buf.data(), buf.size());
    return;
  }
  std::vector<uint8_t> buf(chunk * item);
  array flat = reshape(a, Shape{int64_t(n)});
  for (size_t i = 0; i < n; i += chunk) {
    size_t j = std::min(n, i + chunk);
    array part = slice(flat, Shape{int64_t(i)}, Shape{int64_t(j)});
    part.copy_elements_to(buf.data(), a.dtype());
    sink(buf.data(), (j - i) * item);
  }
}

array blob_to_array(const Blob& blob, size_t offset, const Shape& shape, Dtype dtype,
                    bool byte_swap) {
  size_t n = shape_size(shape);
  size_t item = size_of(dtype);
  return dispatch_dtype(dtype, [&](auto zero) -> array {
    using T = decltype(zero);
    // An empty tensor may sit at an offset past the end (nothing to read): copy nothing.
    if (n == 0) return array(&zero, shape);
    const uint8_t* src = blob.data + offset;
    if constexpr (std::is_same_v<T, bool>) {
      std::unique_ptr<bool[]> tmp(new bool[n]);
      for (size_t i = 0; i < n; ++i) tmp[i] = src[i] != 0;
      return array(tmp.get(), shape);
    } else {
      bool aligned = reinterpret_cast<uintptr_t>(src) % alignof(T) == 0;
      if (aligned && !byte_swap) {
        // The deleter's capture keeps the mapping alive as long as the array's buffer.
        return array(const_cast<uint8_t*>(src), shape, dtype, [owner = blob.owner](void*) {});
      }
      std::unique_ptr<T[]> tmp(new T[n]);
      auto* dst = reinterpret_cast<uint8_t*>(tmp.get());
      std::memcpy(dst, src, n * item);
      if (byte_swap) {
        for (size_t i = 0; i < n; ++i) std::reverse(dst + i * item, dst + (i + 1) * item);
      }
      return array(tmp.get(), shape);
    }
  });
}

}  // namespace alloy::io::detail
