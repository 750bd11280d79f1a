// Real files from ../shared/data (see its SOURCES.md): the stories260K GGUF and its Hugging
// Face safetensors twin, the quantized synth-small GGUFs against their reference.json tensor
// lists, and a vocabulary-only GGUF. Skipped, with a message, where the data is absent.
#include <nlohmann/json.hpp>

#include "io_test_util.h"

namespace alloy::io::test {
namespace {

std::string data_file(const std::string& rel) {
  std::string dir = test_data_dir();
  std::string path = dir + "/" + rel;
  if (dir.empty() || !std::filesystem::exists(path)) return "";
  return path;
}

#define REQUIRE_DATA(var, rel)                                                       \
  std::string var = data_file(rel);                                                  \
  if (var.empty()) {                                                                 \
    GTEST_SKIP() << "test data " << (rel) << " not found under '" << test_data_dir() \
                 << "' (set ALLOY_TEST_DATA to the shared data folder)";             \
  }

int64_t int_of(const GGUFFile& f, const std::string& key) {
  const GGUFValue* v = f.find(key);
  if (!v) throw std::runtime_error("missing " + key);
  return gguf_to_int(*v).value();
}

TEST(RealData, Stories260KGGUF) {
  REQUIRE_DATA(path, "models/stories260K.gguf");
  GGUFFile f = load_gguf(path);
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.alignment, 32u);
  EXPECT_EQ(std::get<std::string>(*f.find("general.architecture")), "llama");
  EXPECT_EQ(int_of(f, "llama.context_length"), 128);
  EXPECT_EQ(int_of(f, "llama.embedding_length"), 64);
  EXPECT_EQ(int_of(f, "llama.feed_forward_length"), 172);
  EXPECT_EQ(int_of(f, "llama.block_count"), 5);
  EXPECT_EQ(int_of(f, "llama.attention.head_count"), 8);
  EXPECT_EQ(int_of(f, "llama.attention.head_count_kv"), 4);
  EXPECT_EQ(int_of(f, "tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(int_of(f, "tokenizer.ggml.eos_token_id"), 2);
  EXPECT_NEAR(gguf_to_double(*f.find("llama.attention.layer_norm_rms_epsilon")).value(), 1e-5,
              1e-9);
  const auto& tokens = std::get<std::vector<std::string>>(*f.find("tokenizer.ggml.tokens"));
  ASSERT_EQ(tokens.size(), 512u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[2], "</s>");
  EXPECT_EQ(std::get<std::vector<float>>(*f.find("tokenizer.ggml.scores")).size(), 512u);
  EXPECT_EQ(std::get<std::vector<int32_t>>(*f.find("tokenizer.ggml.token_type")).size(), 512u);

  EXPECT_EQ(f.tensor_infos.size(), 48u);
  EXPECT_EQ(f.tensors.size(), 48u);
  const array& emb = f.tensors.at("token_embd.weight");
  EXPECT_EQ(emb.shape(), (Shape{512, 64}));
  EXPECT_EQ(emb.dtype(), float32);
  EXPECT_EQ(f.tensor_infos[0].name, "token_embd.weight");
  EXPECT_EQ(f.tensor_infos[0].ne, (std::vector<uint64_t>{64, 512}));
  EXPECT_EQ(f.tensor_infos[0].ggml_type, uint32_t(GGMLType::F32));
  EXPECT_EQ(f.tensors.at("blk.0.ffn_down.weight").shape(), (Shape{64, 172}));
  EXPECT_EQ(f.tensors.at("output_norm.weight").shape(), (Shape{64}));
  // Aligned tensors wrap the mapping: no copy.
  array emb_view = emb;
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(emb_view.data<float>()),
            f.tensor_data(f.tensor_infos[0]));
  // Every tensor ends where the next (aligned) begins; the last ends the file.
  uint64_t end = 0;
  for (const auto& t : f.tensor_infos) {
    EXPECT_EQ(t.offset, (end + 31) / 32 * 32) << t.name;
    end = t.offset + t.nbytes;
  }
  EXPECT_EQ(end, f.tensor_data_size);
}

TEST(RealData, Stories260KSafetensorsMatchesGGUF) {
  REQUIRE_DATA(st_path, "hf/stories260K-hf/model.safetensors");
  REQUIRE_DATA(gguf_path, "models/stories260K.gguf");
  SafetensorsFile st = load_safetensors(st_path);
  EXPECT_EQ(st.metadata.at("format"), "pt");
  EXPECT_EQ(st.tensors.size(), 48u);
  EXPECT_EQ(st.tensors.at("model.embed_tokens.weight").shape(), (Shape{512, 64}));
  EXPECT_EQ(st.tensors.at("lm_head.weight").shape(), (Shape{512, 64}));
  EXPECT_EQ(st.tensors.at("model.norm.weight").shape(), (Shape{64}));
  for (int l = 0; l < 5; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    EXPECT_EQ(st.tensors.at(p + "self_attn.q_proj.weight").shape(), (Shape{64, 64}));
    EXPECT_EQ(st.tensors.at(p + "self_attn.k_proj.weight").shape(), (Shape{32, 64}));
    EXPECT_EQ(st.tensors.at(p + "mlp.down_proj.weight").shape(), (Shape{64, 172}));
    EXPECT_EQ(st.tensors.at(p + "mlp.gate_proj.weight").shape(), (Shape{172, 64}));
    EXPECT_EQ(st.tensors.at(p + "input_layernorm.weight").dtype(), float32);
  }
  // Tensors the GGUF conversion did not permute are identical (q/k are in another layout).
  GGUFFile g = load_gguf(gguf_path);
  std::vector<std::pair<std::string, std::string>> same = {
      {"model.embed_tokens.weight", "token_embd.weight"},
      {"lm_head.weight", "output.weight"},
      {"model.norm.weight", "output_norm.weight"},
      {"model.layers.0.mlp.down_proj.weight", "blk.0.ffn_down.weight"},
      {"model.layers.4.mlp.up_proj.weight", "blk.4.ffn_up.weight"},
      {"model.layers.2.self_attn.v_proj.weight", "blk.2.attn_v.weight"},
      {"model.layers.3.self_attn.o_proj.weight", "blk.3.attn_output.weight"},
  };
  for (const auto& [hf, gg] : same) {
    SCOPED_TRACE(hf);
    EXPECT_TRUE(same_array(st.tensors.at(hf), g.tensors.at(gg)));
  }
}

TEST(RealData, QuantizedGGUFsMatchTheirReferenceTensorLists) {
  std::string dir = test_data_dir() + "/quant";
  if (test_data_dir().empty() || !std::filesystem::exists(dir)) {
    GTEST_SKIP() << "test data quant/ not found under '" << test_data_dir()
                 << "' (set ALLOY_TEST_DATA to the shared data folder)";
  }
  int files = 0;
  std::set<std::string> types_seen;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string path = entry.path().string();
    if (entry.path().extension() != ".gguf") continue;
    SCOPED_TRACE(path);
    std::string ref_path = path.substr(0, path.size() - 5) + ".reference.json";
    auto ref = nlohmann::json::parse(std::ifstream(ref_path));
    GGUFFile f = load_gguf(path);
    ++files;
    EXPECT_EQ(std::get<std::string>(*f.find("general.architecture")), "llama");
    EXPECT_EQ(int_of(f, "llama.embedding_length"), 256);
    EXPECT_EQ(int_of(f, "llama.block_count"), 2);
    EXPECT_EQ(std::get<std::vector<std::string>>(*f.find("tokenizer.ggml.tokens")).size(), 512u);
    const auto& tensors = ref["tensors"];
    EXPECT_EQ(f.tensor_infos.size(), tensors.size());
    std::vector<const GGUFTensorInfo*> by_offset;
    for (const GGUFTensorInfo& t : f.tensor_infos) {
      SCOPED_TRACE(t.name);
      ASSERT_TRUE(tensors.contains(t.name));
      const auto& r = tensors[t.name];
      EXPECT_EQ(ggml_type_name(t.ggml_type), r["type"].get<std::string>());
      EXPECT_EQ(t.ne, r["shape_gguf_ne"].get<std::vector<uint64_t>>());
      types_seen.insert(ggml_type_name(t.ggml_type));
      const GGMLTypeInfo* info = ggml_type_info(t.ggml_type);
      ASSERT_NE(info, nullptr);
      uint64_t count = 1;
      for (uint64_t d : t.ne) count *= d;
      EXPECT_EQ(t.nbytes, count / info->block_size * info->type_size);
      // Plain tensors are arrays; quantized ones are only listed.
      EXPECT_EQ(f.tensors.count(t.name) == 1, !info->quantized);
      by_offset.push_back(&t);
    }
    // The type table's sizes tile the data section exactly: each tensor ends where the next
    // aligned one begins, and the last ends the file (up to padding).
    std::sort(by_offset.begin(), by_offset.end(),
              [](auto* a, auto* b) { return a->offset < b->offset; });
    uint64_t end = 0;
    for (const auto* t : by_offset) {
      EXPECT_EQ(t->offset, (end + f.alignment - 1) / f.alignment * f.alignment) << t->name;
      end = t->offset + t->nbytes;
    }
    EXPECT_LE(end, f.tensor_data_size);
    EXPECT_LT(f.tensor_data_size - end, f.alignment);
    // F32 norm weights: the reference sums match the loaded arrays.
    for (const auto& [name, a] : f.tensors) {
      double s = sum(astype(a, float64)).item<double>();
      EXPECT_NEAR(s, tensors[name]["sum_f64"].get<double>(), 1e-6 * (1 + std::abs(s))) << name;
    }
  }
  EXPECT_GE(files, 12);
  for (const char* t : {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K",
                        "Q6_K", "IQ4_NL", "IQ4_XS", "F16", "F32"}) {
    EXPECT_TRUE(types_seen.count(t)) << t;
  }
}

TEST(RealData, VocabularyOnlyGGUF) {
  REQUIRE_DATA(path, "tokenizers/ggml-vocab-llama-bpe.gguf");
  GGUFFile f = load_gguf(path);
  EXPECT_TRUE(f.tensor_infos.empty());
  EXPECT_EQ(std::get<std::string>(*f.find("tokenizer.ggml.model")), "gpt2");
  EXPECT_EQ(std::get<std::vector<std::string>>(*f.find("tokenizer.ggml.tokens")).size(), 128256u);
  EXPECT_EQ(std::get<std::vector<std::string>>(*f.find("tokenizer.ggml.merges")).size(), 280147u);
  EXPECT_EQ(int_of(f, "tokenizer.ggml.bos_token_id"), 128000);
}

}  // namespace
}  // namespace alloy::io::test
