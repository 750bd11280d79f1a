// GGUF reading and writing (versions 2 and 3; v1 used 32-bit counts and is refused).
//
// Layout: "GGUF", uint32 version, uint64 tensor count, uint64 metadata count, the metadata
// (key string, uint32 type, value), the tensor infos (name, uint32 n_dims, uint64 ne[n_dims],
// uint32 ggml type, uint64 offset), padding to `general.alignment` (default 32), tensor data.
// Strings are a uint64 length and bytes. Every count is checked against the bytes that remain
// (each element needs at least a known number of bytes) before anything is reserved, so a
// hostile count can't cause a large allocation; nested arrays are limited in depth.
#include "alloy/io/gguf.h"

#include <algorithm>
#include <numeric>
#include <set>

#include "alloy/io/common.h"

namespace alloy::io {

namespace {

using detail::Blob;
using detail::Reader;

constexpr uint32_t gguf_default_alignment = 32;
constexpr int gguf_max_array_depth = 8;
constexpr uint32_t gguf_max_dims = 4;

std::optional<Dtype> dtype_of_ggml(uint32_t type) {
  switch (type) {
    case uint32_t(GGMLType::F32): return float32;
    case uint32_t(GGMLType::F16): return float16;
    case uint32_t(GGMLType::BF16): return bfloat16;
    case uint32_t(GGMLType::F64): return float64;
    case uint32_t(GGMLType::I8): return int8;
    case uint32_t(GGMLType::I16): return int16;
    case uint32_t(GGMLType::I32): return int32;
    case uint32_t(GGMLType::I64): return int64;
    default: return std::nullopt;  // quantized types: raw blocks only
  }
}

std::optional<GGMLType> ggml_of_dtype(Dtype t) {
  switch (t) {
    case Dtype::float32: return GGMLType::F32;
    case Dtype::float16: return GGMLType::F16;
    case Dtype::bfloat16: return GGMLType::BF16;
    case Dtype::float64: return GGMLType::F64;
    case Dtype::int8: return GGMLType::I8;
    case Dtype::int16: return GGMLType::I16;
    case Dtype::int32: return GGMLType::I32;
    case Dtype::int64: return GGMLType::I64;
    case Dtype::bool_:
    case Dtype::uint8:
    case Dtype::uint16:
    case Dtype::uint32:
    case Dtype::uint64: return std::nullopt;  // ggml has no unsigned or bool tensors
  }
  return std::nullopt;
}

// ---------- reading ----------

class GGUFParser {
 public:
  GGUFParser(const Blob& blob, const std::string& file)
      : blob_(blob), r_(blob.data, blob.size, "load_gguf", file) {}

  GGUFFile parse(bool load_tensors);

 private:
  [[noreturn]] void fail(const std::string& problem) const { r_.fail(problem); }

  std::string read_string(const char* what) {
    uint64_t n = r_.read<uint64_t>(what);
    if (n > r_.remaining()) {
      fail(std::string("truncated: ") + what + " at offset " + std::to_string(r_.pos() - 8) +
           " has length " + std::to_string(n) + " but only " + std::to_string(r_.remaining()) +
           " bytes remain");
    }
    return r_.read_bytes_as_string(n, what);
  }

  // Fewest bytes an element of `type` takes, to bound counts before reserving.
  uint64_t min_value_size(uint32_t type, const std::string& key) const {
    switch (GGUFValueType(type)) {
      case GGUFValueType::uint8:
      case GGUFValueType::int8:
      case GGUFValueType::bool_: return 1;
      case GGUFValueType::uint16:
      case GGUFValueType::int16: return 2;
      case GGUFValueType::uint32:
      case GGUFValueType::int32:
      case GGUFValueType::float32: return 4;
      case GGUFValueType::uint64:
      case GGUFValueType::int64:
      case GGUFValueType::float64:
      case GGUFValueType::string: return 8;
      case GGUFValueType::array: return 12;
    }
    fail("metadata '" + key + "' has unknown value type " + std::to_string(type));
  }

  template <typename T>
  std::vector<T> read_pod_array(uint64_t count, const char* what) {
    r_.need(count * sizeof(T), what);  // count was bounded by remaining() / sizeof(T)
    std::vector<T> v(static_cast<size_t>(count));
    if (count) std::memcpy(v.data(), r_.here(), size_t(count) * sizeof(T));
    r_.skip(count * sizeof(T), what);
    return v;
  }

  bool read_bool(const std::string& key) {
    uint8_t b = r_.read<uint8_t>("a bool value");
    if (b > 1)
      fail("metadata '" + key + "' has a bool byte " + std::to_string(b) + " (not 0 or 1)");
    return b == 1;
  }

  GGUFValue read_value(uint32_t type, const std::string& key, int depth) {
    switch (GGUFValueType(type)) {
      case GGUFValueType::uint8: return r_.read<uint8_t>("a metadata value");
      case GGUFValueType::int8: return r_.read<int8_t>("a metadata value");
      case GGUFValueType::uint16: return r_.read<uint16_t>("a metadata value");
      case GGUFValueType::int16: return r_.read<int16_t>("a metadata value");
      case GGUFValueType::uint32: return r_.read<uint32_t>("a metadata value");
      case GGUFValueType::int32: return r_.read<int32_t>("a metadata value");
      case GGUFValueType::float32: return r_.read<float>("a metadata value");
      case GGUFValueType::bool_: return read_bool(key);
      case GGUFValueType::string: return read_string("a metadata string");
      case GGUFValueType::uint64: return r_.read<uint64_t>("a metadata value");
      case GGUFValueType::int64: return r_.read<int64_t>("a metadata value");
      case GGUFValueType::float64: return r_.read<double>("a metadata value");
      case GGUFValueType::array: return read_array(key, depth);
    }
    fail("metadata '" + key + "' has unknown value type " + std::to_string(type));
  }

  GGUFValue read_array(const std::string& key, int depth) {
    if (depth >= gguf_max_array_depth) {
      fail("metadata '" + key + "' nests arrays deeper than " +
           std::to_string(gguf_max_array_depth) + " levels");
    }
    uint32_t type = r_.read<uint32_t>("an array element type");
    uint64_t count = r_.read<uint64_t>("an array length");
    uint64_t min_size = min_value_size(type, key);
    if (count > r_.remaining() / min_size) {
      fail("metadata '" + key + "' is an array of " + std::to_string(count) +
           " elements but only " + std::to_string(r_.remaining()) + " bytes remain");
    }
    const char* what = "array elements";
    switch (GGUFValueType(type)) {
      case GGUFValueType::uint8: return read_pod_array<uint8_t>(count, what);
      case GGUFValueType::int8: return read_pod_array<int8_t>(count, what);
      case GGUFValueType::uint16: return read_pod_array<uint16_t>(count, what);
      case GGUFValueType::int16: return read_pod_array<int16_t>(count, what);
      case GGUFValueType::uint32: return read_pod_array<uint32_t>(count, what);
      case GGUFValueType::int32: return read_pod_array<int32_t>(count, what);
      case GGUFValueType::float32: return read_pod_array<float>(count, what);
      case GGUFValueType::uint64: return read_pod_array<uint64_t>(count, what);
      case GGUFValueType::int64: return read_pod_array<int64_t>(count, what);
      case GGUFValueType::float64: return read_pod_array<double>(count, what);
      case GGUFValueType::bool_: {
        std::vector<bool> v(static_cast<size_t>(count));
        for (uint64_t i = 0; i < count; ++i) v[size_t(i)] = read_bool(key);
        return v;
      }
      case GGUFValueType::string: {
        std::vector<std::string> v;
        v.reserve(size_t(count));
        for (uint64_t i = 0; i < count; ++i) v.push_back(read_string("a metadata string"));
        return v;
      }
      case GGUFValueType::array: {
        std::vector<GGUFValue> v;
        v.reserve(size_t(count));
        for (uint64_t i = 0; i < count; ++i) v.push_back(read_array(key, depth + 1));
        return v;
      }
    }
    fail("metadata '" + key + "' has unknown value type " + std::to_string(type));
  }

  GGUFTensorInfo read_tensor_info() {
    GGUFTensorInfo t;
    t.name = read_string("a tensor name");
    uint32_t n_dims = r_.read<uint32_t>("a tensor's dimension count");
    if (n_dims > gguf_max_dims) {
      fail("tensor '" + t.name + "' has " + std::to_string(n_dims) +
           " dimensions; GGUF allows at most " + std::to_string(gguf_max_dims));
    }
    for (uint32_t i = 0; i < n_dims; ++i) t.ne.push_back(r_.read<uint64_t>("a tensor dimension"));
    t.ggml_type = r_.read<uint32_t>("a tensor type");
    t.offset = r_.read<uint64_t>("a tensor offset");
    const GGMLTypeInfo* info = ggml_type_info(t.ggml_type);
    if (!info) {
      fail("tensor '" + t.name + "' has unknown ggml type " + std::to_string(t.ggml_type));
    }
    Shape shape;
    for (uint64_t d : t.ne) {
      if (d > uint64_t(INT64_MAX)) {
        fail("tensor '" + t.name + "' has a dimension too large for int64");
      }
      shape.push_back(int64_t(d));
    }
    uint64_t count;
    if (!detail::checked_element_count(shape, &count)) {
      fail("tensor '" + t.name + "' has too many elements (dimension product overflows)");
    }
    uint64_t row = t.ne.empty() ? 1 : t.ne[0];
    if (row % info->block_size != 0) {
      fail("tensor '" + t.name + "' has a first dimension " + std::to_string(row) +
           " that is not a multiple of the " + info->name + " block size " +
           std::to_string(info->block_size));
    }
    // count / block_size blocks: exact, since ne[0] (and so count) is a multiple of the block.
    if (detail::mul_overflows(count / info->block_size, info->type_size, &t.nbytes)) {
      fail("tensor '" + t.name + "' has a byte size that overflows");
    }
    return t;
  }

  const Blob& blob_;
  Reader r_;
};

GGUFFile GGUFParser::parse(bool load_tensors) {
  GGUFFile f;
  std::string magic = r_.read_bytes_as_string(4, "the magic");
  if (magic != "GGUF") fail("not a GGUF file (the magic \"GGUF\" is missing)");
  f.version = r_.read<uint32_t>("the version");
  if (f.version == 1) fail("GGUF version 1 is not supported (versions 2 and 3 are)");
  if (f.version != 2 && f.version != 3) {
    if ((f.version & 0xffffu) == 0) {
      fail("big-endian GGUF files are not supported (version field " + std::to_string(f.version) +
           ")");
    }
    fail("unsupported GGUF version " + std::to_string(f.version) + " (2 and 3 are supported)");
  }
  uint64_t n_tensors = r_.read<uint64_t>("the tensor count");
  uint64_t n_kv = r_.read<uint64_t>("the metadata count");
  // A metadata pair takes at least 8 (key length) + 4 (type) + 1 bytes.
  if (n_kv > r_.remaining() / 13) {
    fail("metadata count " + std::to_string(n_kv) + " is impossible for a file of " +
         std::to_string(blob_.size) + " bytes");
  }
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = read_string("a metadata key");
    uint32_t type = r_.read<uint32_t>("a metadata value type");
    GGUFValue value = read_value(type, key, 0);
    if (!f.metadata.emplace(key, std::move(value)).second) {
      fail("metadata key '" + key + "' appears twice");
    }
  }
  if (const GGUFValue* a = f.find("general.alignment")) {
    const uint32_t* v = std::get_if<uint32_t>(&a->variant());
    if (!v) fail("general.alignment is not a uint32");
    if (*v == 0 || (*v & (*v - 1)) != 0) {
      fail("general.alignment " + std::to_string(*v) + " is not a power of two");
    }
    f.alignment = *v;
  } else {
    f.alignment = gguf_default_alignment;
  }
  // A tensor info takes at least 8 (name length) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
  if (n_tensors > r_.remaining() / 24) {
    fail("tensor count " + std::to_string(n_tensors) + " is impossible for a file of " +
         std::to_string(blob_.size) + " bytes");
  }
  std::set<std::string> names;
  f.tensor_infos.reserve(size_t(n_tensors));
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GGUFTensorInfo t = read_tensor_info();
    if (!names.insert(t.name).second) fail("tensor '" + t.name + "' appears twice");
    f.tensor_infos.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment (possibly past the end of a
  // file without tensors, such as a vocabulary-only file).
  uint64_t data_start = (uint64_t(r_.pos()) + f.alignment - 1) / f.alignment * f.alignment;
  uint64_t data_size = data_start < blob_.size ? blob_.size - data_start : 0;
  f.mapping = blob_.owner;
  f.tensor_data_base = blob_.data + std::min<uint64_t>(data_start, blob_.size);
  f.tensor_data_size = size_t(data_size);
  for (const GGUFTensorInfo& t : f.tensor_infos) {
    uint64_t end;
    if (t.offset % f.alignment != 0) {
      fail("tensor '" + t.name + "' has offset " + std::to_string(t.offset) +
           ", not a multiple of the alignment " + std::to_string(f.alignment));
    }
    if (detail::add_overflows(t.offset, t.nbytes, &end) || end > data_size) {
      fail("tensor '" + t.name + "' (offset " + std::to_string(t.offset) + ", " +
           std::to_string(t.nbytes) +
           " bytes) extends past the end of the file (the data "
           "section has " +
           std::to_string(data_size) + " bytes)");
    }
  }
  // No two tensors may share bytes: arrays wrapping the mapping must not alias.
  std::vector<const GGUFTensorInfo*> order;
  for (const GGUFTensorInfo& t : f.tensor_infos) {
    if (t.nbytes > 0) order.push_back(&t);
  }
  std::sort(order.begin(), order.end(),
            [](const auto* a, const auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < order.size(); ++i) {
    if (order[i]->offset < order[i - 1]->offset + order[i - 1]->nbytes) {
      fail("tensors '" + order[i - 1]->name + "' and '" + order[i]->name + "' overlap");
    }
  }
  if (load_tensors) {
    for (const GGUFTensorInfo& t : f.tensor_infos) {
      std::optional<Dtype> dtype = dtype_of_ggml(t.ggml_type);
      if (!dtype) continue;
      Shape shape(t.ne.rbegin(), t.ne.rend());  // ne is fastest-first
      f.tensors.emplace(t.name,
                        detail::blob_to_array(blob_, size_t(data_start + t.offset), shape, *dtype));
    }
  }
  return f;
}

// ---------- writing ----------

class GGUFWriter {
 public:
  GGUFWriter(detail::AtomicFileWriter& out, const std::string& path) : out_(out), path_(path) {}

  template <typename T>
  void pod(T v) {
    out_.write(&v, sizeof v);
  }
  void string(const std::string& s) {
    pod<uint64_t>(s.size());
    out_.write(s.data(), s.size());
  }
  void value(const std::string& key, const GGUFValue& v) {
    pod<uint32_t>(uint32_t(gguf_value_type(v)));
    body(key, v);
  }

 private:
  template <typename T>
  void scalar(const T& x) {
    if constexpr (std::is_same_v<T, std::string>) {
      string(x);
    } else if constexpr (std::is_same_v<T, bool>) {
      pod<uint8_t>(x ? 1 : 0);
    } else {
      pod<T>(x);
    }
  }

  // The value without its type code (an array: element type, count, elements).
  void body(const std::string& key, const GGUFValue& v) {
    std::visit(
        [&](const auto& x) {
          using T = std::decay_t<decltype(x)>;
          if constexpr (gguf_value_type_of<T>() != GGUFValueType::array) {
            scalar(x);
          } else {
            using E = typename T::value_type;
            pod<uint32_t>(uint32_t(gguf_value_type_of<E>()));
            pod<uint64_t>(x.size());
            if constexpr (std::is_same_v<E, GGUFValue>) {
              for (const GGUFValue& e : x) {
                if (gguf_value_type(e) != GGUFValueType::array) {
                  throw io_error("save_gguf", path_,
                                 "metadata '" + key +
                                     "' is an array of arrays with a non-array "
                                     "element");
                }
                body(key, e);
              }
            } else if constexpr (std::is_arithmetic_v<E> && !std::is_same_v<E, bool>) {
              out_.write(x.data(), x.size() * sizeof(E));
            } else if constexpr (std::is_same_v<E, bool>) {
              for (bool b : x) scalar(b);
            } else {
              for (const E& e : x) scalar(e);
            }
          }
        },
        v.variant());
  }

  detail::AtomicFileWriter& out_;
  const std::string& path_;
};

}  // namespace

GGUFFile load_gguf(const std::string& path, bool load_tensors) {
  Blob blob = detail::map_file(path, "load_gguf");
  return GGUFParser(blob, path).parse(load_tensors);
}

GGUFFile load_gguf_from_memory(const uint8_t* data, size_t size, const std::string& name,
                               bool load_tensors) {
  Blob blob = detail::copy_blob(data, size);
  return GGUFParser(blob, name).parse(load_tensors);
}

void save_gguf(const std::string& path, const std::unordered_map<std::string, array>& tensors,
               const std::map<std::string, GGUFValue>& metadata) {
  const char* fn = "save_gguf";
  std::vector<GGUFTensorOut> out;
  for (const auto& [name, a] : tensors) {
    std::optional<GGMLType> type = ggml_of_dtype(a.dtype());
    if (!type) {
      throw io_error(fn, path,
                     "tensor '" + name + "' has dtype " + dtype_name(a.dtype()) +
                         ", which GGUF cannot hold (use a float or signed int type)");
    }
    std::vector<uint64_t> ne;
    for (int d = a.ndim() - 1; d >= 0; --d) ne.push_back(uint64_t(a.shape(d)));
    out.push_back({name, uint32_t(*type), std::move(ne), a});
  }
  std::sort(out.begin(), out.end(), [](const GGUFTensorOut& x, const GGUFTensorOut& y) { return x.name < y.name; });
  save_gguf_tensors(path, out, metadata);
}

void save_gguf_tensors(const std::string& path, const std::vector<GGUFTensorOut>& tensors,
               const std::map<std::string, GGUFValue>& metadata) {
  const char* fn = "save_gguf";
  const uint64_t align = gguf_default_alignment;
  std::map<std::string, GGUFValue> md = metadata;
  md["general.alignment"] = uint32_t(align);

  std::vector<uint64_t> offsets;
  uint64_t offset = 0;
  for (const GGUFTensorOut& t : tensors) {
    const GGMLTypeInfo* info = ggml_type_info(t.ggml_type);
    if (!info) throw io_error(fn, path, "tensor '" + t.name + "' has unknown ggml type " + std::to_string(t.ggml_type));
    if (t.ne.size() > gguf_max_dims) {
      throw io_error(fn, path, "tensor '" + t.name + "' has " + std::to_string(t.ne.size()) +
                                   " dimensions; GGUF allows at most 4");
    }
    uint64_t count = 1;
    for (uint64_t n : t.ne) count *= n;
    if (!t.ne.empty() && t.ne[0] % info->block_size != 0) {
      throw io_error(fn, path, "tensor '" + t.name + "' rows of " + std::to_string(t.ne[0]) +
                                   " are not whole " + info->name + " blocks");
    }
    uint64_t bytes = count / info->block_size * info->type_size;
    if (t.data.nbytes() != bytes) {
      throw io_error(fn, path, "tensor '" + t.name + "' holds " + std::to_string(t.data.nbytes()) + " bytes but " +
                                   info->name + " of its shape needs " + std::to_string(bytes));
    }
    offsets.push_back(offset);
    offset += (bytes + align - 1) / align * align;
  }

  detail::AtomicFileWriter out(path, fn);
  GGUFWriter w(out, path);
  out.write("GGUF", 4);
  w.pod<uint32_t>(3);
  w.pod<uint64_t>(tensors.size());
  w.pod<uint64_t>(md.size());
  for (const auto& [key, value] : md) {
    w.string(key);
    w.value(key, value);
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GGUFTensorOut& t = tensors[i];
    w.string(t.name);
    w.pod<uint32_t>(uint32_t(t.ne.size()));
    for (uint64_t n : t.ne) w.pod<uint64_t>(n);
    w.pod<uint32_t>(t.ggml_type);
    w.pod<uint64_t>(offsets[i]);
  }
  out.write_zeros(size_t((align - out.bytes_written() % align) % align));
  for (const GGUFTensorOut& t : tensors) {
    out.write_array(t.data);
    out.write_zeros(size_t((align - out.bytes_written() % align) % align));
  }
  out.commit();
}

}  // namespace alloy::io
