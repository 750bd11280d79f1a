// Loading from a Hugging Face tokenizer.json. Only the "BPE" model is read, in its two common
// shapes: SentencePiece converted to HF (byte_fallback, a normalizer that prepends "▁" and
// replaces " " with "▁", no pre-tokenizer) goes to the SPM path, merging pairs by merge rank;
// GPT-2 style byte-level BPE (a ByteLevel pre-tokenizer, possibly after a Split regex) goes to
// the byte-level path with the matching built-in pre-tokenizer regex.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "alloy/llm/tokenizer/pretokenize.h"
#include "alloy/llm/tokenizer/tokenizer.h"

namespace alloy::llm {

namespace {

using nlohmann::json;

const char* const kSpace = "\xE2\x96\x81";  // U+2581 '▁'

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::invalid_argument("[tokenizer] cannot open '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

json parse(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw std::invalid_argument("[tokenizer] " + what + " is not valid JSON: " + e.what());
  }
}

std::string type_of(const json& j) {
  if (j.is_object() && j.contains("type") && j["type"].is_string()) return j["type"].get<std::string>();
  return j.is_null() ? "null" : j.dump().substr(0, 80);
}

// A Replace/Split pattern: {"String": s} or {"Regex": r}.
bool pattern_is_string(const json& p, const std::string& s) {
  return p.is_object() && p.contains("String") && p["String"] == s;
}

// True for the SentencePiece normalizer: [Prepend "▁", Replace " " -> "▁"] (either order of
// nesting in a Sequence). Throws for anything else that is not null.
bool is_spm_normalizer(const json& n) {
  if (n.is_null()) return false;
  std::vector<json> parts;
  if (type_of(n) == "Sequence") {
    for (const json& x : n.value("normalizers", json::array())) parts.push_back(x);
  } else {
    parts.push_back(n);
  }
  bool prepend = false, replace = false;
  for (const json& p : parts) {
    std::string t = type_of(p);
    if (t == "Prepend" && p.value("prepend", "") == kSpace) {
      prepend = true;
    } else if (t == "Replace" && pattern_is_string(p.value("pattern", json()), " ") &&
               p.value("content", "") == kSpace) {
      replace = true;
    } else {
      throw std::invalid_argument("[tokenizer] unsupported normalizer '" + t +
                                  "' in tokenizer.json (supported: Prepend \"\\u2581\", "
                                  "Replace \" \" -> \"\\u2581\")");
    }
  }
  if (!replace)
    throw std::invalid_argument(
        "[tokenizer] tokenizer.json normalizer does not replace \" \" with \"\\u2581\"");
  (void)prepend;
  return true;
}

// tokenizer.json's Split regexes -> the built-in pre-tokenizer names.
std::string pre_name_for_regex(const std::string& re) {
  static const std::pair<const char*, const char*> known[] = {
      {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
       "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "llama-bpe"},
      {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
       "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "llama-bpe"},
      {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
       "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "qwen2"},
      {"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
       "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
       "qwen2"},
      {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", "gpt-2"},
      {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)", "gpt-2"},
  };
  for (const auto& [pattern, name] : known)
    if (re == pattern) return name;
  throw std::invalid_argument("[tokenizer] unsupported pre-tokenizer Split regex '" + re +
                              "' in tokenizer.json (supported: the Llama 3, Qwen2 and GPT-2 "
                              "patterns)");
}

// The byte-level pre-tokenizer's name, or "" when `pre` is null.
std::string byte_level_pre_name(const json& pre) {
  if (pre.is_null()) return "";
  std::vector<json> parts;
  if (type_of(pre) == "Sequence") {
    for (const json& x : pre.value("pretokenizers", json::array())) parts.push_back(x);
  } else {
    parts.push_back(pre);
  }
  std::string name;
  bool byte_level = false;
  for (const json& p : parts) {
    std::string t = type_of(p);
    if (t == "Split") {
      const json& pat = p.value("pattern", json());
      if (!pat.is_object() || !pat.contains("Regex") || !pat["Regex"].is_string())
        throw std::invalid_argument("[tokenizer] unsupported Split pattern " + pat.dump() +
                                    " in tokenizer.json");
      if (!name.empty())
        throw std::invalid_argument("[tokenizer] tokenizer.json has more than one Split regex");
      name = pre_name_for_regex(pat["Regex"].get<std::string>());
    } else if (t == "ByteLevel") {
      byte_level = true;
      if (p.value("use_regex", true)) {
        if (!name.empty())
          throw std::invalid_argument(
              "[tokenizer] tokenizer.json has a Split regex and a ByteLevel regex");
        name = "gpt-2";
      }
    } else {
      throw std::invalid_argument("[tokenizer] unsupported pre-tokenizer '" + t +
                                  "' in tokenizer.json (supported: Split, ByteLevel)");
    }
  }
  if (!byte_level)
    throw std::invalid_argument("[tokenizer] tokenizer.json pre-tokenizer has no ByteLevel step");
  if (name.empty())
    throw std::invalid_argument("[tokenizer] tokenizer.json ByteLevel pre-tokenizer has no regex");
  return name;
}

// A special-token entry in tokenizer_config.json: "text" or {"content": "text", ...}.
std::string token_content(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string())
    return j["content"].get<std::string>();
  return "";
}

bool is_byte_token(const std::string& s) {
  return s.size() == 6 && s.compare(0, 3, "<0x") == 0 && s[5] == '>' &&
         std::isxdigit(static_cast<unsigned char>(s[3])) &&
         std::isxdigit(static_cast<unsigned char>(s[4]));
}

}  // namespace

Tokenizer Tokenizer::from_tokenizer_json(const std::string& path_or_json_text) {
  size_t first = path_or_json_text.find_first_not_of(" \t\r\n");
  bool is_text = first != std::string::npos && path_or_json_text[first] == '{';
  json j = is_text ? parse(path_or_json_text, "tokenizer.json text")
                   : parse(read_text(path_or_json_text), "'" + path_or_json_text + "'");
  json config;  // sibling tokenizer_config.json, when given a path and it exists
  if (!is_text) {
    auto cfg = std::filesystem::path(path_or_json_text).parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(cfg)) config = parse(read_text(cfg.string()), "'" + cfg.string() + "'");
  }

  if (!j.is_object() || !j.contains("model") || !j["model"].is_object())
    throw std::invalid_argument("[tokenizer] tokenizer.json has no 'model' object");
  const json& m = j["model"];
  std::string mtype = m.value("type", "");
  if (mtype != "BPE")
    throw std::invalid_argument("[tokenizer] unsupported tokenizer.json model type '" + mtype +
                                "' (supported: BPE)");
  if (!m.contains("vocab") || !m["vocab"].is_object())
    throw std::invalid_argument("[tokenizer] tokenizer.json model has no 'vocab' object");

  Tokenizer t;
  const json normalizer = j.value("normalizer", json());
  const json pre = j.value("pre_tokenizer", json());
  bool spm = is_spm_normalizer(normalizer);
  std::string pre_name;
  if (spm) {
    if (!pre.is_null())
      throw std::invalid_argument("[tokenizer] unsupported pre-tokenizer '" + type_of(pre) +
                                  "' with the SentencePiece normalizer in tokenizer.json");
    if (!m.value("byte_fallback", false))
      throw std::invalid_argument(
          "[tokenizer] tokenizer.json SentencePiece-style BPE without byte_fallback is unsupported");
    t.model_ = TokenizerModel::spm;
    t.spm_merge_by_rank_ = true;
    t.pre_ = "default";
    // Prepend is what adds the leading space; without it the text is taken as it is.
    t.add_space_prefix_ = false;
    for (const json& p : normalizer.value("normalizers", json::array({normalizer})))
      if (type_of(p) == "Prepend") t.add_space_prefix_ = true;
  } else {
    pre_name = byte_level_pre_name(pre);
    if (pre_name.empty())
      throw std::invalid_argument("[tokenizer] tokenizer.json BPE has neither the SentencePiece "
                                  "normalizer nor a ByteLevel pre-tokenizer");
    t.model_ = TokenizerModel::bpe;
    t.pre_ = pre_name;
    t.pre_tokenizer_ = std::make_shared<const PreTokenizer>(pre_name);
    t.ignore_merges_ = m.value("ignore_merges", false);
  }

  // Vocabulary: ids from model.vocab, then added_tokens (which may extend it).
  int64_t max_id = -1;
  for (const auto& [text, id] : m["vocab"].items()) max_id = std::max<int64_t>(max_id, id.get<int64_t>());
  const json added = j.value("added_tokens", json::array());
  for (const json& a : added) max_id = std::max<int64_t>(max_id, a.at("id").get<int64_t>());
  if (max_id < 0) throw std::invalid_argument("[tokenizer] tokenizer.json vocabulary is empty");
  size_t n = static_cast<size_t>(max_id + 1);
  t.tokens_.assign(n, std::string());
  t.types_.assign(n, TokenType::unused);  // holes in the id range
  for (const auto& [text, id] : m["vocab"].items()) {
    int64_t i = id.get<int64_t>();
    if (i < 0) throw std::invalid_argument("[tokenizer] tokenizer.json token '" + text + "' has a negative id");
    t.tokens_[i] = text;
    t.types_[i] = spm && is_byte_token(text) ? TokenType::byte : TokenType::normal;
  }
  std::string unk_text = m.value("unk_token", json()).is_string() ? m["unk_token"].get<std::string>() : "";
  for (const json& a : added) {
    int64_t i = a.at("id").get<int64_t>();
    if (i < 0) throw std::invalid_argument("[tokenizer] tokenizer.json added token has a negative id");
    t.tokens_[i] = a.at("content").get<std::string>();
    bool special = a.value("special", false);
    t.types_[i] = !special ? TokenType::user_defined
                  : t.tokens_[i] == unk_text ? TokenType::unknown
                                             : TokenType::control;
  }
  t.token_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i)
    if (t.types_[i] != TokenType::unused || !t.tokens_[i].empty())
      t.token_to_id_[t.tokens_[i]] = static_cast<int32_t>(i);

  // Merges: "a b" strings (older files) or ["a", "b"] pairs.
  const json merges = m.value("merges", json::array());
  t.merge_ranks_.reserve(merges.size());
  t.scores_.assign(n, 0.0f);
  for (size_t r = 0; r < merges.size(); ++r) {
    const json& mg = merges[r];
    std::string left, right;
    if (mg.is_array() && mg.size() == 2) {
      left = mg[0].get<std::string>();
      right = mg[1].get<std::string>();
    } else if (mg.is_string()) {
      std::string s = mg.get<std::string>();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos)
        throw std::invalid_argument("[tokenizer] tokenizer.json merge " + std::to_string(r) + " '" +
                                    s + "' has no space");
      left = s.substr(0, sp);
      right = s.substr(sp + 1);
    } else {
      throw std::invalid_argument("[tokenizer] tokenizer.json merge " + std::to_string(r) +
                                  " is neither \"a b\" nor [a, b]");
    }
    // The SPM view of a merge: its result scores -rank (first merge producing it wins).
    if (int32_t id = t.token_id(left + right); id >= 0 && t.scores_[id] == 0.0f)
      t.scores_[id] = -static_cast<float>(r) - 1.0f;
    std::string key = left;
    key += '\0';
    key += right;
    t.merge_ranks_.emplace(std::move(key), static_cast<int32_t>(r));
  }

  // Special ids: unk from the model, bos/eos from tokenizer_config.json (else the usual texts).
  t.unk_id_ = unk_text.empty() ? -1 : t.token_id(unk_text);
  auto id_of_config = [&](const char* key, const char* fallback) -> int32_t {
    if (config.is_object() && config.contains(key)) {
      std::string s = token_content(config[key]);
      return s.empty() ? -1 : t.token_id(s);
    }
    return spm ? t.token_id(fallback) : -1;
  };
  t.bos_id_ = id_of_config("bos_token", "<s>");
  t.eos_id_ = id_of_config("eos_token", "</s>");

  // add_bos/add_eos: the post-processor's single template (a special token before/after the
  // sequence), overridden by tokenizer_config.json's add_bos_token/add_eos_token.
  const json post = j.value("post_processor", json());
  if (type_of(post) == "TemplateProcessing") {
    bool seen_seq = false;
    for (const json& item : post.value("single", json::array())) {
      if (item.contains("Sequence")) {
        seen_seq = true;
      } else if (item.contains("SpecialToken")) {
        int32_t id = t.token_id(item["SpecialToken"].value("id", ""));
        if (id < 0) continue;
        if (!seen_seq) {
          t.add_bos_ = true;
          t.bos_id_ = id;
        } else {
          t.add_eos_ = true;
          t.eos_id_ = id;
        }
      }
    }
  }
  if (config.is_object()) {
    if (config.contains("add_bos_token") && config["add_bos_token"].is_boolean())
      t.add_bos_ = config["add_bos_token"].get<bool>();
    if (config.contains("add_eos_token") && config["add_eos_token"].is_boolean())
      t.add_eos_ = config["add_eos_token"].get<bool>();
  }

  t.index_special_tokens();
  return t;
}

}  // namespace alloy::llm
