#include "gpt/hf_export.h"

#include <alloy/llm/tokenizer/byte_unicode.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "gpt/corpus.h"

namespace gpt {
namespace {

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("[gpt] cannot write " + path);
  out << j.dump(2) << "\n";
}

nlohmann::json byte_level_tokenizer() {
  nlohmann::json vocab = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) vocab[alloy::llm::byte_to_unicode(uint8_t(b))] = b;
  nlohmann::json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                               {"use_regex", true}};
  return {{"version", "1.0"},
          {"added_tokens",
           {{{"id", end_of_text}, {"content", "<|endoftext|>"}, {"single_word", false}, {"lstrip", false},
             {"rstrip", false}, {"normalized", false}, {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level},
          {"post_processor", nullptr},
          {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
          {"model",
           {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
            {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
            {"ignore_merges", false}, {"vocab", vocab}, {"merges", nlohmann::json::array()}}}};
}

}  // namespace

void save_hf_checkpoint(const GPT& model, const std::string& dir) {
  std::filesystem::create_directories(dir);
  write_json(dir + "/config.json", model.config().to_hf_config(end_of_text, end_of_text));
  model.save_weights(dir + "/model.safetensors");
  write_json(dir + "/tokenizer.json", byte_level_tokenizer());
  write_json(dir + "/tokenizer_config.json",
             {{"tokenizer_class", "PreTrainedTokenizerFast"}, {"bos_token", nullptr}, {"eos_token", "<|endoftext|>"},
              {"add_bos_token", false}, {"model_max_length", model.config().context}});
  write_json(dir + "/generation_config.json", {{"eos_token_id", end_of_text}, {"do_sample", true}});
}

}  // namespace gpt
