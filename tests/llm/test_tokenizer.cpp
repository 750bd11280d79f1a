// Tokenizers from GGUF metadata against llama.cpp's test vectors in ../shared/data/tokenizers:
// each ggml-vocab-<name>.gguf.inp string (split exactly as test-tokenizer-0 splits it) must
// encode to its .out line (no BOS, special-token parsing off), and decode back to itself.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../test_data.h"

#include "alloy/io/gguf.h"
#include "alloy/llm/tokenizer/tokenizer.h"

using alloy::llm::StreamingDecoder;
using alloy::llm::Tokenizer;
using alloy::llm::TokenType;
namespace io = alloy::io;

namespace {

using alloy::test::read_text;
std::string data_dir() { return alloy::test::test_data_dir(); }

std::string vocab_path(const std::string& name) {
  return data_dir() + "/tokenizers/ggml-vocab-" + name + ".gguf";
}


// test-tokenizer-0 cuts on "\n__ggml_vocab_test__\n": the newline before a separator belongs
// to the separator, so "\n" cases are written as an extra blank line.
std::vector<std::string> read_inputs(const std::string& path) {
  const std::string raw = read_text(path), sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      out.push_back(raw.substr(pos));
      break;
    }
    out.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  return out;
}

std::vector<std::vector<int32_t>> read_outputs(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::vector<int32_t>> out;
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    int32_t id;
    while (ls >> id) ids.push_back(id);
    out.push_back(std::move(ids));
  }
  return out;
}

std::string ids_to_string(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return s;
}

// Loading a vocabulary takes a moment; each is read once per test binary.
const Tokenizer& vocab(const std::string& name) {
  static std::map<std::string, Tokenizer> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    io::GGUFFile f = io::load_gguf(vocab_path(name), /*load_tensors=*/false);
    it = cache.emplace(name, Tokenizer::from_gguf_metadata(f.metadata)).first;
  }
  return it->second;
}

// The first of the named vocabularies (with its .inp/.out test vectors) that is absent, or "".
std::string missing_vocab(std::initializer_list<const char*> names) {
  for (const char* n : names)
    for (const char* ext : {"", ".inp", ".out"})
      if (!std::filesystem::exists(vocab_path(n) + ext)) return vocab_path(n) + ext;
  return "";
}

#define SKIP_WITHOUT_DATA(...)                                                               \
  if (std::string missing = missing_vocab({__VA_ARGS__}); !missing.empty())                 \
  GTEST_SKIP() << "test data not found: " << missing << " (set ALLOY_TEST_DATA or provide ../shared/data)"

class VocabTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VocabTest, EncodesEveryCase) {
  const std::string name = GetParam();
  SKIP_WITHOUT_DATA(name.c_str());
  const Tokenizer& tok = vocab(name);
  auto inputs = read_inputs(vocab_path(name) + ".inp");
  auto outputs = read_outputs(vocab_path(name) + ".out");
  ASSERT_FALSE(inputs.empty()) << name;
  ASSERT_EQ(inputs.size(), outputs.size()) << name;
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(ids_to_string(tok.encode(inputs[i])), ids_to_string(outputs[i]))
        << name << " case " << i << ": \"" << inputs[i] << "\"";
  }
}

TEST_P(VocabTest, DecodeInvertsEncode) {
  const std::string name = GetParam();
  SKIP_WITHOUT_DATA(name.c_str());
  const Tokenizer& tok = vocab(name);
  auto inputs = read_inputs(vocab_path(name) + ".inp");
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(tok.decode(tok.encode(inputs[i])), inputs[i]) << name << " case " << i;
    // With BOS/EOS added the control tokens render as nothing.
    EXPECT_EQ(tok.decode(tok.encode(inputs[i], /*add_special=*/true)), inputs[i])
        << name << " case " << i << " with special tokens";
  }
}

TEST_P(VocabTest, StreamingEqualsWholeDecode) {
  const std::string name = GetParam();
  SKIP_WITHOUT_DATA(name.c_str());
  const Tokenizer& tok = vocab(name);
  for (const std::string& s : read_inputs(vocab_path(name) + ".inp")) {
    StreamingDecoder d(tok);
    std::string streamed;
    for (int32_t id : tok.encode(s)) {
      std::string part = d.push(id);
      EXPECT_EQ(alloy::llm::utf8_incomplete_tail(part), 0u) << name << ": \"" << s << "\"";
      streamed += part;
    }
    streamed += d.flush();
    EXPECT_EQ(streamed, s) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, VocabTest,
                         ::testing::Values("llama-spm", "llama-bpe", "qwen2", "gpt-2", "phi-3"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

TEST(Tokenizer, MetadataOfKnownVocabularies) {
  SKIP_WITHOUT_DATA("llama-spm", "llama-bpe", "phi-3", "qwen2");
  EXPECT_EQ(vocab("llama-spm").bos_id(), 1);
  EXPECT_EQ(vocab("llama-spm").eos_id(), 2);
  EXPECT_EQ(vocab("llama-bpe").bos_id(), 128000);
  EXPECT_EQ(vocab("llama-bpe").eos_id(), 128001);
  EXPECT_EQ(vocab("phi-3").eos_id(), 32000);
  EXPECT_EQ(vocab("qwen2").pre(), "qwen2");
}

TEST(Tokenizer, SpecialTokensOnlyWhenParsed) {
  SKIP_WITHOUT_DATA("llama-spm", "llama-bpe", "gpt-2", "qwen2");
  const Tokenizer& spm = vocab("llama-spm");
  auto plain = spm.encode("<s>Hi");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0) << ids_to_string(plain);
  auto parsed = spm.encode("<s>Hi", false, /*parse_special=*/true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed[0], 1);
  // Text after a special token gets the SPM space prefix again, as at the start.
  EXPECT_EQ(std::vector<int32_t>(parsed.begin() + 1, parsed.end()), spm.encode("Hi"));
  EXPECT_EQ(spm.encode("Hi", /*add_special=*/true)[0], 1);
  EXPECT_EQ(vocab("llama-bpe").encode("Hi", true).front(), 128000);
  EXPECT_EQ(vocab("gpt-2").encode("Hi", true), vocab("gpt-2").encode("Hi"));  // adds nothing

  const Tokenizer& qwen = vocab("qwen2");
  auto q = qwen.encode("<|im_start|>user\nhi<|im_end|>", false, true);
  ASSERT_GE(q.size(), 3u);
  EXPECT_EQ(q.front(), 151644);
  EXPECT_EQ(q.back(), 151645);
  EXPECT_EQ(qwen.decode(q), "user\nhi");  // control tokens render as nothing
  EXPECT_EQ(qwen.token_piece(151644, /*special=*/true), "<|im_start|>");
  auto q_plain = qwen.encode("<|im_start|>");
  EXPECT_EQ(std::count(q_plain.begin(), q_plain.end(), 151644), 0);
  EXPECT_EQ(qwen.decode(q_plain), "<|im_start|>");
  // User-defined tokens are whole tokens even with special parsing off (llama.cpp's rule).
  EXPECT_EQ(qwen.token_type(151646), TokenType::user_defined);
  EXPECT_EQ(qwen.encode("a[PAD151646]"), (std::vector<int32_t>{64, 151646}));
}

TEST(StreamingDecoder, HoldsBackSplitEmoji) {
  SKIP_WITHOUT_DATA("llama-spm", "gpt-2");
  const Tokenizer& tok = vocab("llama-spm");
  const std::string llama = "\xF0\x9F\xA6\x99";  // U+1F999, spelled with four byte tokens
  auto ids = tok.encode("a" + llama);
  ASSERT_GE(ids.size(), 4u);
  std::vector<int32_t> bytes(ids.end() - 4, ids.end());
  for (int32_t id : bytes) EXPECT_EQ(tok.token_type(id), TokenType::byte) << ids_to_string(ids);
  StreamingDecoder d(tok);
  std::string text;
  for (size_t i = 0; i + 4 < ids.size(); ++i) text += d.push(ids[i]);
  EXPECT_EQ(text, "a");
  EXPECT_EQ(d.push(bytes[0]), "");
  EXPECT_EQ(d.push(bytes[1]), "");
  EXPECT_EQ(d.push(bytes[2]), "");
  EXPECT_EQ(d.push(bytes[3]), llama);
  EXPECT_EQ(d.flush(), "");

  // An incomplete sequence comes out on flush, as it is.
  StreamingDecoder d2(tok);
  EXPECT_EQ(d2.push(bytes[0]), "");
  EXPECT_EQ(d2.push(bytes[1]), "");
  EXPECT_EQ(d2.flush(), llama.substr(0, 2));

  // Byte-level BPE splits the same character over tokens too.
  const Tokenizer& gpt2 = vocab("gpt-2");
  auto g = gpt2.encode(llama);
  ASSERT_GE(g.size(), 2u) << ids_to_string(g);
  StreamingDecoder d3(gpt2);
  std::string streamed;
  for (size_t i = 0; i + 1 < g.size(); ++i) streamed += d3.push(g[i]);
  EXPECT_EQ(streamed, "");
  EXPECT_EQ(d3.push(g.back()), llama);
}

std::map<std::string, io::GGUFValue> tiny_bpe(const std::string& pre) {
  std::map<std::string, io::GGUFValue> md;
  md["tokenizer.ggml.model"] = std::string("gpt2");
  md["tokenizer.ggml.tokens"] = std::vector<std::string>{"a", "b", "ab"};
  md["tokenizer.ggml.merges"] = std::vector<std::string>{"a b"};
  md["tokenizer.ggml.pre"] = pre;
  return md;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no std::invalid_argument";
}

TEST(Tokenizer, Errors) {
  auto unknown_pre = error_of([] { Tokenizer::from_gguf_metadata(tiny_bpe("xyz")); });
  EXPECT_NE(unknown_pre.find("[tokenizer] unknown pre-tokenizer 'xyz'"), std::string::npos)
      << unknown_pre;

  auto md = tiny_bpe("gpt-2");
  md["tokenizer.ggml.model"] = std::string("wordpiece");
  auto unknown_model = error_of([&] { Tokenizer::from_gguf_metadata(md); });
  EXPECT_NE(unknown_model.find("'wordpiece'"), std::string::npos) << unknown_model;

  md = tiny_bpe("gpt-2");
  md.erase("tokenizer.ggml.merges");
  auto no_merges = error_of([&] { Tokenizer::from_gguf_metadata(md); });
  EXPECT_NE(no_merges.find("tokenizer.ggml.merges"), std::string::npos) << no_merges;

  md = tiny_bpe("gpt-2");
  md.erase("tokenizer.ggml.tokens");
  auto no_tokens = error_of([&] { Tokenizer::from_gguf_metadata(md); });
  EXPECT_NE(no_tokens.find("tokenizer.ggml.tokens"), std::string::npos) << no_tokens;

  md = tiny_bpe("gpt-2");
  md["tokenizer.ggml.model"] = std::string("llama");
  auto no_scores = error_of([&] { Tokenizer::from_gguf_metadata(md); });
  EXPECT_NE(no_scores.find("tokenizer.ggml.scores"), std::string::npos) << no_scores;

  md = tiny_bpe("gpt-2");
  md.erase("tokenizer.ggml.model");
  auto no_model = error_of([&] { Tokenizer::from_gguf_metadata(md); });
  EXPECT_NE(no_model.find("tokenizer.ggml.model"), std::string::npos) << no_model;

  Tokenizer t = Tokenizer::from_gguf_metadata(tiny_bpe("gpt-2"));
  EXPECT_EQ(t.encode("abab"), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(t.decode({2, 0}), "aba");
  EXPECT_THROW(t.decode({3}), std::out_of_range);
}

// Hugging Face tokenizer.json: stories260K-hf's reference prompts encode (no BOS: its
// post-processor adds none) to the reference input_ids and decode back.
std::string hf_dir(const std::string& name) { return data_dir() + "/hf/" + name; }

TEST(TokenizerJson, Stories260KReferencePrompts) {
  const std::string dir = hf_dir("stories260K-hf");
  if (!std::filesystem::exists(dir + "/tokenizer.json"))
    GTEST_SKIP() << "test data not found: " << dir << " (set ALLOY_TEST_DATA or provide ../shared/data)";
  Tokenizer t = Tokenizer::from_tokenizer_json(dir + "/tokenizer.json");
  EXPECT_EQ(t.model(), alloy::llm::TokenizerModel::spm);
  EXPECT_EQ(t.vocab_size(), 512);
  auto ref = nlohmann::json::parse(read_text(dir + "/reference.json"));
  int cases = 0;
  for (const auto& c : ref) {
    if (!c.contains("prompt")) continue;
    ++cases;
    const std::string prompt = c["prompt"].get<std::string>();
    const auto expected = c["input_ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(t.encode(prompt), expected) << prompt;
    EXPECT_EQ(t.encode(prompt, /*add_special=*/true), expected) << "no BOS expected: " << prompt;
    EXPECT_EQ(t.decode(expected), prompt);
  }
  EXPECT_GT(cases, 0);

  // The tiny-* models ship the same vocabulary; where it is identical, ids must agree.
  auto base = nlohmann::json::parse(read_text(dir + "/tokenizer.json"));
  for (const char* name : {"tiny-llama", "tiny-mistral", "tiny-qwen2", "tiny-qwen3", "tiny-phi3",
                           "tiny-gemma2", "tiny-gemma3"}) {
    const std::string path = hf_dir(name) + "/tokenizer.json";
    if (!std::filesystem::exists(path)) continue;
    Tokenizer other = Tokenizer::from_tokenizer_json(path);
    auto j = nlohmann::json::parse(read_text(path));
    if (j["model"]["vocab"] != base["model"]["vocab"] || j["model"]["merges"] != base["model"]["merges"])
      continue;  // a different vocabulary: nothing to compare against
    for (const auto& c : ref) {
      if (c.contains("prompt"))
        EXPECT_EQ(other.encode(c["prompt"].get<std::string>()), t.encode(c["prompt"].get<std::string>()))
            << name;
    }
  }
}

TEST(TokenizerJson, ByteLevelAndErrors) {
  // A tiny byte-level BPE: "a", "b", "ab" with merge a+b; the GPT-2 regex via ByteLevel.
  const std::string bl = R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "\u0120": 3},
      "merges": [["a", "b"]]}, "normalizer": null,
      "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
      "added_tokens": [{"id": 4, "content": "<|end|>", "special": true}]})";
  Tokenizer t = Tokenizer::from_tokenizer_json(bl);
  EXPECT_EQ(t.model(), alloy::llm::TokenizerModel::bpe);
  EXPECT_EQ(t.pre(), "gpt-2");
  EXPECT_EQ(t.encode("abab"), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(t.encode("ab ab"), (std::vector<int32_t>{2, 3, 2}));
  EXPECT_EQ(t.encode("ab<|end|>", false, true), (std::vector<int32_t>{2, 4}));
  EXPECT_EQ(t.decode({2, 3, 2}), "ab ab");

  // Llama 3's Split regex selects the llama-bpe pre-tokenizer.
  auto j = nlohmann::json::parse(bl);
  j["pre_tokenizer"] = nlohmann::json::parse(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false},
      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})");
  EXPECT_EQ(Tokenizer::from_tokenizer_json(j.dump()).pre(), "llama-bpe");

  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
  auto bad_regex = error_of([&] { Tokenizer::from_tokenizer_json(j.dump()); });
  EXPECT_NE(bad_regex.find("'\\w+'"), std::string::npos) << bad_regex;

  j = nlohmann::json::parse(bl);
  j["model"]["type"] = "WordPiece";
  auto bad_model = error_of([&] { Tokenizer::from_tokenizer_json(j.dump()); });
  EXPECT_NE(bad_model.find("[tokenizer]"), std::string::npos) << bad_model;
  EXPECT_NE(bad_model.find("'WordPiece'"), std::string::npos) << bad_model;

  j = nlohmann::json::parse(bl);
  j["normalizer"] = nlohmann::json::parse(R"({"type": "NFKC"})");
  auto bad_norm = error_of([&] { Tokenizer::from_tokenizer_json(j.dump()); });
  EXPECT_NE(bad_norm.find("'NFKC'"), std::string::npos) << bad_norm;
}

}  // namespace
