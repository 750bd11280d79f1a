#include "gpt/gpt_model.h"

#include <alloy/core/fast.h>

#include <cmath>
#include <stdexcept>

namespace gpt {

using namespace alloy;

nlohmann::json Config::to_hf_config(int64_t bos_id, int64_t eos_id) const {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", vocab_size},
          {"hidden_size", dim},
          {"intermediate_size", ffn_dim},
          {"num_hidden_layers", layers},
          {"num_attention_heads", heads},
          {"num_key_value_heads", kv_heads},
          {"head_dim", head_dim()},
          {"max_position_embeddings", context},
          {"rms_norm_eps", norm_eps},
          {"rope_theta", rope_theta},
          {"hidden_act", "silu"},
          {"tie_word_embeddings", tie_embeddings},
          {"attention_bias", false},
          {"mlp_bias", false},
          {"bos_token_id", bos_id},
          {"eos_token_id", eos_id},
          {"torch_dtype", "float32"}};
}

Attention::Attention(const Config& c)
    : q_proj(c.dim, c.heads * c.head_dim(), false),
      k_proj(c.dim, c.kv_heads * c.head_dim(), false),
      v_proj(c.dim, c.kv_heads * c.head_dim(), false),
      o_proj(c.heads * c.head_dim(), c.dim, false),
      heads_(c.heads), kv_heads_(c.kv_heads), head_dim_(c.head_dim()),
      rope_(int(c.head_dim()), /*traditional=*/false, c.rope_theta) {
  register_module("q_proj", q_proj);
  register_module("k_proj", k_proj);
  register_module("v_proj", v_proj);
  register_module("o_proj", o_proj);
}

array Attention::forward(const array& x) {
  const int64_t B = x.shape(0), T = x.shape(1);
  // (B, T, H * D) -> (B, H, T, D)
  auto heads = [&](const array& t, int64_t h) { return transpose(reshape(t, {B, T, h, head_dim_}), {0, 2, 1, 3}); };
  array q = rope_(heads(q_proj(x), heads_));
  array k = rope_(heads(k_proj(x), kv_heads_));
  array v = heads(v_proj(x), kv_heads_);
  array o = fast::scaled_dot_product_attention(q, k, v, float(1.0 / std::sqrt(double(head_dim_))), std::nullopt,
                                               /*causal=*/true);
  return o_proj(reshape(transpose(o, {0, 2, 1, 3}), {B, T, heads_ * head_dim_}));
}

FeedForward::FeedForward(const Config& c)
    : gate_proj(c.dim, c.ffn_dim, false), up_proj(c.dim, c.ffn_dim, false), down_proj(c.ffn_dim, c.dim, false) {
  register_module("gate_proj", gate_proj);
  register_module("up_proj", up_proj);
  register_module("down_proj", down_proj);
}

array FeedForward::forward(const array& x) { return down_proj(fast::swiglu(gate_proj(x), up_proj(x))); }

Block::Block(const Config& c)
    : self_attn(c), mlp(c), input_layernorm(c.dim, c.norm_eps), post_attention_layernorm(c.dim, c.norm_eps) {
  register_module("self_attn", self_attn);
  register_module("mlp", mlp);
  register_module("input_layernorm", input_layernorm);
  register_module("post_attention_layernorm", post_attention_layernorm);
}

array Block::forward(const array& x) {
  array h = x + self_attn.forward(input_layernorm(x));
  return h + mlp.forward(post_attention_layernorm(h));
}

Backbone::Backbone(const Config& c) : embed_tokens(c.vocab_size, c.dim), norm(c.dim, c.norm_eps) {
  register_module("embed_tokens", embed_tokens);
  for (int64_t i = 0; i < c.layers; ++i) layers.append(std::make_unique<Block>(c));
  register_module("layers", layers);
  register_module("norm", norm);
}

GPT::GPT(const Config& c) : model(c), config_(c) {
  if (c.dim % c.heads != 0 || c.heads % c.kv_heads != 0) {
    throw std::invalid_argument("[gpt] dim must be a multiple of heads, and heads of kv_heads");
  }
  register_module("model", model);
  // GPT-2's initialization: N(0, 0.02) everywhere, the residual projections scaled down by
  // sqrt(2 * layers) so the residual stream does not grow with depth.
  const double residual_std = 0.02 / std::sqrt(2.0 * double(c.layers));
  for (auto& [name, p] : model.parameters()) {
    if (p.ndim() != 2) continue;
    bool residual = name.find("o_proj") != std::string::npos || name.find("down_proj") != std::string::npos;
    nn::NamedArrays v{{name, nn::init::normal(p.shape(), 0.0, residual ? residual_std : 0.02)}};
    model.update(v);
  }
  if (!c.tie_embeddings) {
    lm_head.emplace(c.dim, c.vocab_size, false);
    register_module("lm_head", *lm_head);
  }
}

array GPT::forward(const array& tokens) {
  array h = model.embed_tokens(tokens);
  for (Block* layer : model.layers) h = layer->forward(h);
  h = model.norm(h);
  return lm_head ? (*lm_head)(h) : model.embed_tokens.as_linear(h);
}

}  // namespace gpt
