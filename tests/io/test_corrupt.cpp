// Corrupt input for every format: specific npy header errors, and a deterministic mini-fuzz
// (every truncation of a valid file plus a few thousand random byte mutations, fixed seeds)
// that accepts only io_error or success. Meant to run under ASan in CI.
#include "io_test_util.h"

namespace alloy::io::test {
namespace {

constexpr int fuzz_iterations = 3000;

std::vector<uint8_t> npy_with_header(const std::string& dict, size_t data_bytes, int major = 1) {
  Bytes b;
  b.raw("\x93NUMPY").u8(uint8_t(major)).u8(0);
  if (major == 1) {
    b.pod<uint16_t>(uint16_t(dict.size()));
  } else {
    b.u32(uint32_t(dict.size()));
  }
  b.raw(dict).zeros(data_bytes);
  return b.b;
}

void expect_npy_error(const std::vector<uint8_t>& f, const std::vector<std::string>& parts) {
  std::vector<std::string> all = {"[load_npy]", "bad.npy"};
  all.insert(all.end(), parts.begin(), parts.end());
  expect_io_error([&] { load_npy_from_memory(f.data(), f.size(), "bad.npy"); }, all);
}

TEST(Corrupt, NpyHeaders) {
  const std::string ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n";
  auto f = npy_with_header(ok, 24);
  EXPECT_EQ(load_npy_from_memory(f.data(), f.size(), "ok.npy").shape(), (Shape{2, 3}));

  expect_npy_error({'P', 'K', 3, 4}, {"not an npy file"});
  expect_npy_error({0x93, 'N', 'U', 'M', 'P', 'Y', 1}, {"truncated npy preamble"});
  auto g = f;
  g[8] = 0xa0;
  g[9] = 0x0f;  // 4000
  expect_npy_error(g, {"header length 4000 exceeds the file size " + std::to_string(g.size())});
  g = f;
  g[6] = 4;
  expect_npy_error(g, {"unsupported npy version 4.0"});
  expect_npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': False}", 24),
                   {"no 'shape' key"});
  expect_npy_error(npy_with_header("{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}", 16),
                   {"'<c8' is not supported"});
  expect_npy_error(npy_with_header("{'descr': '<U3', 'fortran_order': False, 'shape': (2,)}", 24),
                   {"'<U3' is not supported"});
  expect_npy_error(npy_with_header("{'descr': '<q7', 'fortran_order': False, 'shape': (2,)}", 24),
                   {"unrecognized descr '<q7'"});
  expect_npy_error(npy_with_header("{'descr': [('a', '<f4')], 'fortran_order': False, "
                                   "'shape': (2,)}",
                                   8),
                   {"structured"});
  expect_npy_error(
      npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20),
      {"float32 needs 24 bytes but the file has 20"});
  expect_npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, "
                                   "'shape': (4294967296, 4294967296, 2), }",
                                   0),
                   {"is too large"});
  expect_npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, "
                                   "'shape': (0, 4294967296, 4294967296), }",
                                   0),
                   {"is too large"});
  expect_npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, "
                                   "'shape': (99999999999999999999,), }",
                                   0),
                   {"too large for int64"});
  expect_npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 0),
                   {"negative dimension"});
  expect_npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4),
                   {"neither True nor False"});
  expect_npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), "
                                   "'extra': 1}",
                                   4),
                   {"unexpected key 'extra'"});
  expect_npy_error(npy_with_header("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                                   "'shape': (1,)}",
                                   4),
                   {"'descr' twice"});
  expect_npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", 4),
                   {"list for 'shape'"});
  expect_npy_error(npy_with_header("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x", 4),
                   {"text after the closing"});
  expect_npy_error(npy_with_header("{'descr': '<f4\\x', 'fortran_order': False, 'shape': (1,)}", 4),
                   {"escape"});
  expect_npy_error(npy_with_header("{'descr: '<f4'}", 4), {"npy header"});
  expect_npy_error(npy_with_header(std::string("{'descr': '<f4'\0", 16), 4), {"npy header"});
  expect_npy_error(npy_with_header("", 4), {"expected '{'"});
}

// ---------- mini-fuzz ----------

std::vector<uint8_t> saved_bytes(const std::function<void(const std::string&)>& save) {
  TempDir dir;
  save(dir.file("f"));
  return read_bytes(dir.file("f"));
}

TEST(MiniFuzz, Npy) {
  for (bool fortran : {false, true}) {
    auto valid = saved_bytes([&](const std::string& p) {
      save_npy(p, sample_array(int16, {3, 5}));
    });
    if (fortran) {
      // Flip the header to Fortran order (same length: "True, " for "False,").
      std::string s(valid.begin(), valid.end());
      size_t at = s.find("False,");
      ASSERT_NE(at, std::string::npos);
      s.replace(at, 6, "True, ");
      valid.assign(s.begin(), s.end());
    }
    int accepted = mini_fuzz(
        valid, [](const uint8_t* d, size_t n) { touch(load_npy_from_memory(d, n, "fuzz.npy")); },
        fuzz_iterations, 1234 + fortran);
    EXPECT_GT(accepted, 0);
    RecordProperty(fortran ? "accepted_fortran" : "accepted", accepted);
  }
}

TEST(MiniFuzz, Npz) {
  for (bool compressed : {false, true}) {
    auto valid = saved_bytes([&](const std::string& p) {
      save_npz(p, {{"a", sample_array(float32, {4})}, {"b", sample_array(uint8, {2, 2})}},
               compressed);
    });
    int accepted = mini_fuzz(
        valid,
        [](const uint8_t* d, size_t n) {
          for (auto& [k, a] : load_npz_from_memory(d, n, "fuzz.npz")) touch(a);
        },
        fuzz_iterations, 99 + compressed);
    RecordProperty(compressed ? "accepted_deflated" : "accepted_stored", accepted);
  }
}

TEST(MiniFuzz, Safetensors) {
  auto valid = saved_bytes([](const std::string& p) {
    save_safetensors(p,
                     {{"w", sample_array(float32, {2, 3})},
                      {"b", sample_array(bool_, {5})},
                      {"h", sample_array(bfloat16, {3})}},
                     {{"format", "pt"}});
  });
  int accepted = mini_fuzz(
      valid,
      [](const uint8_t* d, size_t n) {
        for (auto& [k, a] : load_safetensors_from_memory(d, n, "fuzz.safetensors").tensors) {
          touch(a);
        }
      },
      fuzz_iterations, 7);
  EXPECT_GT(accepted, 0);
  RecordProperty("accepted", accepted);
}

TEST(MiniFuzz, GGUF) {
  std::map<std::string, GGUFValue> md = {
      {"general.architecture", std::string("llama")},
      {"a.str", std::vector<std::string>{"x", "yz"}},
      {"a.nested", std::vector<GGUFValue>{std::vector<int32_t>{1}, std::vector<bool>{true}}},
      {"v.f", 2.5f},
      {"v.b", true}};
  auto valid = saved_bytes([&](const std::string& p) {
    save_gguf(p, {{"w", sample_array(float32, {2, 4})}, {"h", sample_array(float16, {3})}}, md);
  });
  int accepted = mini_fuzz(
      valid,
      [](const uint8_t* d, size_t n) {
        GGUFFile f = load_gguf_from_memory(d, n, "fuzz.gguf");
        for (auto& [k, a] : f.tensors) touch(a);
        for (const auto& t : f.tensor_infos) {
          // The raw extent of every listed tensor must be readable.
          volatile uint8_t sink = 0;
          for (uint64_t i = 0; i < t.nbytes; ++i) sink = sink + f.tensor_data(t)[i];
        }
      },
      fuzz_iterations, 42);
  EXPECT_GT(accepted, 0);
  RecordProperty("accepted", accepted);
}

}  // namespace
}  // namespace alloy::io::test
