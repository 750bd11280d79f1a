// .npy: round trips of every dtype and layout, hand-made headers (versions, Fortran order,
// big-endian), and the bfloat16 refusal.
#include "io_test_util.h"

namespace alloy::io::test {
namespace {

std::vector<uint8_t> npy_file(const std::string& dict, int major,
                              const std::vector<uint8_t>& data) {
  Bytes b;
  b.raw("\x93NUMPY").u8(uint8_t(major)).u8(0);
  std::string header = dict;
  size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  if (major == 1) {
    b.pod<uint16_t>(uint16_t(header.size()));
  } else {
    b.u32(uint32_t(header.size()));
  }
  b.raw(header);
  b.b.insert(b.b.end(), data.begin(), data.end());
  return b.b;
}

TEST(Npy, RoundTripEveryDtype) {
  TempDir dir;
  for (Dtype dt : all_dtypes()) {
    if (dt == bfloat16) continue;
    SCOPED_TRACE(dtype_name(dt));
    array a = sample_array(dt, {3, 5});
    std::string path = dir.file(std::string(dtype_name(dt)) + ".npy");
    save_npy(path, a);
    EXPECT_TRUE(same_array(a, load_npy(path)));
  }
}

TEST(Npy, RoundTripShapes) {
  TempDir dir;
  std::vector<Shape> shapes = {{}, {1}, {7}, {0}, {2, 0, 3}, {2, 3, 1, 2, 2}, {1, 1, 1}};
  for (const Shape& s : shapes) {
    SCOPED_TRACE(shape_to_string(s));
    array a = sample_array(float32, s);
    save_npy(dir.file("a.npy"), a);
    EXPECT_TRUE(same_array(a, load_npy(dir.file("a.npy"))));
  }
}

TEST(Npy, RoundTripNonContiguous) {
  TempDir dir;
  for (Dtype dt : {float32, int16, bool_, float16, uint64}) {
    SCOPED_TRACE(dtype_name(dt));
    array base = sample_array(dt, {3, 4, 5});
    array t = transpose(base, {2, 0, 1});
    save_npy(dir.file("t.npy"), t);
    EXPECT_TRUE(same_array(t, load_npy(dir.file("t.npy"))));
    array s = slice(sample_array(dt, {6, 8}), {1, 0}, {6, 8}, {2, 3});
    save_npy(dir.file("s.npy"), s);
    EXPECT_TRUE(same_array(s, load_npy(dir.file("s.npy"))));
  }
  // The transposed file holds the transposed values, checked independently of the core's copy.
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[size_t(i)] = float(i);
  array base(v, Shape{2, 3, 4});
  save_npy(dir.file("t.npy"), transpose(base));  // shape (4, 3, 2)
  std::vector<uint8_t> bytes = read_bytes(dir.file("t.npy"));
  ASSERT_EQ(bytes.size(), 128u + 24 * 4);
  const float* f = reinterpret_cast<const float*>(bytes.data() + 128);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 2; ++k) EXPECT_EQ(f[(i * 3 + j) * 2 + k], float(k * 12 + j * 4 + i));
}

TEST(Npy, HeaderIsWhatNumPyWrites) {
  TempDir dir;
  save_npy(dir.file("a.npy"), array({1.0f, 2.0f, 3.0f}));
  std::vector<uint8_t> b = read_bytes(dir.file("a.npy"));
  ASSERT_EQ(b.size(), 128u + 12);  // NumPy pads this header to 128 bytes too
  std::string header(b.begin() + 10, b.begin() + 128);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 0), 0u);
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(b[6], 1);
}

TEST(Npy, RefusesBfloat16) {
  TempDir dir;
  expect_io_error([&] { save_npy(dir.file("b.npy"), sample_array(bfloat16, {2})); },
                  {"[save_npy]", "b.npy", "bfloat16", "astype"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("b.npy")));
}

TEST(Npy, ReadsVersionsAndOrders) {
  std::vector<uint8_t> data;
  for (int i = 0; i < 6; ++i) {
    int32_t v = i;
    data.insert(data.end(), reinterpret_cast<uint8_t*>(&v), reinterpret_cast<uint8_t*>(&v) + 4);
  }
  std::vector<int32_t> expect_c = {0, 1, 2, 3, 4, 5};
  for (int major : {1, 2, 3}) {
    SCOPED_TRACE(major);
    auto f = npy_file("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", major, data);
    array a = load_npy_from_memory(f.data(), f.size(), "mem.npy");
    EXPECT_EQ(a.shape(), (Shape{2, 3}));
    EXPECT_EQ(a.to_vector<int32_t>(), expect_c);
  }
  // Fortran order: the data is column-major.
  auto f = npy_file("{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3), }", 1, data);
  array a = load_npy_from_memory(f.data(), f.size(), "mem.npy");
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  EXPECT_EQ(a.to_vector<int32_t>(), (std::vector<int32_t>{0, 2, 4, 1, 3, 5}));
  // Big-endian: bytes swapped.
  std::vector<uint8_t> be = {0, 0, 1, 2, 0xff, 0xff, 0xff, 0xfe};
  f = npy_file("{\"descr\": \">i4\", \"fortran_order\": False, \"shape\": (2,)}", 1, be);
  a = load_npy_from_memory(f.data(), f.size(), "mem.npy");
  EXPECT_EQ(a.to_vector<int32_t>(), (std::vector<int32_t>{258, -2}));
  // Python 2 long suffixes, extra whitespace, and no trailing comma.
  f = npy_file("{ 'shape' : (2L, 3L) , 'fortran_order':False,'descr':'<i4' }", 1, data);
  a = load_npy_from_memory(f.data(), f.size(), "mem.npy");
  EXPECT_EQ(a.shape(), (Shape{2, 3}));
  // '|b1' bytes other than 0/1 are read as true.
  f = npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", 1, {0, 1, 7});
  a = load_npy_from_memory(f.data(), f.size(), "mem.npy");
  EXPECT_EQ(a.dtype(), bool_);
  EXPECT_EQ(element_bytes(a), (std::vector<uint8_t>{0, 1, 1}));
}

TEST(Npy, SaveReplacesAFileStillMappedByItsArrays) {
  // Saving over a file whose mapping an array still uses must not change that array.
  TempDir dir;
  array a = sample_array(float32, {64});
  save_npy(dir.file("x.npy"), a);
  array loaded = load_npy(dir.file("x.npy"));
  save_npy(dir.file("x.npy"), sample_array(int8, {3}));
  EXPECT_TRUE(same_array(a, loaded));
  EXPECT_EQ(load_npy(dir.file("x.npy")).dtype(), int8);
}

TEST(Npy, MissingFile) {
  expect_io_error([] { load_npy("/nonexistent/dir/x.npy"); },
                  {"[load_npy]", "/nonexistent/dir/x.npy", "cannot open"});
  expect_io_error([] { load_npy("/"); }, {"[load_npy]", "not a regular file"});
  expect_io_error([] { save_npy("/nonexistent/dir/x.npy", array({1.0f})); },
                  {"[save_npy]", "/nonexistent/dir/x.npy"});
}

}  // namespace
}  // namespace alloy::io::test
