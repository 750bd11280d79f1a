// safetensors: round trips of all 13 dtypes with metadata, the file layout, zero-copy and
// copied (misaligned) tensors, and header validation errors.
#include <nlohmann/json.hpp>

#include "io_test_util.h"

namespace alloy::io::test {
namespace {

// A file with a JSON header given as text and a data buffer.
std::vector<uint8_t> st_file(const std::string& header, const std::vector<uint8_t>& data) {
  Bytes b;
  b.u64(header.size()).raw(header);
  b.b.insert(b.b.end(), data.begin(), data.end());
  return b.b;
}

void expect_st_error(const std::string& header, const std::vector<uint8_t>& data,
                     const std::vector<std::string>& parts) {
  auto f = st_file(header, data);
  std::vector<std::string> all = {"[load_safetensors]", "bad.safetensors"};
  all.insert(all.end(), parts.begin(), parts.end());
  expect_io_error([&] { load_safetensors_from_memory(f.data(), f.size(), "bad.safetensors"); },
                  all);
}

TEST(Safetensors, RoundTripEveryDtype) {
  TempDir dir;
  std::unordered_map<std::string, array> tensors;
  int seed = 0;
  for (Dtype dt : all_dtypes()) {
    tensors.emplace(dtype_name(dt), sample_array(dt, {3, 3}, seed++));
    tensors.emplace(std::string(dtype_name(dt)) + ".t",
                    transpose(sample_array(dt, {2, 3, 5}, seed++), {1, 2, 0}));
    tensors.emplace(std::string(dtype_name(dt)) + ".odd", sample_array(dt, {3}, seed++));
  }
  tensors.emplace("scalar", array(int64_t(-7)));
  tensors.emplace("empty", sample_array(float32, {0, 2}));
  tensors.emplace("sliced", slice(sample_array(bfloat16, {4, 6}), {0, 1}, {4, 6}, {3, 2}));
  std::unordered_map<std::string, std::string> md = {{"format", "pt"}, {"k\u00e9y", "v\"1\n"}};
  save_safetensors(dir.file("m.safetensors"), tensors, md);
  for (int from_memory = 0; from_memory < 2; ++from_memory) {
    SafetensorsFile f;
    if (from_memory) {
      auto bytes = read_bytes(dir.file("m.safetensors"));
      f = load_safetensors_from_memory(bytes.data(), bytes.size(), "m");
    } else {
      f = load_safetensors(dir.file("m.safetensors"));
    }
    EXPECT_EQ(f.metadata, md);
    ASSERT_EQ(f.tensors.size(), tensors.size());
    for (const auto& [name, a] : tensors) {
      SCOPED_TRACE(name);
      ASSERT_TRUE(f.tensors.count(name));
      EXPECT_TRUE(same_array(a, f.tensors.at(name)));
    }
  }
}

TEST(Safetensors, LayoutFollowsTheFormat) {
  TempDir dir;
  save_safetensors(dir.file("a.safetensors"), {{"b", sample_array(float16, {3})},
                                               {"a", sample_array(float32, {2})},
                                               {"c", sample_array(uint8, {1})}});
  auto bytes = read_bytes(dir.file("a.safetensors"));
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  std::string text(bytes.begin() + 8, bytes.begin() + 8 + std::ptrdiff_t(n));
  auto j = nlohmann::json::parse(text);
  EXPECT_FALSE(j.contains("__metadata__"));  // none given
  // Larger elements first: every offset is a multiple of its element size.
  EXPECT_EQ(j["a"]["data_offsets"], nlohmann::json({0, 8}));
  EXPECT_EQ(j["b"]["data_offsets"], nlohmann::json({8, 14}));
  EXPECT_EQ(j["c"]["data_offsets"], nlohmann::json({14, 15}));
  EXPECT_EQ(j["b"]["dtype"], "F16");
  EXPECT_EQ(j["b"]["shape"], nlohmann::json({3}));
  EXPECT_EQ(bytes.size(), 8 + n + 15);
}

TEST(Safetensors, MisalignedTensorsAreCopiedCorrectly) {
  // "a" is 1 byte, so "b" (F32) starts at an odd address and must be copied.
  Bytes data;
  data.u8(9).pod(1.5f).pod(-2.0f).pod(3.25f);
  std::string header = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                       R"("b":{"dtype":"F32","shape":[3],"data_offsets":[1,13]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  auto f = st_file(header, data.b);
  auto st = load_safetensors_from_memory(f.data(), f.size(), "mis");
  EXPECT_EQ(st.tensors.at("b").to_vector<float>(), (std::vector<float>{1.5f, -2.0f, 3.25f}));
  EXPECT_EQ(st.tensors.at("a").to_vector<uint8_t>(), (std::vector<uint8_t>{9}));
  EXPECT_TRUE(st.metadata.empty());
}

TEST(Safetensors, ArraysKeepTheMappingAlive) {
  TempDir dir;
  array a = sample_array(float32, {1000});
  save_safetensors(dir.file("k.safetensors"), {{"w", a}});
  array w = load_safetensors(dir.file("k.safetensors")).tensors.at("w");
  std::filesystem::remove(dir.file("k.safetensors"));
  EXPECT_TRUE(same_array(a, w));
  EXPECT_TRUE(same_array(a + 1.0f, w + 1.0f));
}

// mlx.core.save_safetensors writes "__metadata__": null when given no metadata.
TEST(Safetensors, NullMetadataIsNone) {
  std::vector<uint8_t> data = {0, 0, 128, 63, 0, 0, 0, 64};  // float32 1, 2
  auto f = st_file(R"({"__metadata__":null,"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data);
  SafetensorsFile st = load_safetensors_from_memory(f.data(), f.size(), "mlx.safetensors");
  EXPECT_TRUE(st.metadata.empty());
  EXPECT_EQ(st.tensors.at("w").to_vector<float>(), (std::vector<float>{1, 2}));
}

TEST(Safetensors, HeaderErrors) {
  const std::string f32_2 = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";
  std::vector<uint8_t> eight(8, 0);
  expect_st_error(R"({"w":{"dtype":"F8_E4M3","shape":[8],"data_offsets":[0,8]}})", eight,
                  {"'w'", "F8_E4M3", "not supported"});
  expect_st_error(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", eight,
                  {"'w'", "outside the data buffer"});
  expect_st_error(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight,
                  {"'w'", "needs 12"});
  expect_st_error(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight,
                  {"'w'", "non-negative"});
  expect_st_error(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})",
                  eight, {"'w'", "too large"});
  expect_st_error(R"({"w":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}})",
                  eight, {"'w'", "too large"});
  expect_st_error(R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})", eight,
                  {"'w'", "gap"});
  expect_st_error(R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})", eight,
                  {"4 bytes after the last tensor"});
  expect_st_error(R"({"v":{"dtype":"U8","shape":[6],"data_offsets":[0,6]},)"
                  R"("w":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
                  eight, {"'w'", "overlapping"});
  expect_st_error("{\"w\":{" + f32_2 + "},\"w\":{" + f32_2 + "}}", eight, {"'w' twice"});
  expect_st_error(R"({"w":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", eight,
                  {"'dtype' twice"});
  expect_st_error("{\"__metadata__\":{\"a\":1},\"w\":{" + f32_2 + "}}", eight,
                  {"'a'", "not a string"});
  expect_st_error("{\"w\":{" + f32_2 + "}", eight, {"not valid JSON"});
  expect_st_error("[1]", {}, {"does not start with '{'"});
  expect_st_error(R"({"w":{"dtype":"F32","shape":[[[[2]]]],"data_offsets":[0,8]}})", eight,
                  {"nested deeper"});
  expect_st_error(R"({"w":{"dtype":"F32","shape":[2]}})", eight, {"'w'", "data_offsets"});
  expect_st_error(R"({"w":[1,2]})", eight, {"'w'", "not an object"});
  expect_st_error("{\"w\":{" + f32_2 + "}, \"bad\xff\": 1}", eight, {"not valid JSON"});

  std::vector<uint8_t> tiny = {1, 2, 3};
  expect_io_error([&] { load_safetensors_from_memory(tiny.data(), tiny.size(), "t"); },
                  {"[load_safetensors]", "too small"});
  Bytes huge;
  huge.u64(uint64_t(1) << 62).raw("{}");
  expect_io_error(
      [&] { load_safetensors_from_memory(huge.b.data(), huge.b.size(), "h"); },
      {"[load_safetensors]", "h:", "header length 4611686018427387904 exceeds the file size 10"});
}

TEST(Safetensors, SaveErrors) {
  TempDir dir;
  expect_io_error(
      [&] {
        save_safetensors(dir.file("x.safetensors"), {{"__metadata__", array(1.0f)}});
      },
      {"[save_safetensors]", "x.safetensors", "__metadata__"});
  expect_io_error(
      [&] {
        save_safetensors(dir.file("x.safetensors"), {{"bad\xff", array(1.0f)}});
      },
      {"[save_safetensors]", "UTF-8"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("x.safetensors")));
}

}  // namespace
}  // namespace alloy::io::test
