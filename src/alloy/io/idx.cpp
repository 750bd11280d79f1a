// IDX files (the format of MNIST and Fashion-MNIST), plain or gzip-compressed.
//
// Layout: two zero bytes, a type byte (0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32,
// 0x0E f64), the number of dimensions, each dimension as a big-endian uint32, then the data in
// row-major order, big-endian. A gzip file (magic 1f 8b) is inflated with zlib to exactly the
// size its header announces, so a hostile stream cannot make it allocate more than that.
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "alloy/io/common.h"
#include "alloy/io/io.h"

namespace alloy::io {
namespace {

constexpr const char* fn = "load_idx";
constexpr size_t max_dims = 16;

struct IdxHeader {
  Dtype dtype = uint8;
  Shape shape;
  size_t header_bytes = 0;
  uint64_t data_bytes = 0;
};

uint32_t big_endian_u32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Reads the header from the first bytes; `available` may be shorter than the header only
// when more bytes could follow (then returns false).
bool parse_header(const uint8_t* data, size_t available, const std::string& name, IdxHeader* h) {
  if (available < 4) return false;
  if (data[0] != 0 || data[1] != 0) throw io_error(fn, name, "not an IDX file (bad magic)");
  switch (data[2]) {
    case 0x08: h->dtype = uint8; break;
    case 0x09: h->dtype = int8; break;
    case 0x0B: h->dtype = int16; break;
    case 0x0C: h->dtype = int32; break;
    case 0x0D: h->dtype = float32; break;
    case 0x0E: h->dtype = float64; break;
    default: throw io_error(fn, name, "unknown IDX element type 0x" + std::to_string(data[2]));
  }
  const size_t ndim = data[3];
  if (ndim == 0 || ndim > max_dims) {
    throw io_error(fn, name, "IDX files with " + std::to_string(ndim) + " dimensions are not supported");
  }
  h->header_bytes = 4 + 4 * ndim;
  if (available < h->header_bytes) return false;
  h->shape.clear();
  for (size_t i = 0; i < ndim; ++i) h->shape.push_back(int64_t(big_endian_u32(data + 4 + 4 * i)));
  uint64_t count = 0;
  if (!detail::checked_element_count(h->shape, &count) ||
      detail::mul_overflows(count, size_of(h->dtype), &h->data_bytes) || h->data_bytes > (uint64_t(1) << 40)) {
    throw io_error(fn, name, "the IDX dimensions give an impossible size");
  }
  return true;
}

// Inflates a gzip stream into exactly header + data bytes.
detail::Blob inflate_gzip(const uint8_t* data, size_t size, const std::string& name) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw io_error(fn, name, "zlib could not start");
  struct End {
    z_stream& z;
    ~End() { inflateEnd(&z); }
  } end{zs};
  zs.next_in = const_cast<Bytef*>(data);
  zs.avail_in = uInt(std::min<size_t>(size, UINT32_MAX));
  std::vector<uint8_t> head(4 + 4 * max_dims);
  size_t have = 0;
  IdxHeader h;
  std::unique_ptr<uint8_t[]> out;
  size_t total = 0;
  // First the header (4 bytes, then the dims), then the body into a buffer of the final size.
  bool ended = false;
  auto inflate_into = [&](uint8_t* dst, size_t want) {
    zs.next_out = dst;
    zs.avail_out = uInt(want);
    while (zs.avail_out > 0 && !ended) {
      int rc = inflate(&zs, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) ended = true;
      if (rc == Z_STREAM_END || (rc == Z_BUF_ERROR && zs.avail_in == 0)) break;
      if (rc != Z_OK) throw io_error(fn, name, std::string("corrupt gzip stream (") + (zs.msg ? zs.msg : "zlib error") + ")");
      if (zs.avail_in == 0) break;
    }
    return want - zs.avail_out;
  };
  have = inflate_into(head.data(), 4);
  if (have < 4) throw io_error(fn, name, "truncated IDX header");
  if (!parse_header(head.data(), have, name, &h)) {
    have += inflate_into(head.data() + 4, 4 * size_t(head[3] <= max_dims ? head[3] : 0));
    if (!parse_header(head.data(), have, name, &h)) throw io_error(fn, name, "truncated IDX header");
  }
  total = h.header_bytes + size_t(h.data_bytes);
  // Deflate expands at most about 1032:1, so a larger announced size is a lie: refuse it before
  // allocating.
  if (total / 1100 > size + 64) {
    throw io_error(fn, name, "the header announces " + std::to_string(h.data_bytes) +
                                 " bytes, more than a gzip stream of " + std::to_string(size) + " bytes can hold");
  }
  out.reset(new uint8_t[total]);
  std::memcpy(out.get(), head.data(), h.header_bytes);
  size_t body = inflate_into(out.get() + h.header_bytes, size_t(h.data_bytes));
  if (body < h.data_bytes) {
    throw io_error(fn, name, "truncated: the header announces " + std::to_string(h.data_bytes) +
                                 " bytes of data, the stream holds " + std::to_string(body));
  }
  uint8_t extra = 0;
  if (inflate_into(&extra, 1) != 0) throw io_error(fn, name, "data continues past the announced size");
  // The stream must end here, with its checksum verified.
  if (!ended) throw io_error(fn, name, "truncated gzip stream");
  uint8_t* raw = out.release();
  return detail::Blob{std::shared_ptr<const void>(raw, [](const void* p) { delete[] static_cast<const uint8_t*>(p); }),
                      raw, total};
}

array parse_idx(const detail::Blob& blob, const std::string& name) {
  IdxHeader h;
  if (!parse_header(blob.data, blob.size, name, &h)) throw io_error(fn, name, "truncated IDX header");
  if (blob.size - h.header_bytes != h.data_bytes) {
    throw io_error(fn, name, "the header announces " + std::to_string(h.data_bytes) + " bytes of data, the file holds " +
                                 std::to_string(blob.size - h.header_bytes));
  }
  return detail::blob_to_array(blob, h.header_bytes, h.shape, h.dtype, /*byte_swap=*/size_of(h.dtype) > 1);
}

array load_idx_blob(const detail::Blob& blob, const std::string& name) {
  if (blob.size >= 2 && blob.data[0] == 0x1f && blob.data[1] == 0x8b) {
    return parse_idx(inflate_gzip(blob.data, blob.size, name), name);
  }
  return parse_idx(blob, name);
}

}  // namespace

array load_idx(const std::string& path) { return load_idx_blob(detail::map_file(path, fn), path); }

array load_idx_from_memory(const uint8_t* data, size_t size, const std::string& name) {
  return load_idx_blob(detail::copy_blob(data, size), name);
}

}  // namespace alloy::io
