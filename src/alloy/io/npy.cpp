// .npy files (NumPy's format, versions 1.0, 2.0 and 3.0).
//
// Layout: "\x93NUMPY", major, minor, header length (uint16 in 1.0, uint32 in 2.0/3.0), then a
// Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } padded with
// spaces and a newline, then the raw data. The dict is read by a small parser of exactly that
// grammar (strings, True/False, tuples of integers) rather than a general Python evaluator.
#include <algorithm>
#include <bit>
#include <cstring>

#include "alloy/core/ops.h"
#include "alloy/io/io.h"
#include "alloy/io/npy_format.h"

namespace alloy::io {

namespace detail {

static_assert(std::endian::native == std::endian::little, "alloy::io assumes a little-endian host");

namespace {

constexpr char npy_magic[] = "\x93NUMPY";
constexpr size_t npy_magic_len = 6;

struct NpyHeader {
  Dtype dtype = float32;
  bool byte_swap = false;
  bool fortran_order = false;
  Shape shape;
  size_t data_offset = 0;
};

// NumPy's descr of each dtype, as NumPy writes it ('|' for one-byte types); nullptr when NumPy
// has no such dtype.
const char* npy_descr(Dtype t) {
  switch (t) {
    case Dtype::bool_: return "|b1";
    case Dtype::uint8: return "|u1";
    case Dtype::uint16: return "<u2";
    case Dtype::uint32: return "<u4";
    case Dtype::uint64: return "<u8";
    case Dtype::int8: return "|i1";
    case Dtype::int16: return "<i2";
    case Dtype::int32: return "<i4";
    case Dtype::int64: return "<i8";
    case Dtype::float16: return "<f2";
    case Dtype::bfloat16: return nullptr;
    case Dtype::float32: return "<f4";
    case Dtype::float64: return "<f8";
  }
  return nullptr;
}

// Printable excerpt of header text for error messages.
std::string excerpt(const char* p, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && i < 96; ++i) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (n > 96) out += "...";
  return out;
}

// Parser of the header dict literal.
class HeaderParser {
 public:
  HeaderParser(const char* p, size_t n, const char* function, const std::string& file)
      : begin_(p), p_(p), end_(p + n), function_(function), file_(file) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_fortran = false, have_shape = false;
    skip_ws();
    expect('{');
    for (;;) {
      skip_ws();
      if (eat('}')) break;
      std::string key = parse_string("a key");
      skip_ws();
      expect(':');
      skip_ws();
      if (key == "descr") {
        if (have_descr) fail("has the key 'descr' twice");
        have_descr = true;
        if (peek() == '[') fail("has a structured dtype (a list descr), which is not supported");
        parse_descr(parse_string("the descr"), &h);
      } else if (key == "fortran_order") {
        if (have_fortran) fail("has the key 'fortran_order' twice");
        have_fortran = true;
        h.fortran_order = parse_bool();
      } else if (key == "shape") {
        if (have_shape) fail("has the key 'shape' twice");
        have_shape = true;
        h.shape = parse_shape();
      } else {
        fail("has an unexpected key '" + key + "'");
      }
      skip_ws();
      if (eat(',')) continue;
      expect('}');
      break;
    }
    skip_ws();
    if (p_ != end_) fail("has text after the closing '}'");
    if (!have_descr) fail("has no 'descr' key");
    if (!have_fortran) fail("has no 'fortran_order' key");
    if (!have_shape) fail("has no 'shape' key");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    throw io_error(
        function_, file_,
        "npy header " + problem + " (header: \"" + excerpt(begin_, size_t(end_ - begin_)) + "\")");
  }
  char peek() const { return p_ < end_ ? *p_ : '\0'; }
  void skip_ws() {
    // NUL bytes are not whitespace: a header padded with them is malformed.
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool eat(char c) {
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) {
      fail(std::string("expected '") + c + "' at position " + std::to_string(p_ - begin_));
    }
  }
  std::string parse_string(const char* what) {
    char q = peek();
    if (q != '\'' && q != '"') fail(std::string("expected a quoted string for ") + what);
    ++p_;
    const char* s = p_;
    while (p_ < end_ && *p_ != q) {
      if (*p_ == '\\') fail("has an escape sequence in a string, which is not supported");
      ++p_;
    }
    if (p_ == end_) fail("has an unterminated string");
    std::string out(s, size_t(p_ - s));
    ++p_;
    return out;
  }
  bool parse_bool() {
    auto word = [&](const char* w) {
      size_t n = std::strlen(w);
      if (size_t(end_ - p_) >= n && std::memcmp(p_, w, n) == 0) {
        p_ += n;
        return true;
      }
      return false;
    };
    if (word("True")) return true;
    if (word("False")) return false;
    fail("has a 'fortran_order' that is neither True nor False");
  }
  Shape parse_shape() {
    if (peek() == '[') fail("has a list for 'shape'; NumPy writes a tuple");
    expect('(');
    Shape shape;
    for (;;) {
      skip_ws();
      if (eat(')')) break;
      shape.push_back(parse_dim());
      skip_ws();
      if (eat(',')) continue;
      expect(')');
      break;
    }
    // A one-element tuple needs its comma in Python, "(3)" is the integer 3; accept both.
    return shape;
  }
  int64_t parse_dim() {
    if (peek() == '-') fail("has a negative dimension in 'shape'");
    if (peek() < '0' || peek() > '9') fail("has a non-integer dimension in 'shape'");
    uint64_t v = 0;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
      if (mul_overflows(v, 10, &v) || add_overflows(v, uint64_t(*p_ - '0'), &v) ||
          v > uint64_t(INT64_MAX)) {
        fail("has a dimension in 'shape' too large for int64");
      }
      ++p_;
    }
    eat('L');  // Python 2 long suffix, written by very old NumPy
    return int64_t(v);
  }
  void parse_descr(const std::string& d, NpyHeader* h) {
    std::string s = d;
    char order = '=';
    if (!s.empty() && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) {
      order = s[0];
      s = s.substr(1);
    }
    auto unsupported = [&](const std::string& why) {
      throw io_error(function_, file_, "npy dtype '" + d + "' is not supported (" + why + ")");
    };
    Dtype t = float32;
    if (s == "b1" || s == "?")
      t = bool_;
    else if (s == "u1")
      t = uint8;
    else if (s == "u2")
      t = uint16;
    else if (s == "u4")
      t = uint32;
    else if (s == "u8")
      t = uint64;
    else if (s == "i1")
      t = int8;
    else if (s == "i2")
      t = int16;
    else if (s == "i4")
      t = int32;
    else if (s == "i8")
      t = int64;
    else if (s == "f2")
      t = float16;
    else if (s == "f4")
      t = float32;
    else if (s == "f8")
      t = float64;
    else if (!s.empty() && s[0] != '\0' && std::strchr("cUSaOVMmf", s[0])) {
      unsupported("alloy has bool, int, uint and float types of 1 to 8 bytes");
    } else {
      fail("has an unrecognized descr '" + d + "'");
    }
    h->dtype = t;
    h->byte_swap = order == '>' && size_of(t) > 1;
  }

  const char* begin_;
  const char* p_;
  const char* end_;
  const char* function_;
  const std::string& file_;
};

NpyHeader parse_header(const Blob& blob, const char* function, const std::string& file) {
  const uint8_t* d = blob.data;
  size_t size = blob.size;
  if (size < 10 || std::memcmp(d, npy_magic, npy_magic_len) != 0) {
    if (size >= npy_magic_len && std::memcmp(d, npy_magic, npy_magic_len) == 0) {
      throw io_error(function, file, "truncated npy preamble (" + std::to_string(size) + " bytes)");
    }
    throw io_error(function, file, "not an npy file (the magic \"\\x93NUMPY\" is missing)");
  }
  int major = d[6], minor = d[7];
  size_t header_len, start;
  if (major == 1 && minor == 0) {
    header_len = size_t(d[8]) | size_t(d[9]) << 8;
    start = 10;
  } else if ((major == 2 || major == 3) && minor == 0) {
    if (size < 12) throw io_error(function, file, "truncated npy preamble");
    header_len = size_t(d[8]) | size_t(d[9]) << 8 | size_t(d[10]) << 16 | size_t(d[11]) << 24;
    start = 12;
  } else {
    throw io_error(function, file,
                   "unsupported npy version " + std::to_string(major) + "." +
                       std::to_string(minor) + " (1.0, 2.0 and 3.0 are supported)");
  }
  if (header_len > size - start) {
    throw io_error(function, file,
                   "header length " + std::to_string(header_len) + " exceeds the file size " +
                       std::to_string(size));
  }
  NpyHeader h =
      HeaderParser(reinterpret_cast<const char*>(d + start), header_len, function, file).parse();
  h.data_offset = start + header_len;
  return h;
}

}  // namespace

array npy_from_blob(const Blob& blob, const char* function, const std::string& file) {
  NpyHeader h = parse_header(blob, function, file);
  uint64_t count, nbytes;
  if (!checked_element_count(h.shape, &count) || mul_overflows(count, size_of(h.dtype), &nbytes)) {
    throw io_error(function, file, "shape " + shape_to_string(h.shape) + " is too large");
  }
  size_t available = blob.size - h.data_offset;
  if (nbytes > available) {
    throw io_error(function, file,
                   "data of shape " + shape_to_string(h.shape) + " " + dtype_name(h.dtype) +
                       " needs " + std::to_string(nbytes) + " bytes but the file has " +
                       std::to_string(available) + " after the header");
  }
  if (!h.fortran_order || h.shape.size() < 2) {
    return blob_to_array(blob, h.data_offset, h.shape, h.dtype, h.byte_swap);
  }
  // Fortran order is C order of the reversed shape; transposing gives the right view.
  Shape reversed(h.shape.rbegin(), h.shape.rend());
  return transpose(blob_to_array(blob, h.data_offset, reversed, h.dtype, h.byte_swap));
}

std::string npy_preamble(Dtype dtype, const Shape& shape, const char* function,
                         const std::string& file) {
  const char* descr = npy_descr(dtype);
  if (!descr) {
    throw io_error(function, file,
                   std::string(dtype_name(dtype)) +
                       " has no NumPy dtype; convert it first, e.g. astype(a, float32)");
  }
  std::string dims;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) dims += ", ";
    dims += std::to_string(shape[i]);
  }
  if (shape.size() == 1) dims += ",";
  std::string dict =
      std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad with spaces so that the data starts at a multiple of 64 bytes, newline last.
  size_t prefix = npy_magic_len + 2 + 2;
  bool v2 = false;
  auto padded_len = [&](size_t pre) { return (pre + dict.size() + 1 + 63) / 64 * 64 - pre; };
  size_t header_len = padded_len(prefix);
  if (header_len > 0xffff) {
    v2 = true;
    prefix = npy_magic_len + 2 + 4;
    header_len = padded_len(prefix);
  }
  std::string out(npy_magic, npy_magic_len);
  out += char(v2 ? 2 : 1);
  out += char(0);
  for (int i = 0; i < (v2 ? 4 : 2); ++i) out += char((header_len >> (8 * i)) & 0xff);
  out += dict;
  out.append(header_len - dict.size() - 1, ' ');
  out += '\n';
  return out;
}

}  // namespace detail

array load_npy(const std::string& path) {
  detail::Blob blob = detail::map_file(path, "load_npy");
  return detail::npy_from_blob(blob, "load_npy", path);
}

array load_npy_from_memory(const uint8_t* data, size_t size, const std::string& name) {
  return detail::npy_from_blob(detail::copy_blob(data, size), "load_npy", name);
}

void save_npy(const std::string& path, array a) {
  std::string preamble = detail::npy_preamble(a.dtype(), a.shape(), "save_npy", path);
  detail::AtomicFileWriter out(path, "save_npy");
  out.write(preamble.data(), preamble.size());
  out.write_array(a);
  out.commit();
}

}  // namespace alloy::io
