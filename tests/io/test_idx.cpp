// IDX files: hand-built plain and gzip files, big-endian data, and hostile input.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "alloy/alloy.h"

namespace alloy {
namespace {

std::vector<uint8_t> idx_header(uint8_t type, std::vector<uint32_t> dims) {
  std::vector<uint8_t> b = {0, 0, type, uint8_t(dims.size())};
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(uint8_t(d >> s));
  }
  return b;
}

std::vector<uint8_t> gzip(const std::vector<uint8_t>& raw) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::vector<uint8_t> out(deflateBound(&zs, uLong(raw.size())) + 64);
  zs.next_in = const_cast<Bytef*>(raw.data());
  zs.avail_in = uInt(raw.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

array load(const std::vector<uint8_t>& bytes) { return io::load_idx_from_memory(bytes.data(), bytes.size(), "t.idx"); }

TEST(Idx, Uint8AndBigEndianTypes) {
  std::vector<uint8_t> u8 = idx_header(0x08, {2, 3});
  for (uint8_t v = 0; v < 6; ++v) u8.push_back(v * 10);
  array a = load(u8);
  EXPECT_EQ(a.dtype(), uint8);
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  EXPECT_EQ(a.to_vector<int>(), (std::vector<int>{0, 10, 20, 30, 40, 50}));

  std::vector<uint8_t> i32 = idx_header(0x0C, {2});
  for (uint8_t b : {0x00, 0x00, 0x01, 0x02, 0xFF, 0xFF, 0xFF, 0xFE}) i32.push_back(b);
  EXPECT_EQ(load(i32).to_vector<int32_t>(), (std::vector<int32_t>{258, -2}));

  std::vector<uint8_t> f32 = idx_header(0x0D, {1});
  for (uint8_t b : {0x3F, 0xC0, 0x00, 0x00}) f32.push_back(b);  // 1.5f big-endian
  EXPECT_EQ(load(f32).item<float>(), 1.5f);
}

TEST(Idx, GzipMatchesPlain) {
  std::vector<uint8_t> raw = idx_header(0x08, {100, 28, 28});
  for (int i = 0; i < 100 * 28 * 28; ++i) raw.push_back(uint8_t(i * 7));
  EXPECT_TRUE(array_equal(load(gzip(raw)), load(raw)));
}

TEST(Idx, HostileInputIsAnIoError) {
  std::vector<uint8_t> good = idx_header(0x08, {4});
  good.insert(good.end(), {1, 2, 3, 4});
  auto expect_error = [](const std::vector<uint8_t>& bytes, const std::string& what) {
    try {
      load(bytes);
      ADD_FAILURE() << "no error for " << what;
    } catch (const io::io_error& e) {
      EXPECT_NE(std::string(e.what()).find("load_idx"), std::string::npos) << e.what();
    }
  };
  expect_error({}, "an empty file");
  expect_error({1, 0, 8, 1, 0, 0, 0, 1, 0}, "bad magic");
  expect_error(idx_header(0x07, {1}), "an unknown type");
  expect_error(idx_header(0x08, {}), "zero dimensions");
  expect_error(std::vector<uint8_t>(good.begin(), good.end() - 1), "truncated data");
  std::vector<uint8_t> longer = good;
  longer.push_back(9);
  expect_error(longer, "trailing data");
  expect_error(idx_header(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}), "an overflowing size");
  // A tiny gzip stream that announces 4 GB is refused before anything is allocated.
  expect_error(gzip(idx_header(0x08, {65536, 65536})), "a gzip stream announcing 4 GB");
  std::vector<uint8_t> gz = gzip(good);
  expect_error(std::vector<uint8_t>(gz.begin(), gz.begin() + long(gz.size()) / 2), "a truncated gzip stream");
  gz[gz.size() / 2] ^= 0xFF;
  expect_error(gz, "a corrupt gzip stream");
}

TEST(Idx, FashionMnistFilesFromDebian) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(dir + "/t10k-labels-idx1-ubyte.gz")) {
    GTEST_SKIP() << dir << " is missing (apt-get install dataset-fashion-mnist)";
  }
  array labels = io::load_idx(dir + "/t10k-labels-idx1-ubyte.gz");
  ASSERT_EQ(labels.shape(), (Shape{10000}));
  // The test split holds 1,000 images of each class.
  std::vector<int> counts(10, 0);
  for (int v : labels.to_vector<int>()) counts.at(size_t(v))++;
  EXPECT_EQ(counts, std::vector<int>(10, 1000));
  array images = io::load_idx(dir + "/t10k-images-idx3-ubyte.gz");
  EXPECT_EQ(images.shape(), (Shape{10000, 28, 28}));
}

}  // namespace
}  // namespace alloy
