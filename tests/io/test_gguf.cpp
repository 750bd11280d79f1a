// GGUF: round trips of tensors and of every metadata value type, the ggml type table, files
// with quantized tensors, and the hostile-header errors.
#include "io_test_util.h"

namespace alloy::io::test {
namespace {

std::map<std::string, GGUFValue> every_value_type() {
  std::map<std::string, GGUFValue> md;
  md["general.architecture"] = std::string("llama");
  md["v.u8"] = uint8_t(250);
  md["v.i8"] = int8_t(-120);
  md["v.u16"] = uint16_t(65535);
  md["v.i16"] = int16_t(-32768);
  md["v.u32"] = uint32_t(4294967295u);
  md["v.i32"] = int32_t(-7);
  md["v.u64"] = uint64_t(18446744073709551615ull);
  md["v.i64"] = int64_t(-9223372036854775807ll - 1);
  md["v.f32"] = 0.1f;
  md["v.f64"] = 1e300;
  md["v.bool"] = true;
  md["v.str"] = std::string("h\u00e9llo\0world", 12);
  md["v.empty_str"] = std::string();
  md["a.u8"] = std::vector<uint8_t>{1, 2, 255};
  md["a.i8"] = std::vector<int8_t>{-1, 2};
  md["a.u16"] = std::vector<uint16_t>{1, 65535};
  md["a.i16"] = std::vector<int16_t>{-5};
  md["a.u32"] = std::vector<uint32_t>{7, 8, 9};
  md["a.i32"] = std::vector<int32_t>{-1, 0, 1};
  md["a.u64"] = std::vector<uint64_t>{uint64_t(1) << 63};
  md["a.i64"] = std::vector<int64_t>{-3, 3};
  md["a.f32"] = std::vector<float>{0.5f, -1.25f};
  md["a.f64"] = std::vector<double>{3.5};
  md["a.bool"] = std::vector<bool>{true, false, true};
  md["a.str"] = std::vector<std::string>{"<unk>", "", "\xe2\x96\x81the"};
  md["a.empty"] = std::vector<float>{};
  md["a.nested"] = std::vector<GGUFValue>{std::vector<int32_t>{1, 2}, std::vector<std::string>{"x"},
                                          std::vector<GGUFValue>{std::vector<bool>{false}},
                                          std::vector<GGUFValue>{}};
  return md;
}

TEST(GGUF, RoundTripTensorsAndMetadata) {
  TempDir dir;
  std::unordered_map<std::string, array> tensors = {
      {"f32", sample_array(float32, {4, 6})},
      {"f16", sample_array(float16, {3, 2, 5})},
      {"bf16", sample_array(bfloat16, {7})},
      {"f32.t", transpose(sample_array(float32, {3, 5}, 1))},
      {"bf16.s", slice(sample_array(bfloat16, {6, 4}, 2), {1, 0}, {6, 4}, {2, 1})},
      {"f64", sample_array(float64, {2, 2})},
      {"i8", sample_array(int8, {5})},
      {"i16", sample_array(int16, {1, 3})},
      {"i32", sample_array(int32, {2, 1, 1, 2})},
      {"i64", sample_array(int64, {3})},
      {"scalar", array(1.5f)},
      {"empty", sample_array(float32, {0, 3})},
  };
  auto md = every_value_type();
  save_gguf(dir.file("t.gguf"), tensors, md);
  auto bytes = read_bytes(dir.file("t.gguf"));
  for (int from_memory = 0; from_memory < 2; ++from_memory) {
    GGUFFile f = from_memory ? load_gguf_from_memory(bytes.data(), bytes.size(), "t.gguf")
                             : load_gguf(dir.file("t.gguf"));
    EXPECT_EQ(f.version, 3u);
    EXPECT_EQ(f.alignment, 32u);
    ASSERT_NE(f.find("general.alignment"), nullptr);
    EXPECT_TRUE(*f.find("general.alignment") == GGUFValue(uint32_t(32)));
    EXPECT_EQ(f.metadata.size(), md.size() + 1);
    for (const auto& [k, v] : md) {
      SCOPED_TRACE(k);
      ASSERT_NE(f.find(k), nullptr);
      EXPECT_TRUE(*f.find(k) == v)
          << gguf_value_to_string(*f.find(k)) << " vs " << gguf_value_to_string(v);
    }
    ASSERT_EQ(f.tensors.size(), tensors.size());
    ASSERT_EQ(f.tensor_infos.size(), tensors.size());
    for (const auto& [name, a] : tensors) {
      SCOPED_TRACE(name);
      EXPECT_TRUE(same_array(a, f.tensors.at(name)));
    }
    // Sorted names; offsets aligned; ne is the reversed shape; raw data matches the tensor.
    for (size_t i = 0; i < f.tensor_infos.size(); ++i) {
      const GGUFTensorInfo& t = f.tensor_infos[i];
      if (i) {
        EXPECT_LT(f.tensor_infos[i - 1].name, t.name);
      }
      EXPECT_EQ(t.offset % 32, 0u);
      const array& a = tensors.at(t.name);
      std::vector<uint64_t> ne(a.shape().rbegin(), a.shape().rend());
      EXPECT_EQ(t.ne, ne);
      EXPECT_EQ(t.nbytes, a.nbytes());
      auto eb = element_bytes(a);
      EXPECT_TRUE(eb.empty() || std::memcmp(f.tensor_data(t), eb.data(), eb.size()) == 0);
    }
    EXPECT_EQ(f.tensor_infos[0].name, "bf16");
    EXPECT_EQ(f.tensor_infos[0].ggml_type, uint32_t(GGMLType::BF16));
  }
  // load_tensors = false: infos and raw data, no arrays.
  GGUFFile f = load_gguf(dir.file("t.gguf"), false);
  EXPECT_TRUE(f.tensors.empty());
  EXPECT_EQ(f.tensor_infos.size(), tensors.size());
  EXPECT_NE(f.mapping, nullptr);
}

TEST(GGUF, SaveErrors) {
  TempDir dir;
  expect_io_error(
      [&] {
        save_gguf(dir.file("u.gguf"), {{"w", sample_array(uint8, {2})}});
      },
      {"[save_gguf]", "u.gguf", "'w'", "uint8"});
  std::map<std::string, GGUFValue> md = {{"bad", std::vector<GGUFValue>{GGUFValue(1)}}};
  expect_io_error([&] { save_gguf(dir.file("u.gguf"), {}, md); },
                  {"[save_gguf]", "u.gguf", "'bad'", "non-array"});
  EXPECT_FALSE(std::filesystem::exists(dir.file("u.gguf")));
}

TEST(GGUF, TypeTable) {
  struct Row {
    GGMLType t;
    const char* name;
    uint32_t block, size;
  };
  for (Row r : std::vector<Row>{{GGMLType::F32, "F32", 1, 4},
                                {GGMLType::F16, "F16", 1, 2},
                                {GGMLType::Q4_0, "Q4_0", 32, 18},
                                {GGMLType::Q4_1, "Q4_1", 32, 20},
                                {GGMLType::Q5_0, "Q5_0", 32, 22},
                                {GGMLType::Q5_1, "Q5_1", 32, 24},
                                {GGMLType::Q8_0, "Q8_0", 32, 34},
                                {GGMLType::Q8_1, "Q8_1", 32, 36},
                                {GGMLType::Q2_K, "Q2_K", 256, 84},
                                {GGMLType::Q3_K, "Q3_K", 256, 110},
                                {GGMLType::Q4_K, "Q4_K", 256, 144},
                                {GGMLType::Q5_K, "Q5_K", 256, 176},
                                {GGMLType::Q6_K, "Q6_K", 256, 210},
                                {GGMLType::Q8_K, "Q8_K", 256, 292},
                                {GGMLType::IQ4_NL, "IQ4_NL", 32, 18},
                                {GGMLType::IQ4_XS, "IQ4_XS", 256, 136},
                                {GGMLType::BF16, "BF16", 1, 2}}) {
    const GGMLTypeInfo* info = ggml_type_info(uint32_t(r.t));
    ASSERT_NE(info, nullptr) << r.name;
    EXPECT_STREQ(info->name, r.name);
    EXPECT_EQ(info->block_size, r.block) << r.name;
    EXPECT_EQ(info->type_size, r.size) << r.name;
  }
  for (uint32_t removed : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 40u, 1000u}) {
    EXPECT_EQ(ggml_type_info(removed), nullptr) << removed;
  }
  EXPECT_EQ(ggml_type_name(14), "Q6_K");
  EXPECT_EQ(ggml_type_name(77), "unknown(77)");
}

TEST(GGUF, ValueHelpers) {
  EXPECT_EQ(gguf_to_int(GGUFValue(uint32_t(7))), 7);
  EXPECT_EQ(gguf_to_int(GGUFValue(int8_t(-3))), -3);
  EXPECT_EQ(gguf_to_int(GGUFValue(true)), 1);
  EXPECT_EQ(gguf_to_int(GGUFValue(uint64_t(1) << 63)), std::nullopt);
  EXPECT_EQ(gguf_to_int(GGUFValue(1.5f)), std::nullopt);
  EXPECT_EQ(gguf_to_double(GGUFValue(1.5f)), 1.5);
  EXPECT_EQ(gguf_to_double(GGUFValue(std::string("x"))), std::nullopt);
  EXPECT_EQ(gguf_value_type(GGUFValue(std::vector<std::string>{})), GGUFValueType::array);
  EXPECT_EQ(gguf_value_type(GGUFValue(uint16_t(1))), GGUFValueType::uint16);
  EXPECT_EQ(gguf_value_to_string(GGUFValue(std::vector<int32_t>{1, 2, 3}), 2),
            "[1, 2, ... (3 elements)]");
  EXPECT_EQ(gguf_value_to_string(GGUFValue(std::string("a\"b"))), "\"a\\\"b\"");
}

// ---------- hand-made files ----------

// A GGUF with one metadata pair (added by the caller) and the given tensor infos.
struct GGUFBuilder {
  Bytes b;
  uint64_t n_tensors = 0, n_kv = 0;
  Bytes kv, infos, data;
  uint32_t version = 3;

  GGUFBuilder& add_kv_raw(const std::string& key, uint32_t type, const Bytes& payload) {
    kv.str(key).u32(type);
    kv.b.insert(kv.b.end(), payload.b.begin(), payload.b.end());
    ++n_kv;
    return *this;
  }
  GGUFBuilder& add_tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type,
                          uint64_t offset) {
    infos.str(name).u32(uint32_t(ne.size()));
    for (uint64_t d : ne) infos.u64(d);
    infos.u32(type).u64(offset);
    ++n_tensors;
    return *this;
  }
  std::vector<uint8_t> build(size_t data_bytes = 0, size_t align = 32) const {
    Bytes out;
    out.raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
    out.b.insert(out.b.end(), kv.b.begin(), kv.b.end());
    out.b.insert(out.b.end(), infos.b.begin(), infos.b.end());
    out.pad_to(align);
    for (size_t i = 0; i < data_bytes; ++i) out.u8(uint8_t(i * 7));
    return out.b;
  }
};

void expect_gguf_error(const std::vector<uint8_t>& file, const std::vector<std::string>& parts) {
  std::vector<std::string> all = {"[load_gguf]", "bad.gguf"};
  all.insert(all.end(), parts.begin(), parts.end());
  expect_io_error([&] { load_gguf_from_memory(file.data(), file.size(), "bad.gguf"); }, all);
}

TEST(GGUF, QuantizedTensorsAreListedWithTheirSizes) {
  GGUFBuilder g;
  g.add_kv_raw("general.architecture", 8, Bytes().str("llama"));
  g.add_tensor("q4k", {512, 3}, uint32_t(GGMLType::Q4_K), 0);  // 2 blocks x 3 rows x 144
  g.add_tensor("q8", {64}, uint32_t(GGMLType::Q8_0), 864);     // 2 blocks x 34
  g.add_tensor("f32", {2, 2}, uint32_t(GGMLType::F32), 960);
  auto file = g.build(976);
  GGUFFile f = load_gguf_from_memory(file.data(), file.size(), "q.gguf");
  ASSERT_EQ(f.tensor_infos.size(), 3u);
  EXPECT_EQ(f.tensor_infos[0].nbytes, 864u);
  EXPECT_EQ(f.tensor_infos[1].nbytes, 68u);
  EXPECT_EQ(f.tensor_infos[2].nbytes, 16u);
  EXPECT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors.at("f32").shape(), (Shape{2, 2}));
  EXPECT_EQ(f.tensor_data_size, 976u);
  EXPECT_EQ(f.tensor_data(f.tensor_infos[1])[0], uint8_t(864 * 7));
}

TEST(GGUF, ReadsVersion2) {
  GGUFBuilder g;
  g.version = 2;
  g.add_kv_raw("general.architecture", 8, Bytes().str("llama"));
  g.add_tensor("w", {3}, uint32_t(GGMLType::I32), 0);
  auto file = g.build(12);
  GGUFFile f = load_gguf_from_memory(file.data(), file.size(), "v2.gguf");
  EXPECT_EQ(f.version, 2u);
  EXPECT_EQ(f.tensors.at("w").dtype(), int32);
  EXPECT_EQ(f.tensors.at("w").shape(), (Shape{3}));
}

TEST(GGUF, VocabularyOnlyFileWithoutTensors) {
  GGUFBuilder g;
  g.add_kv_raw("tokenizer.ggml.tokens", 9, Bytes().u32(8).u64(2).str("a").str("b"));
  auto padded = g.build();
  // The header ends before the next alignment boundary.
  std::vector<uint8_t> file(padded.begin(), padded.end() - 5);
  GGUFFile f = load_gguf_from_memory(file.data(), file.size(), "v.gguf");
  EXPECT_TRUE(f.tensor_infos.empty());
  EXPECT_EQ(f.tensor_data_size, 0u);
}

TEST(GGUF, HostileHeaders) {
  auto base = [] {
    GGUFBuilder g;
    g.add_kv_raw("general.architecture", 8, Bytes().str("llama"));
    return g;
  };
  {
    auto f = base().build();
    f[0] = 'X';
    expect_gguf_error(f, {"magic"});
  }
  for (uint32_t v : {1u, 4u, 0x03000000u}) {
    auto g = base();
    g.version = v;
    expect_gguf_error(g.build(), {v == 1   ? "version 1 is not supported"
                                  : v == 4 ? "unsupported GGUF version 4"
                                           : "big-endian"});
  }
  {
    auto g = base();
    g.n_kv = 1000000000000ull;
    expect_gguf_error(g.build(), {"metadata count 1000000000000 is impossible"});
  }
  {
    auto g = base();
    g.n_tensors = 1000000000000ull;
    expect_gguf_error(g.build(), {"tensor count 1000000000000 is impossible"});
  }
  {
    GGUFBuilder g;
    g.add_kv_raw("k", 8, Bytes().u64(uint64_t(1) << 63).raw("abc"));
    expect_gguf_error(g.build(), {"has length 9223372036854775808"});
  }
  {
    GGUFBuilder g;
    g.add_kv_raw("k", 9, Bytes().u32(8).u64(uint64_t(1) << 60));
    expect_gguf_error(g.build(), {"'k' is an array of 1152921504606846976 elements"});
  }
  {
    Bytes nested;
    for (int i = 0; i < 100; ++i) nested.u32(9).u64(1);
    GGUFBuilder g;
    g.add_kv_raw("deep", 9, nested);
    expect_gguf_error(g.build(), {"'deep'", "deeper than 8"});
  }
  {
    GGUFBuilder g;
    g.add_kv_raw("k", 99, Bytes().u32(0));
    expect_gguf_error(g.build(), {"'k'", "unknown value type 99"});
  }
  {
    GGUFBuilder g;
    g.add_kv_raw("k", 9, Bytes().u32(77).u64(1).u32(0));
    expect_gguf_error(g.build(), {"'k'", "unknown value type 77"});
  }
  {
    GGUFBuilder g;
    g.add_kv_raw("k", 7, Bytes().u8(2));
    expect_gguf_error(g.build(), {"'k'", "bool byte 2"});
  }
  {
    auto g = base();
    g.add_kv_raw("general.architecture", 8, Bytes().str("x"));
    expect_gguf_error(g.build(), {"'general.architecture' appears twice"});
  }
  {
    auto g = base();
    g.add_kv_raw("general.alignment", 4, Bytes().u32(24));
    expect_gguf_error(g.build(), {"alignment 24 is not a power of two"});
    auto h = base();
    h.add_kv_raw("general.alignment", 10, Bytes().u64(32));
    expect_gguf_error(h.build(), {"general.alignment is not a uint32"});
  }
  auto with_tensor = [&](std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
    auto g = base();
    g.add_tensor("w", std::move(ne), type, offset);
    return g;
  };
  expect_gguf_error(with_tensor({1, 1, 1, 1, 1}, 0, 0).build(64), {"'w'", "5 dimensions"});
  expect_gguf_error(with_tensor({4}, 4, 0).build(64), {"'w'", "unknown ggml type 4"});
  expect_gguf_error(with_tensor({4}, 1000, 0).build(64), {"'w'", "unknown ggml type 1000"});
  expect_gguf_error(with_tensor({1ull << 32, 1ull << 32}, 0, 0).build(64),
                    {"'w'", "too many elements"});
  expect_gguf_error(with_tensor({1ull << 62, 2}, 0, 0).build(64), {"'w'", "too many elements"});
  // Found by fuzzing: a zero dim hid a dim above 2^63 (and huge dims overflow strides).
  expect_gguf_error(with_tensor({0, (1ull << 63) + 3}, 0, 0).build(64),
                    {"'w'", "dimension too large for int64"});
  expect_gguf_error(with_tensor({0, 1ull << 40, 1ull << 40}, 0, 0).build(64),
                    {"'w'", "too many elements"});
  expect_gguf_error(with_tensor({1ull << 62}, 0, 0).build(64), {"'w'", "byte size that overflows"});
  expect_gguf_error(with_tensor({33}, uint32_t(GGMLType::Q4_0), 0).build(64),
                    {"'w'", "33", "not a multiple of the Q4_0 block size 32"});
  expect_gguf_error(with_tensor({4}, 0, 8).build(64),
                    {"'w'", "not a multiple of the alignment 32"});
  expect_gguf_error(with_tensor({20}, 0, 0).build(64), {"'w'", "extends past the end"});
  expect_gguf_error(with_tensor({4}, 0, ~uint64_t(31)).build(64), {"'w'", "extends past the end"});
  {
    auto g = base();
    g.add_tensor("a", {16}, 0, 0).add_tensor("b", {4}, 0, 32);
    expect_gguf_error(g.build(128), {"'a' and 'b' overlap"});
    auto h = base();
    h.add_tensor("a", {4}, 0, 0).add_tensor("a", {4}, 0, 32);
    expect_gguf_error(h.build(128), {"tensor 'a' appears twice"});
  }
  {
    auto f = with_tensor({4}, 0, 0).build(16);
    for (size_t cut : {size_t(3), size_t(10), size_t(30), size_t(60), size_t(80)}) {
      SCOPED_TRACE(cut);
      std::vector<uint8_t> t(f.begin(), f.begin() + std::ptrdiff_t(cut));
      try {
        load_gguf_from_memory(t.data(), t.size(), "cut.gguf");
        ADD_FAILURE() << "no io_error";
      } catch (const io_error& e) {
        // A count found impossible for the remaining bytes is reported before the read.
        std::string msg = e.what();
        EXPECT_TRUE(msg.find("truncated") != std::string::npos ||
                    msg.find("impossible") != std::string::npos)
            << msg;
      }
    }
  }
}

}  // namespace
}  // namespace alloy::io::test
