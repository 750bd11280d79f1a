// Files written by independent writers: NumPy's np.save / np.savez / np.savez_compressed, and
// hand-written Python for safetensors and GGUF (tests/io/make_npy_fixtures.py, run here).
#include <sys/wait.h>

#include <sstream>

#include "io_test_util.h"

namespace alloy::io::test {
namespace {

Dtype dtype_from_name(const std::string& s) {
  for (Dtype d : all_dtypes()) {
    if (s == dtype_name(d)) return d;
  }
  throw std::runtime_error("unknown dtype " + s);
}

class NumpyFixtures : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const char* python = "/usr/bin/python3";
    if (!std::filesystem::exists(python)) {
      skip_reason_ = "/usr/bin/python3 is not installed";
      return;
    }
    std::string cmd = std::string(python) + " " + ALLOY_IO_TEST_SOURCE_DIR +
                      "/make_npy_fixtures.py " + dir_->path().string() + " > " +
                      dir_->file("log.txt") + " 2>&1";
    int rc = std::system(cmd.c_str());
    int status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    if (status == 77) {
      skip_reason_ = "NumPy is not installed for /usr/bin/python3";
    } else if (status != 0) {
      std::ifstream log(dir_->file("log.txt"));
      std::stringstream ss;
      ss << log.rdbuf();
      failure_ = "make_npy_fixtures.py failed (status " + std::to_string(status) + "): " + ss.str();
    }
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << skip_reason_;
    ASSERT_TRUE(failure_.empty()) << failure_;
  }
  static std::string file(const std::string& name) { return dir_->file(name); }

  static TempDir* dir_;
  static std::string skip_reason_, failure_;
};
TempDir* NumpyFixtures::dir_ = nullptr;
std::string NumpyFixtures::skip_reason_, NumpyFixtures::failure_;

TEST_F(NumpyFixtures, EveryArrayMatchesNumPy) {
  std::ifstream manifest(file("manifest.txt"));
  ASSERT_TRUE(manifest.good());
  std::map<std::string, std::unordered_map<std::string, array>> npz_cache;
  std::map<std::string, SafetensorsFile> st_cache;
  int checked = 0;
  std::string line;
  while (std::getline(manifest, line)) {
    if (line.empty()) continue;
    std::istringstream in(line);
    std::string kind, fname, key, dtype, shape_text, expected;
    in >> kind >> fname >> key >> dtype >> shape_text >> expected;
    SCOPED_TRACE(line);
    Shape shape;
    if (shape_text != "scalar") {
      std::stringstream dims(shape_text);
      std::string d;
      while (std::getline(dims, d, ',')) shape.push_back(std::stoll(d));
    }
    std::optional<array> loaded;
    if (kind == "npy") {
      loaded = load_npy(file(fname));
    } else if (kind == "npz") {
      if (!npz_cache.count(fname)) npz_cache[fname] = load_npz(file(fname));
      ASSERT_TRUE(npz_cache[fname].count(key));
      loaded = npz_cache[fname].at(key);
    } else {
      ASSERT_EQ(kind, "safetensors");
      if (!st_cache.count(fname)) st_cache[fname] = load_safetensors(file(fname));
      ASSERT_TRUE(st_cache[fname].tensors.count(key));
      loaded = st_cache[fname].tensors.at(key);
    }
    EXPECT_EQ(loaded->dtype(), dtype_from_name(dtype));
    EXPECT_EQ(loaded->shape(), shape);
    EXPECT_EQ(element_bytes(*loaded), read_bytes(file(expected)));
    ++checked;
  }
  EXPECT_GE(checked, 55);
  EXPECT_EQ(npz_cache["stored.npz"].size(), 5u);
  EXPECT_EQ(npz_cache["deflated.npz"].size(), 5u);
  EXPECT_EQ(npz_cache["positional.npz"].size(), 2u);
  EXPECT_EQ(st_cache["hand.safetensors"].tensors.size(), 14u);
  EXPECT_EQ(st_cache["hand.safetensors"].metadata.at("format"), "pt");
}

TEST_F(NumpyFixtures, OurFilesReadBackInNumPy) {
  // The other direction: NumPy reads what save_npy / save_npz wrote.
  save_npy(file("ours.npy"), transpose(sample_array(float32, {3, 4})));
  save_npz(file("ours.npz"), {{"a", sample_array(int16, {5})}, {"b", array(true)}}, true);
  std::string script =
      "import numpy as np, sys\n"
      "a = np.load(sys.argv[1])\n"
      "assert a.shape == (4, 3) and a.dtype == np.float32, (a.shape, a.dtype)\n"
      "z = np.load(sys.argv[2])\n"
      "assert sorted(z.files) == ['a', 'b'], z.files\n"
      "assert z['a'].dtype == np.int16 and z['a'].shape == (5,)\n"
      "assert z['b'].dtype == np.bool_ and z['b'].shape == () and bool(z['b'])\n"
      "print('%.9g %d' % (a[1, 2], z['a'][0]))\n";
  std::ofstream(file("check.py")) << script;
  std::string cmd = "/usr/bin/python3 " + file("check.py") + " " + file("ours.npy") + " " +
                    file("ours.npz") + " > " + file("check.txt") + " 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream out(file("check.txt"));
  std::stringstream ss;
  ss << out.rdbuf();
  ASSERT_EQ(rc, 0) << ss.str();
  // a[1, 2] of the transposed (4, 3) array is sample[2, 1]; sample int16 starts at -32768.
  float v = slice(sample_array(float32, {3, 4}), {2, 1}, {3, 2}).item<float>();
  char expected[64];
  std::snprintf(expected, sizeof expected, "%.9g -32768", double(v));
  EXPECT_EQ(ss.str(), std::string(expected) + "\n");
}

TEST_F(NumpyFixtures, HandWrittenGGUF) {
  GGUFFile f = load_gguf(file("gguf_small.gguf"));
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.alignment, 64u);
  auto get = [&](const std::string& k) -> const GGUFValue& {
    const GGUFValue* v = f.find(k);
    if (!v) throw std::runtime_error("missing " + k);
    return *v;
  };
  EXPECT_EQ(std::get<std::string>(get("general.architecture")), "tiny");
  EXPECT_EQ(std::get<uint8_t>(get("t.u8")), 200);
  EXPECT_EQ(std::get<int8_t>(get("t.i8")), -5);
  EXPECT_EQ(std::get<uint16_t>(get("t.u16")), 65000);
  EXPECT_EQ(std::get<int16_t>(get("t.i16")), -30000);
  EXPECT_EQ(std::get<uint32_t>(get("t.u32")), 4000000000u);
  EXPECT_EQ(std::get<int32_t>(get("t.i32")), -2000000000);
  EXPECT_EQ(std::get<float>(get("t.f32")), 1.5f);
  EXPECT_EQ(std::get<bool>(get("t.bool")), true);
  EXPECT_EQ(std::get<std::string>(get("t.str")), "h\u00e9llo");
  EXPECT_EQ(std::get<uint64_t>(get("t.u64")), (uint64_t(1) << 63) + 5);
  EXPECT_EQ(std::get<int64_t>(get("t.i64")), -(int64_t(1) << 62));
  EXPECT_EQ(std::get<double>(get("t.f64")), 3.25);
  EXPECT_EQ(std::get<std::vector<int32_t>>(get("t.arr_i32")), (std::vector<int32_t>{1, -2, 3}));
  EXPECT_EQ(std::get<std::vector<std::string>>(get("t.arr_str")),
            (std::vector<std::string>{"a", "bc"}));
  EXPECT_TRUE(std::get<std::vector<float>>(get("t.arr_empty")).empty());
  const auto& nested = std::get<std::vector<GGUFValue>>(get("t.nested"));
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(std::get<std::vector<uint8_t>>(nested[0]), (std::vector<uint8_t>{1, 2}));
  EXPECT_EQ(std::get<std::vector<std::string>>(nested[1]), (std::vector<std::string>{"x"}));

  ASSERT_EQ(f.tensor_infos.size(), 3u);
  EXPECT_EQ(f.tensor_infos[2].name, "q8");
  EXPECT_EQ(f.tensor_infos[2].ggml_type, uint32_t(GGMLType::Q8_0));
  EXPECT_EQ(f.tensor_infos[2].nbytes, 136u);
  EXPECT_EQ(f.tensor_infos[2].offset, 128u);
  for (int i = 0; i < 136; ++i) EXPECT_EQ(f.tensor_data(f.tensor_infos[2])[i], uint8_t(i));
  EXPECT_EQ(f.tensors.size(), 2u);
  array w = f.tensors.at("w_f32");
  EXPECT_EQ(w.shape(), (Shape{3, 4}));
  std::vector<float> expect_w(12);
  for (int i = 0; i < 12; ++i) expect_w[size_t(i)] = 0.5f * float(i);
  EXPECT_EQ(w.to_vector<float>(), expect_w);
  array h = f.tensors.at("w_f16");
  EXPECT_EQ(h.dtype(), float16);
  EXPECT_EQ(astype(h, float32).to_vector<float>(),
            (std::vector<float>{1.0f, -2.0f, 0.5f, 65504.0f, -0.0f}));
}

}  // namespace
}  // namespace alloy::io::test
