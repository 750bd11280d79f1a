// .npz: round trips (stored and deflated), the memory loader, and archive-level errors.
#include <zip.h>

#include "io_test_util.h"

namespace alloy::io::test {
namespace {

std::unordered_map<std::string, array> every_dtype_arrays() {
  std::unordered_map<std::string, array> m;
  int seed = 0;
  for (Dtype dt : all_dtypes()) {
    if (dt == bfloat16) continue;
    m.emplace(std::string("a_") + dtype_name(dt), sample_array(dt, {2, 3, 2}, seed++));
  }
  m.emplace("transposed", transpose(sample_array(float64, {3, 5}), {1, 0}));
  m.emplace("sliced", slice(sample_array(int32, {10}), {1}, {10}, {3}));
  m.emplace("scalar", array(2.5f));
  m.emplace("empty", sample_array(int8, {0, 4}));
  m.emplace("dir/nested", sample_array(uint16, {3}));
  return m;
}

void expect_same_maps(const std::unordered_map<std::string, array>& expected,
                      const std::unordered_map<std::string, array>& actual) {
  EXPECT_EQ(expected.size(), actual.size());
  for (const auto& [name, a] : expected) {
    SCOPED_TRACE(name);
    auto it = actual.find(name);
    ASSERT_NE(it, actual.end());
    EXPECT_TRUE(same_array(a, it->second));
  }
}

TEST(Npz, RoundTripStoredAndCompressed) {
  TempDir dir;
  auto arrays = every_dtype_arrays();
  for (bool compressed : {false, true}) {
    SCOPED_TRACE(compressed);
    std::string path = dir.file(compressed ? "c.npz" : "s.npz");
    save_npz(path, arrays, compressed);
    expect_same_maps(arrays, load_npz(path));
    std::vector<uint8_t> bytes = read_bytes(path);
    expect_same_maps(arrays, load_npz_from_memory(bytes.data(), bytes.size(), "mem.npz"));
  }
  // Highly compressible data really is deflated.
  std::unordered_map<std::string, array> big = {{"z", zeros({256, 256})}};
  save_npz(dir.file("z.npz"), big, true);
  EXPECT_LT(std::filesystem::file_size(dir.file("z.npz")), 10000u);
  expect_same_maps(big, load_npz(dir.file("z.npz")));
}

TEST(Npz, EmptyArchive) {
  TempDir dir;
  save_npz(dir.file("e.npz"), {});
  EXPECT_TRUE(load_npz(dir.file("e.npz")).empty());
}

TEST(Npz, RefusesBfloat16AndKeepsNoPartialFile) {
  TempDir dir;
  expect_io_error(
      [&] {
        save_npz(dir.file("b.npz"), {{"w", sample_array(bfloat16, {2})}});
      },
      {"[save_npz]", "b.npz", "'w'", "bfloat16"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("b.npz")));
}

// A zip with the given members, written with libzip directly.
std::vector<uint8_t> make_zip(
    const TempDir& dir, const std::vector<std::pair<std::string, std::vector<uint8_t>>>& members) {
  std::string path = dir.file("hand.zip");
  std::filesystem::remove(path);
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  EXPECT_NE(za, nullptr);
  for (const auto& [name, data] : members) {
    zip_source_t* src = zip_source_buffer(za, data.data(), data.size(), 0);
    // ZIP_FL_OVERWRITE is not set, so a repeated name fails: add it under a temporary name.
    zip_int64_t idx = zip_file_add(za, name.c_str(), src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
      idx = zip_file_add(za, (name + ".dup").c_str(), src, ZIP_FL_ENC_UTF_8);
    }
    zip_set_file_compression(za, zip_uint64_t(idx), ZIP_CM_STORE, 0);
  }
  EXPECT_EQ(zip_close(za), 0);
  return read_bytes(path);
}

TEST(Npz, MemberErrors) {
  TempDir dir;
  save_npy(dir.file("x.npy"), array({1, 2, 3}));
  std::vector<uint8_t> npy = read_bytes(dir.file("x.npy"));

  auto z = make_zip(dir, {{"a.npy", npy}, {"a", npy}});
  expect_io_error([&] { load_npz_from_memory(z.data(), z.size(), "dup.npz"); },
                  {"[load_npz]", "dup.npz", "'a'"});

  z = make_zip(dir, {{"readme.txt", {'h', 'i'}}});
  expect_io_error([&] { load_npz_from_memory(z.data(), z.size(), "txt.npz"); },
                  {"[load_npz]", "txt.npz", "readme.txt", "magic"});

  std::vector<uint8_t> short_npy(npy.begin(), npy.end() - 4);
  z = make_zip(dir, {{"s.npy", short_npy}});
  expect_io_error([&] { load_npz_from_memory(z.data(), z.size(), "short.npz"); },
                  {"[load_npz]", "short.npz", "s.npy", "needs 12 bytes"});

  // A flipped data byte of a stored member fails the CRC check.
  z = make_zip(dir, {{"a.npy", npy}});
  auto pos = std::search(z.begin(), z.end(), npy.begin(), npy.end());
  ASSERT_NE(pos, z.end());
  *(pos + std::ptrdiff_t(npy.size()) - 1) ^= 0x40;
  expect_io_error([&] { load_npz_from_memory(z.data(), z.size(), "crc.npz"); },
                  {"[load_npz]", "crc.npz"});

  std::vector<uint8_t> junk = {'n', 'o', 't', ' ', 'z', 'i', 'p'};
  expect_io_error([&] { load_npz_from_memory(junk.data(), junk.size(), "junk.npz"); },
                  {"[load_npz]", "junk.npz", "not a valid zip archive"});
  write_bytes(dir.file("junk.npz"), junk);
  expect_io_error([&] { load_npz(dir.file("junk.npz")); },
                  {"[load_npz]", "junk.npz", "not a valid zip archive"});
  expect_io_error([&] { load_npz(dir.file("missing.npz")); }, {"[load_npz]", "missing.npz"});
}

}  // namespace
}  // namespace alloy::io::test
