// .npz files: a zip archive (libzip) of <name>.npy members, stored or deflated.
//
// Each member is read whole into its own heap buffer and parsed as .npy; the arrays wrap that
// buffer without another copy. A member's declared size is checked against what its compressed
// size can possibly expand to before anything is allocated (deflate expands at most 1032:1).
// Saving builds each member's .npy image in memory and lets libzip write the archive (it writes
// a temporary file and renames it into place).
#include <zip.h>

#include <algorithm>
#include <map>
#include <memory>

#include "alloy/io/io.h"
#include "alloy/io/npy_format.h"

namespace alloy::io {

namespace {

using detail::Blob;

std::string zip_error_text(int code) {
  zip_error_t err;
  zip_error_init_with_code(&err, code);
  std::string s = zip_error_strerror(&err);
  zip_error_fini(&err);
  return s;
}

struct ZipCloser {
  void operator()(zip_t* za) const { zip_discard(za); }
};
using ZipPtr = std::unique_ptr<zip_t, ZipCloser>;

struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

std::unordered_map<std::string, array> read_archive(zip_t* za, uint64_t archive_size,
                                                    const std::string& file) {
  const char* fn = "load_npz";
  std::unordered_map<std::string, array> out;
  zip_int64_t n = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, zip_uint64_t(i), 0, &st) != 0) {
      throw io_error(fn, file, "cannot read entry " + std::to_string(i) + ": " + zip_strerror(za));
    }
    if (!(st.valid & ZIP_STAT_NAME) || !(st.valid & ZIP_STAT_SIZE) ||
        !(st.valid & ZIP_STAT_COMP_SIZE)) {
      throw io_error(fn, file, "entry " + std::to_string(i) + " has no name or size");
    }
    std::string member = st.name;
    std::string where = file + " (member '" + member + "')";
    if (!member.empty() && member.back() == '/') {
      throw io_error(fn, where, "is a directory; an npz holds only .npy members");
    }
    std::string key = member;
    if (key.size() >= 4 && key.compare(key.size() - 4, 4, ".npy") == 0) {
      key.resize(key.size() - 4);
    }
    if (out.count(key)) throw io_error(fn, file, "two members hold the array '" + key + "'");
    uint64_t bound = 0;
    if (st.comp_size > archive_size || detail::mul_overflows(st.comp_size, 1032, &bound) ||
        detail::add_overflows(bound, 64, &bound) || st.size > bound) {
      throw io_error(fn, where,
                     "declared size " + std::to_string(st.size) + " (compressed " +
                         std::to_string(st.comp_size) + ") is impossible for an archive of " +
                         std::to_string(archive_size) + " bytes");
    }
    std::unique_ptr<zip_file_t, ZipFileCloser> zf(zip_fopen_index(za, zip_uint64_t(i), 0));
    if (!zf) throw io_error(fn, where, std::string("cannot open: ") + zip_strerror(za));
    Blob blob;
    if (st.size > 0) {
      std::shared_ptr<uint8_t[]> buf(new uint8_t[size_t(st.size)]);
      uint64_t got = 0;
      while (got < st.size) {
        zip_int64_t r = zip_fread(zf.get(), buf.get() + got, st.size - got);
        if (r < 0) {
          throw io_error(fn, where, std::string("read failed: ") + zip_file_strerror(zf.get()));
        }
        if (r == 0) break;
        got += uint64_t(r);
      }
      if (got != st.size) {
        throw io_error(
            fn, where,
            "holds " + std::to_string(got) + " bytes, not the declared " + std::to_string(st.size));
      }
      // libzip checks the CRC when a read reaches the end of the data: make one.
      uint8_t extra;
      zip_int64_t r = zip_fread(zf.get(), &extra, 1);
      if (r < 0) {
        throw io_error(fn, where, std::string("corrupt data: ") + zip_file_strerror(zf.get()));
      }
      if (r > 0) throw io_error(fn, where, "holds more bytes than the declared size");
      blob.data = buf.get();
      blob.size = size_t(st.size);
      blob.owner = std::move(buf);
    } else {
      static const uint8_t empty[1] = {};
      blob.data = empty;
    }
    // zip_fclose reports a CRC mismatch found at the end of the data.
    int rc = zip_fclose(zf.release());
    if (rc != 0) throw io_error(fn, where, "corrupt data: " + zip_error_text(rc));
    out.emplace(key, detail::npy_from_blob(blob, fn, where));
  }
  return out;
}

}  // namespace

std::unordered_map<std::string, array> load_npz(const std::string& path) {
  uint64_t size = detail::regular_file_size(path, "load_npz");
  int code = 0;
  ZipPtr za(zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!za) throw io_error("load_npz", path, "not a valid zip archive: " + zip_error_text(code));
  return read_archive(za.get(), size, path);
}

std::unordered_map<std::string, array> load_npz_from_memory(const uint8_t* data, size_t size,
                                                            const std::string& name) {
  zip_error_t err;
  zip_error_init(&err);
  static const uint8_t empty[1] = {};
  zip_source_t* src = zip_source_buffer_create(size ? data : empty, size, 0, &err);
  if (!src) {
    std::string msg = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw io_error("load_npz", name, "cannot read the buffer: " + msg);
  }
  ZipPtr za(zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &err));
  if (!za) {
    zip_source_free(src);
    std::string msg = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw io_error("load_npz", name, "not a valid zip archive: " + msg);
  }
  zip_error_fini(&err);
  return read_archive(za.get(), size, name);
}

void save_npz(const std::string& path, const std::unordered_map<std::string, array>& arrays,
              bool compressed) {
  const char* fn = "save_npz";
  // Sorted for a deterministic archive; std::map also gives stable addresses for the buffers
  // libzip reads at zip_close().
  std::map<std::string, std::string> images;
  for (const auto& [name, a] : arrays) {
    std::string image =
        detail::npy_preamble(a.dtype(), a.shape(), fn, path + " (array '" + name + "')");
    detail::for_each_array_chunk(
        a, [&](const void* p, size_t n) { image.append(static_cast<const char*>(p), n); });
    images.emplace(name + ".npy", std::move(image));
  }
  if (images.empty()) {
    // libzip deletes an archive left with no entries; NumPy writes the bare end record.
    static const uint8_t end_record[22] = {'P', 'K', 5, 6};
    detail::AtomicFileWriter out(path, fn);
    out.write(end_record, sizeof end_record);
    out.commit();
    return;
  }
  int code = 0;
  ZipPtr za(zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code));
  if (!za) throw io_error(fn, path, "cannot create the archive: " + zip_error_text(code));
  for (const auto& [member, image] : images) {
    zip_source_t* src = zip_source_buffer(za.get(), image.data(), image.size(), 0);
    if (!src)
      throw io_error(fn, path, std::string("cannot add ") + member + ": " + zip_strerror(za.get()));
    zip_int64_t idx = zip_file_add(za.get(), member.c_str(), src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
      zip_source_free(src);
      throw io_error(fn, path, std::string("cannot add ") + member + ": " + zip_strerror(za.get()));
    }
    if (zip_set_file_compression(za.get(), zip_uint64_t(idx),
                                 compressed ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0) {
      throw io_error(fn, path, std::string("cannot set compression: ") + zip_strerror(za.get()));
    }
  }
  if (zip_close(za.get()) != 0) {
    throw io_error(fn, path, std::string("cannot write the archive: ") + zip_strerror(za.get()));
  }
  za.release();  // zip_close freed it
}

}  // namespace alloy::io
