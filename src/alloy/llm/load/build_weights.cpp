// From named file tensors to ModelWeights: every tensor the config implies is looked up by its
// GGUF name, its shape checked, and made ready to compute with: dense weights converted to the
// compute dtype on the device (left wrapping the file when nothing changes), quantized weights
// with a matmul kernel kept as their blocks, other quantized types dequantized.
#include <algorithm>
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
  Builder(const TensorSet& ts, const BuildOptions& o, ModelInfo& info) : ts_(ts), o_(o), info_(info) {}

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

  // On the GPU, linears that read the same input are stacked into one (rows part after part), so a
  // decode step launches one matvec where it launched two or three. Only parts of one type with
  // biases on all or none; their own arrays are dropped (not evaluated, not counted).
  std::optional<Linear> stacked(std::vector<Linear*> parts) {
    if (o_.device == Device::cpu) return std::nullopt;
    const Linear& first = *parts[0];
    std::vector<array> weights, biases;
    for (Linear* p : parts) {
      if (p->qtype != first.qtype || p->weight.dtype() != first.weight.dtype() ||
          p->bias.has_value() != first.bias.has_value() || p->weight.shape(1) != first.weight.shape(1)) {
        return std::nullopt;
      }
      weights.push_back(p->weight);
      if (p->bias) biases.push_back(*p->bias);
    }
    std::vector<uintptr_t> dropped;
    for (const array& a : weights) dropped.push_back(a.id());
    for (const array& a : biases) dropped.push_back(a.id());
    std::erase_if(pending_, [&](const array& a) { return std::find(dropped.begin(), dropped.end(), a.id()) != dropped.end(); });
    Linear out;
    out.qtype = first.qtype;
    out.weight = concatenate(weights, 0, o_.device);
    pending_.push_back(out.weight);
    if (!biases.empty()) {
      out.bias = concatenate(biases, 0, o_.device);
      pending_.push_back(*out.bias);
    }
    for (Linear* p : parts) *p = Linear{};
    return out;
  }

  std::optional<array> optional_norm(const std::string& name, int64_t n) {
    if (!has(name)) return std::nullopt;
    return norm(name, n);
  }

  // Evaluates what has been built so far (layer by layer, so progress can be shown).
  void flush() {
    eval(pending_);
    for (const array& a : pending_) info_.weight_bytes += int64_t(a.nbytes());
    pending_.clear();
  }

 private:
  const TensorSet& ts_;
  const BuildOptions& o_;
  ModelInfo& info_;
  std::set<std::string> counted_;
  std::vector<array> pending_;
};

std::string blk(int64_t l, const char* what) { return "blk." + std::to_string(l) + "." + what; }

}  // namespace

ModelWeights build_weights(const ModelConfig& cfg, const TensorSet& ts, const BuildOptions& o, ModelInfo& info) {
  Builder b(ts, o, info);
  const int64_t D = cfg.hidden, hd = cfg.head_dim, Hq = cfg.n_heads, Hkv = cfg.n_kv_heads, F = cfg.ffn,
                V = cfg.vocab_size;
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
      L.qkv = b.stacked({&L.q, &L.k, &L.v});
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
      L.gate_up = b.stacked({&L.gate, &L.up});
    } else {
      L.gate_up = b.linear(blk(l, "ffn_up"), 2 * F, D, false);  // phi3: gate rows, then up rows
    }
    L.down = b.linear(blk(l, "ffn_down"), D, F, false);
    w.layers.push_back(std::move(L));
    b.flush();
    if (o.progress) o.progress(l + 1, cfg.n_layers);
  }
  b.flush();
  return w;
}

}  // namespace alloy::llm
