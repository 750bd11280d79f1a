// From named file tensors to ModelWeights: every tensor the config implies is looked up by its
// GGUF name, its shape checked, and made ready to compute with: dense weights converted to the
// compute dtype on the device (left wrapping the file when nothing changes), quantized weights
// with a matmul kernel kept as their blocks, other quantized types dequantized.
#include <set>
#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/core/quantized.h"
#include "alloy/core/transforms.h"
#include "alloy/llm/load/tensor_set.h"

namespace alloy::llm {

namespace {

class Builder {
 public:
  Builder(const ModelConfig& cfg, const TensorSet& ts, const BuildOptions& o, ModelInfo& info)
      : cfg_(cfg), ts_(ts), o_(o), info_(info) {}

  const SourceTensor* find(const std::string& name) const {
    auto it = ts_.find(name);
    return it == ts_.end() ? nullptr : &it->second;
  }
  bool has(const std::string& name) const { return find(name) != nullptr; }

  const SourceTensor& need(const std::string& name, const Shape& expected) {
    const SourceTensor* t = find(name);
    if (!t) throw std::invalid_argument("the model file has no tensor " + name);
    if (t->shape != expected) {
      throw std::invalid_argument("tensor " + name + " has shape " + shape_to_string(t->shape) +
                                  " but the model's configuration implies " + shape_to_string(expected));
    }
    if (counted_.insert(name).second) {
      info_.tensor_types[t->type_name] += 1;
      int64_t n = 1;
      for (int64_t d : t->shape) n *= d;
      info_.parameters += n;
    }
    return *t;
  }

  // Dense values in the compute dtype, on the device.
  array to_device(array a, bool add_one = false) {
    if (add_one) a = add(astype(a, float32), array(1.0f));
    if (a.dtype() != o_.dtype) a = astype(a, o_.dtype, o_.device);
    if (o_.device != Device::cpu) a = copy(a, o_.device);
    pending_.push_back(a);
    return a;
  }

  array norm(const std::string& name, int64_t n) {
    return to_device(need(name, {n}).data, o_.norm_adds_one);
  }

  Linear linear(const std::string& prefix, int64_t N, int64_t K, bool bias) {
    const SourceTensor& t = need(prefix + ".weight", {N, K});
    Linear lin;
    if (t.qtype && quant::has_matmul_kernel(*t.qtype)) {
      lin.weight = t.data;  // the blocks as they lie in the file
      lin.qtype = t.qtype;
      if (o_.device != Device::cpu) lin.weight = copy(lin.weight, o_.device);
      pending_.push_back(lin.weight);
    } else if (t.qtype) {
      lin.weight = to_device(dequantize(t.data, *t.qtype, float32));
    } else {
      lin.weight = to_device(t.data);
    }
    if (bias || has(prefix + ".bias")) lin.bias = to_device(need(prefix + ".bias", {N}).data);
    return lin;
  }

  // One linear layer of the parts' rows stacked (q, k, v or gate, up), when they are alike
  // (all dense, or all blocks of one type); nullopt otherwise.
  std::optional<Linear> stacked(const std::vector<Linear>& parts) {
    std::vector<array> weights, biases;
    for (const Linear& p : parts) {
      if (p.qtype != parts[0].qtype || bool(p.bias) != bool(parts[0].bias)) return std::nullopt;
      weights.push_back(p.weight);
      if (p.bias) biases.push_back(*p.bias);
    }
    Linear out;
    out.qtype = parts[0].qtype;
    out.weight = concatenate(weights, 0, o_.device);
    pending_.push_back(out.weight);
    if (!biases.empty()) {
      out.bias = concatenate(biases, 0, o_.device);
      pending_.push_back(*out.bias);
    }
    return out;
  }

  std::optional<array> optional_norm(const std::string& name, int64_t n) {
    if (!has(name)) return std::nullopt;
    return norm(name, n);
  }

  // Evaluates what has been built so far (per layer, so that parts replaced by stacked
  // copies are freed as the load goes).
  void flush() {
    eval(pending_);
    pending_.clear();
  }

 private:
  const ModelConfig& cfg_;
  const TensorSet& ts_;
  const BuildOptions& o_;
  ModelInfo& info_;
  std::set<std::string> counted_;
  std::vector<array> pending_;
};

int64_t weight_bytes(const ModelWeights& w) {
  int64_t n = 0;
  auto add = [&](const Linear& l) {
    if (l.weight.ndim() == 2) n += int64_t(l.weight.nbytes());
    if (l.bias) n += int64_t(l.bias->nbytes());
  };
  auto add_opt = [&](const std::optional<array>& a) { n += a ? int64_t(a->nbytes()) : 0; };
  add(w.token_embd.table);
  if (w.output.weight.data_shared_ptr() != w.token_embd.table.weight.data_shared_ptr()) add(w.output);
  n += int64_t(w.output_norm.nbytes());
  for (const LayerWeights& L : w.layers) {
    for (const Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) add(*l);
    if (L.qkv) add(*L.qkv);
    if (L.gate_up) add(*L.gate_up);
    n += int64_t(L.attn_norm.nbytes() + L.ffn_norm.nbytes());
    for (const auto* a : {&L.q_norm, &L.k_norm, &L.post_attention_norm, &L.post_ffw_norm}) add_opt(*a);
  }
  return n;
}

std::string blk(int64_t l, const char* what) { return "blk." + std::to_string(l) + "." + what; }

}  // namespace

ModelWeights build_weights(const ModelConfig& cfg, const TensorSet& ts, const BuildOptions& o, ModelInfo& info) {
  Builder b(cfg, ts, o, info);
  const int64_t D = cfg.hidden, hd = cfg.head_dim, Hq = cfg.n_heads, Hkv = cfg.n_kv_heads, F = cfg.ffn,
                V = cfg.vocab_size;
  // On the GPU, q/k/v and gate/up become one matmul each (3 fewer launches per layer in decode);
  // the weights are copied there anyway. On the CPU they stay where they lie in the file.
  const bool stack_projections = o.device.type == Device::gpu;
  ModelWeights w;
  w.token_embd.table = b.linear("token_embd", V, D, false);
  w.output_norm = b.norm("output_norm.weight", D);
  if (b.has("output.weight") && !cfg.tie_embeddings) {
    w.output = b.linear("output", V, D, false);
  } else {
    w.output = w.token_embd.table;  // tied (llama.cpp also ties when output is absent)
  }
  for (int64_t l = 0; l < cfg.n_layers; ++l) {
    LayerWeights L;
    L.attn_norm = b.norm(blk(l, "attn_norm.weight"), D);
    if (b.has(blk(l, "attn_qkv.weight"))) {
      L.qkv = b.linear(blk(l, "attn_qkv"), (Hq + 2 * Hkv) * hd, D, cfg.qkv_bias);
    } else {
      L.q = b.linear(blk(l, "attn_q"), Hq * hd, D, cfg.qkv_bias);
      L.k = b.linear(blk(l, "attn_k"), Hkv * hd, D, cfg.qkv_bias);
      L.v = b.linear(blk(l, "attn_v"), Hkv * hd, D, cfg.qkv_bias);
      if (stack_projections && (L.qkv = b.stacked({L.q, L.k, L.v}))) L.q = L.k = L.v = Linear{};
    }
    L.o = b.linear(blk(l, "attn_output"), D, Hq * hd, false);
    if (cfg.qk_norm) {
      L.q_norm = b.norm(blk(l, "attn_q_norm.weight"), hd);
      L.k_norm = b.norm(blk(l, "attn_k_norm.weight"), hd);
    }
    if (cfg.sandwich_norms) {
      L.post_attention_norm = b.norm(blk(l, "post_attention_norm.weight"), D);
      L.post_ffw_norm = b.norm(blk(l, "post_ffw_norm.weight"), D);
    }
    L.ffn_norm = b.norm(blk(l, "ffn_norm.weight"), D);
    if (b.has(blk(l, "ffn_gate.weight"))) {
      L.gate = b.linear(blk(l, "ffn_gate"), F, D, false);
      L.up = b.linear(blk(l, "ffn_up"), F, D, false);
      if (stack_projections && (L.gate_up = b.stacked({L.gate, L.up}))) L.gate = L.up = Linear{};
    } else {
      L.gate_up = b.linear(blk(l, "ffn_up"), 2 * F, D, false);  // phi3: gate rows, then up rows
    }
    L.down = b.linear(blk(l, "ffn_down"), D, F, false);
    w.layers.push_back(std::move(L));
    b.flush();
  }
  b.flush();
  info.weight_bytes = weight_bytes(w);
  return w;
}

}  // namespace alloy::llm
