// The gpt example's model: a decoder-only transformer in the Llama layout (RMSNorm, rotary
// position embeddings, grouped-query attention, SwiGLU), with Hugging Face's parameter names
// ("model.layers.0.self_attn.q_proj.weight"), so save_weights writes a model.safetensors that the
// alloy LLM runtime (and transformers) load as LlamaForCausalLM.
#pragma once

#include <alloy/nn/nn.h>

#include <nlohmann/json.hpp>
#include <string>

namespace gpt {

using alloy::array;
namespace nn = alloy::nn;

struct Config {
  int64_t vocab_size = 257;  // 256 bytes and <|endoftext|>
  int64_t dim = 256;
  int64_t layers = 6;
  int64_t heads = 8;
  int64_t kv_heads = 4;
  int64_t ffn_dim = 704;
  int64_t context = 256;
  double rope_theta = 10000.0;
  double norm_eps = 1e-5;
  bool tie_embeddings = true;

  int64_t head_dim() const { return dim / heads; }
  // config.json for LlamaForCausalLM.
  nlohmann::json to_hf_config(int64_t bos_id, int64_t eos_id) const;
};

class Attention : public nn::Module {
 public:
  explicit Attention(const Config& c);
  // x (B, T, dim) -> (B, T, dim), causal.
  array forward(const array& x);

  nn::Linear q_proj, k_proj, v_proj, o_proj;

 private:
  int64_t heads_, kv_heads_, head_dim_;
  nn::RoPE rope_;
};

class FeedForward : public nn::Module {
 public:
  explicit FeedForward(const Config& c);
  array forward(const array& x);  // down(silu(gate(x)) * up(x))

  nn::Linear gate_proj, up_proj, down_proj;
};

class Block : public nn::Module {
 public:
  explicit Block(const Config& c);
  array forward(const array& x);

  Attention self_attn;
  FeedForward mlp;
  nn::RMSNorm input_layernorm, post_attention_layernorm;
};

class Backbone : public nn::Module {
 public:
  explicit Backbone(const Config& c);

  nn::Embedding embed_tokens;
  nn::ModuleList<Block> layers;
  nn::RMSNorm norm;
};

class GPT : public nn::Module {
 public:
  explicit GPT(const Config& c);
  // tokens (B, T) int32 -> logits (B, T, vocab)
  array forward(const array& tokens);
  const Config& config() const { return config_; }

  Backbone model;
  std::optional<nn::Linear> lm_head;  // without tied embeddings

 private:
  Config config_;
};

}  // namespace gpt
