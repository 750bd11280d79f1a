// Helpers for the io tests: temporary folders, sample arrays of every dtype, exact comparison,
// file bytes, a little-endian byte builder, and the mini-fuzz driver.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/core/ops.h"
#include "alloy/io/io.h"
#include "../test_data.h"

namespace alloy::io::test {

inline const std::vector<Dtype>& all_dtypes() {
  static const std::vector<Dtype> v = {bool_, uint8, uint16,  uint32,   uint64,  int8,   int16,
                                       int32, int64, float16, bfloat16, float32, float64};
  return v;
}

// A fresh folder removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("alloy_io_") + (info ? info->name() : "x") + "_" +
                       std::to_string(::getpid()) + "_" + std::to_string(counter++);
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Distinct, awkward values: extremes of each integer type, and for floats inf, -0.0 and nan.
inline array sample_array(Dtype dtype, const Shape& shape, int seed = 0) {
  size_t n = shape_size(shape);
  return dispatch_dtype(dtype, [&](auto zero) {
    using T = decltype(zero);
    std::unique_ptr<T[]> v(new T[n > 0 ? n : 1]);
    for (size_t i = 0; i < n; ++i) {
      int64_t k = int64_t(i) + seed;
      if constexpr (std::is_same_v<T, bool>) {
        v[i] = (k % 3) == 0;
      } else if constexpr (std::is_integral_v<T>) {
        v[i] = T(k * 40503 % 251 - 125);
        if (i == 0) v[i] = std::numeric_limits<T>::min();
        if (i == 1) v[i] = std::numeric_limits<T>::max();
      } else {
        v[i] = T(float((double(k) - double(n) / 2) * 0.37));
        if (i == 1) v[i] = T(std::numeric_limits<float>::infinity());
        if (i == 2) v[i] = T(-0.0f);
        if (i == 3) v[i] = T(std::numeric_limits<float>::quiet_NaN());
      }
    }
    return array(v.get(), shape);
  });
}

// The row-major element bytes of `a` in its own dtype.
inline std::vector<uint8_t> element_bytes(array a) {
  std::vector<uint8_t> out(a.nbytes());
  if (!out.empty()) a.copy_elements_to(out.data(), a.dtype());
  return out;
}

// Same dtype, same shape, bitwise-equal elements (NaNs included).
inline ::testing::AssertionResult same_array(const array& expected, const array& actual) {
  if (expected.dtype() != actual.dtype()) {
    return ::testing::AssertionFailure()
           << "dtype " << actual.dtype() << ", expected " << expected.dtype();
  }
  if (expected.shape() != actual.shape()) {
    return ::testing::AssertionFailure() << "shape " << shape_to_string(actual.shape())
                                         << ", expected " << shape_to_string(expected.shape());
  }
  auto eb = element_bytes(expected);
  auto ab = element_bytes(actual);
  for (size_t i = 0; i < eb.size(); ++i) {
    if (eb[i] != ab[i]) {
      return ::testing::AssertionFailure()
             << "byte " << i << " (element " << i / expected.itemsize()
             << ") differs: " << int(ab[i]) << ", expected " << int(eb[i]);
    }
  }
  return ::testing::AssertionSuccess();
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)),
                              std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// Little-endian byte builder for hand-made files.
struct Bytes {
  std::vector<uint8_t> b;
  template <typename T>
  Bytes& pod(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    b.insert(b.end(), p, p + sizeof v);
    return *this;
  }
  Bytes& u8(uint8_t v) { return pod(v); }
  Bytes& u32(uint32_t v) { return pod(v); }
  Bytes& u64(uint64_t v) { return pod(v); }
  Bytes& raw(const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& str(const std::string& s) { return u64(s.size()).raw(s); }  // GGUF string
  Bytes& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
  Bytes& pad_to(size_t align) { return zeros((align - b.size() % align) % align); }
};

// Expects `fn` to throw io_error whose message contains every one of `parts`.
template <typename Fn>
void expect_io_error(Fn&& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no io_error thrown; expected one mentioning '" << parts.front() << "'";
  } catch (const io_error& e) {
    std::string msg = e.what();
    for (const std::string& p : parts) {
      EXPECT_NE(msg.find(p), std::string::npos)
          << "message \"" << msg << "\" lacks \"" << p << "\"";
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected io_error, got another exception: " << e.what();
  }
}

// Reads every element of every array (under ASan this proves the bytes are in bounds).
inline void touch(array a) {
  if (a.nbytes() <= (size_t(1) << 24)) element_bytes(a);
}

// Truncates `valid` at every length and flips bytes at random (fixed seed); `load` must either
// succeed or throw io_error. Returns how many variants were accepted.
inline int mini_fuzz(const std::vector<uint8_t>& valid,
                     const std::function<void(const uint8_t*, size_t)>& load, int iterations,
                     uint32_t seed) {
  int accepted = 0;
  auto attempt = [&](const std::vector<uint8_t>& buf, const std::string& what) {
    try {
      load(buf.data(), buf.size());
      ++accepted;
    } catch (const io_error&) {
    } catch (const std::exception& e) {
      ADD_FAILURE() << what << ": expected io_error or success, got: " << e.what();
    }
  };
  for (size_t len = 0; len < valid.size(); ++len) {
    attempt(std::vector<uint8_t>(valid.begin(), valid.begin() + std::ptrdiff_t(len)),
            "truncated to " + std::to_string(len));
  }
  std::mt19937 rng(seed);
  for (int it = 0; it < iterations; ++it) {
    std::vector<uint8_t> buf = valid;
    int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) {
      size_t pos = rng() % buf.size();
      switch (rng() % 4) {
        case 0: buf[pos] ^= uint8_t(1u << (rng() % 8)); break;
        case 1: buf[pos] = uint8_t(rng()); break;
        case 2: buf[pos] = 0xff; break;
        case 3: buf[pos] = 0; break;
      }
    }
    attempt(buf, "iteration " + std::to_string(it));
  }
  return accepted;
}

using alloy::test::test_data_dir;

}  // namespace alloy::io::test
