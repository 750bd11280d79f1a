// safetensors: an 8-byte little-endian header length N, N bytes of JSON
// {"__metadata__": {str: str}, "<name>": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}}
// padded with spaces, then the data buffer (offsets are relative to its start).
//
// Loading follows the format's own validation rules: the tensors' byte ranges must tile the
// buffer exactly (no gaps, no overlap, nothing after the last), so no two arrays alias memory.
// Saving writes the header keys sorted (JSON objects here are sorted maps) and lays the data
// out by decreasing element size, then name, so every tensor is aligned for zero-copy loading.
#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "alloy/core/ops.h"
#include "alloy/io/common.h"
#include "alloy/io/io.h"

namespace alloy::io {

namespace {

using detail::Blob;
using json = nlohmann::json;

const char* st_dtype_name(Dtype t) {
  switch (t) {
    case Dtype::bool_: return "BOOL";
    case Dtype::uint8: return "U8";
    case Dtype::uint16: return "U16";
    case Dtype::uint32: return "U32";
    case Dtype::uint64: return "U64";
    case Dtype::int8: return "I8";
    case Dtype::int16: return "I16";
    case Dtype::int32: return "I32";
    case Dtype::int64: return "I64";
    case Dtype::float16: return "F16";
    case Dtype::bfloat16: return "BF16";
    case Dtype::float32: return "F32";
    case Dtype::float64: return "F64";
  }
  return "?";
}

bool st_dtype_from_name(const std::string& s, Dtype* out) {
  for (int i = 0; i < num_dtypes; ++i) {
    Dtype t = Dtype(i);
    if (s == st_dtype_name(t)) {
      *out = t;
      return true;
    }
  }
  return false;
}

struct Entry {
  std::string name;
  Dtype dtype;
  Shape shape;
  uint64_t begin, end;
};

// Parses the header JSON, rejecting duplicate keys and nesting deeper than the format has
// (root -> tensor -> shape list -> integer) before building anything large.
json parse_header(const char* text, size_t n, const std::string& file) {
  const char* fn = "load_safetensors";
  std::set<std::string> top_keys, inner_keys;
  auto cb = [&](int depth, json::parse_event_t ev, json& parsed) {
    using E = json::parse_event_t;
    if ((ev == E::object_start || ev == E::array_start) && depth > 2) {
      throw io_error(fn, file, "header JSON is nested deeper than the format allows");
    }
    if (ev == E::object_start && depth == 1) inner_keys.clear();
    if (ev == E::key && depth == 1 && !top_keys.insert(parsed.get<std::string>()).second) {
      throw io_error(fn, file, "header has the key '" + parsed.get<std::string>() + "' twice");
    }
    if (ev == E::key && depth == 2 && !inner_keys.insert(parsed.get<std::string>()).second) {
      throw io_error(fn, file,
                     "header has the key '" + parsed.get<std::string>() + "' twice in one object");
    }
    return true;
  };
  try {
    return json::parse(text, text + n, cb);
  } catch (const json::exception& e) {
    throw io_error(fn, file, std::string("header is not valid JSON: ") + e.what());
  }
}

uint64_t get_u64(const json& v, const std::string& tensor, const char* field,
                 const std::string& file) {
  if (!v.is_number_unsigned()) {
    throw io_error("load_safetensors", file,
                   "tensor '" + tensor + "': " + field + " must hold non-negative integers");
  }
  return v.get<uint64_t>();
}

Entry parse_entry(const std::string& name, const json& v, uint64_t buffer_size,
                  const std::string& file) {
  const char* fn = "load_safetensors";
  auto bad = [&](const std::string& problem) {
    return io_error(fn, file, "tensor '" + name + "': " + problem);
  };
  if (!v.is_object()) throw bad("its entry is not an object");
  auto dt = v.find("dtype");
  auto sh = v.find("shape");
  auto off = v.find("data_offsets");
  if (dt == v.end() || !dt->is_string()) throw bad("has no string \"dtype\"");
  if (sh == v.end() || !sh->is_array()) throw bad("has no list \"shape\"");
  if (off == v.end() || !off->is_array() || off->size() != 2) {
    throw bad("has no two-element list \"data_offsets\"");
  }
  Entry e;
  e.name = name;
  std::string dtype = dt->get<std::string>();
  if (!st_dtype_from_name(dtype, &e.dtype)) {
    throw bad("dtype " + dtype + " is not supported (alloy reads BOOL, U8..U64, I8..I64, F16, " +
              "BF16, F32, F64)");
  }
  for (const json& d : *sh) {
    uint64_t x = get_u64(d, name, "shape", file);
    if (x > uint64_t(INT64_MAX)) throw bad("a dimension is too large");
    e.shape.push_back(int64_t(x));
  }
  e.begin = get_u64((*off)[0], name, "data_offsets", file);
  e.end = get_u64((*off)[1], name, "data_offsets", file);
  uint64_t count, nbytes;
  if (!detail::checked_element_count(e.shape, &count) ||
      detail::mul_overflows(count, size_of(e.dtype), &nbytes)) {
    throw bad("shape " + shape_to_string(e.shape) + " is too large");
  }
  if (e.begin > e.end || e.end > buffer_size) {
    throw bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
              "] are outside the data buffer of " + std::to_string(buffer_size) + " bytes");
  }
  if (e.end - e.begin != nbytes) {
    throw bad("data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
              "] span " + std::to_string(e.end - e.begin) + " bytes but shape " +
              shape_to_string(e.shape) + " " + dtype + " needs " + std::to_string(nbytes));
  }
  return e;
}

SafetensorsFile parse(const Blob& blob, const std::string& file) {
  const char* fn = "load_safetensors";
  if (blob.size < 8) {
    throw io_error(
        fn, file,
        "file of " + std::to_string(blob.size) + " bytes is too small for a safetensors header");
  }
  uint64_t n;
  std::memcpy(&n, blob.data, 8);
  if (n > blob.size - 8) {
    throw io_error(fn, file,
                   "header length " + std::to_string(n) + " exceeds the file size " +
                       std::to_string(blob.size));
  }
  const char* text = reinterpret_cast<const char*>(blob.data + 8);
  if (n == 0 || text[0] != '{') throw io_error(fn, file, "header does not start with '{'");
  json header = parse_header(text, size_t(n), file);
  if (!header.is_object()) throw io_error(fn, file, "header is not a JSON object");

  size_t data_start = 8 + size_t(n);
  uint64_t buffer_size = blob.size - data_start;
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      if (value.is_null()) continue;  // what mlx.core.save_safetensors writes without metadata
      if (!value.is_object()) throw io_error(fn, file, "__metadata__ is not an object");
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) {
          throw io_error(fn, file, "__metadata__ value of '" + mk + "' is not a string");
        }
        out.metadata.emplace(mk, mv.get<std::string>());
      }
      continue;
    }
    entries.push_back(parse_entry(key, value, buffer_size, file));
  }
  // The byte ranges must tile [0, buffer_size): sorted by offset, each begins where the
  // previous ended.
  std::vector<const Entry*> order;
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expected = 0;
  for (const Entry* e : order) {
    if (e->begin != expected) {
      throw io_error(
          fn, file,
          "tensor '" + e->name + "' begins at " + std::to_string(e->begin) +
              (e->begin < expected ? ", overlapping the previous tensor" : ", leaving a gap") +
              " (expected offset " + std::to_string(expected) + ")");
    }
    expected = e->end;
  }
  if (expected != buffer_size) {
    throw io_error(fn, file,
                   "the data buffer has " + std::to_string(buffer_size - expected) +
                       " bytes after the last tensor");
  }
  for (const Entry& e : entries) {
    out.tensors.emplace(
        e.name, detail::blob_to_array(blob, data_start + size_t(e.begin), e.shape, e.dtype));
  }
  return out;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  return parse(detail::map_file(path, "load_safetensors"), path);
}

SafetensorsFile load_safetensors_from_memory(const uint8_t* data, size_t size,
                                             const std::string& name) {
  return parse(detail::copy_blob(data, size), name);
}

void save_safetensors(const std::string& path,
                      const std::unordered_map<std::string, array>& tensors,
                      const std::unordered_map<std::string, std::string>& metadata) {
  const char* fn = "save_safetensors";
  // Largest elements first, then by name: every offset stays a multiple of its element size.
  std::vector<std::pair<std::string, const array*>> order;
  for (const auto& [name, a] : tensors) {
    if (name == "__metadata__") {
      throw io_error(fn, path, "a tensor cannot be named __metadata__ (the format reserves it)");
    }
    order.emplace_back(name, &a);
  }
  std::sort(order.begin(), order.end(), [](const auto& x, const auto& y) {
    size_t sx = x.second->itemsize(), sy = y.second->itemsize();
    return sx != sy ? sx > sy : x.first < y.first;
  });
  json header = json::object();
  if (!metadata.empty()) {
    json md = json::object();
    for (const auto& [k, v] : metadata) md[k] = v;
    header["__metadata__"] = std::move(md);
  }
  uint64_t offset = 0;
  for (const auto& [name, a] : order) {
    uint64_t nbytes = a->nbytes();
    header[name] = {{"dtype", st_dtype_name(a->dtype())},
                    {"shape", a->shape()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    throw io_error(fn, path,
                   std::string("cannot encode the header (names and metadata must be "
                               "UTF-8): ") +
                       e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  uint64_t n = text.size();
  detail::AtomicFileWriter out(path, fn);
  out.write(&n, 8);
  out.write(text.data(), text.size());
  for (const auto& [name, a] : order) out.write_array(*a);
  out.commit();
}

}  // namespace alloy::io
