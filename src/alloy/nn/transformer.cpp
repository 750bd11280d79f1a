// The transformer layers: MultiHeadAttention, Linear, nn::LayerNorm and nn::Dropout members
// composed as PyTorch's forward passes.
#include "alloy/nn/transformer.h"

#include <memory>
#include <sstream>
#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/nn/activations.h"
#include "alloy/nn/init.h"

namespace alloy::nn {
namespace {

const TransformerLayerConfig& checked(const TransformerLayerConfig& c, const char* cls) {
  auto fail = [&](const std::string& m) { throw std::invalid_argument(std::string("[") + cls + "] " + m); };
  if (c.d_model <= 0) fail("d_model must be positive, got " + std::to_string(c.d_model));
  if (c.nhead <= 0 || c.d_model % c.nhead != 0) {
    fail("nhead must be positive and divide d_model (" + std::to_string(c.d_model) + "), got " +
         std::to_string(c.nhead));
  }
  if (c.dim_feedforward <= 0) fail("dim_feedforward must be positive, got " + std::to_string(c.dim_feedforward));
  // nn::Dropout's range: PyTorch also takes 1, but a layer that drops everything learns nothing.
  if (!(c.dropout >= 0.0 && c.dropout < 1.0)) fail("dropout must be in [0, 1), got " + std::to_string(c.dropout));
  if (c.activation != "relu" && c.activation != "gelu") {
    fail("activation must be \"relu\" or \"gelu\", got \"" + c.activation + "\"");
  }
  if (!(c.layer_norm_eps > 0.0)) fail("layer_norm_eps must be positive, got " + std::to_string(c.layer_norm_eps));
  return c;
}

void check_sequence(const array& x, int64_t d_model, const char* cls, const char* what) {
  if (x.ndim() != 3 || x.shape(-1) != d_model) {
    throw std::invalid_argument(std::string("[") + cls + "] expects " + what + " (N, L, " + std::to_string(d_model) +
                                "), got shape " + shape_to_string(x.shape()));
  }
}

array activate(const array& x, const std::string& activation) {
  return activation == "relu" ? relu(x) : gelu(x);
}

std::string describe_config(const char* cls, const TransformerLayerConfig& c) {
  std::ostringstream s;
  s << cls << "(d_model=" << c.d_model << ", nhead=" << c.nhead << ", dim_feedforward=" << c.dim_feedforward
    << ", dropout=" << c.dropout << ", activation=" << c.activation << ", norm_first=" << (c.norm_first ? "true" : "false")
    << ", bias=" << (c.bias ? "true" : "false") << ")";
  return s.str();
}

void check_num_layers(int64_t n, const char* cls) {
  if (n <= 0) throw std::invalid_argument(std::string("[") + cls + "] num_layers must be positive, got " + std::to_string(n));
}

}  // namespace

// ---------- encoder layer ----------

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward,
                                                 double dropout_p, const std::string& activation,
                                                 double layer_norm_eps, bool norm_first, bool bias, Dtype dtype)
    : TransformerEncoderLayer(TransformerLayerConfig{d_model, nhead, dim_feedforward, dropout_p, activation,
                                                     layer_norm_eps, norm_first, bias},
                              dtype) {}

TransformerEncoderLayer::TransformerEncoderLayer(const TransformerLayerConfig& config, Dtype dtype)
    : config_(checked(config, "TransformerEncoderLayer")),
      self_attn(config_.d_model, config_.nhead, std::nullopt, config_.bias, std::nullopt, std::nullopt,
                config_.dropout, dtype),
      linear1(config_.d_model, config_.dim_feedforward, config_.bias, dtype),
      linear2(config_.dim_feedforward, config_.d_model, config_.bias, dtype),
      norm1(config_.d_model, config_.layer_norm_eps, /*elementwise_affine=*/true, config_.bias, dtype),
      norm2(config_.d_model, config_.layer_norm_eps, /*elementwise_affine=*/true, config_.bias, dtype),
      dropout(config_.dropout),
      dropout1(config_.dropout),
      dropout2(config_.dropout) {
  // PyTorch's registration order, so state() lists entries as its state_dict does.
  register_module("self_attn", self_attn);
  register_module("linear1", linear1);
  register_module("dropout", dropout);
  register_module("linear2", linear2);
  register_module("norm1", norm1);
  register_module("norm2", norm2);
  register_module("dropout1", dropout1);
  register_module("dropout2", dropout2);
}

array TransformerEncoderLayer::forward(const array& src, const std::optional<array>& src_mask) {
  check_sequence(src, config_.d_model, "TransformerEncoderLayer", "src");
  auto self_block = [&](const array& x) { return dropout1(self_attn(x, x, x, src_mask)); };
  auto ff_block = [&](const array& x) {
    return dropout2(linear2(dropout(activate(linear1(x), config_.activation))));
  };
  array x = src;  // (N, L, E)
  if (config_.norm_first) {
    x = add(x, self_block(norm1(x)));
    return add(x, ff_block(norm2(x)));
  }
  x = norm1(add(x, self_block(x)));
  return norm2(add(x, ff_block(x)));
}

std::string TransformerEncoderLayer::describe() const { return describe_config("TransformerEncoderLayer", config_); }

// ---------- decoder layer ----------

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward,
                                                 double dropout_p, const std::string& activation,
                                                 double layer_norm_eps, bool norm_first, bool bias, Dtype dtype)
    : TransformerDecoderLayer(TransformerLayerConfig{d_model, nhead, dim_feedforward, dropout_p, activation,
                                                     layer_norm_eps, norm_first, bias},
                              dtype) {}

TransformerDecoderLayer::TransformerDecoderLayer(const TransformerLayerConfig& config, Dtype dtype)
    : config_(checked(config, "TransformerDecoderLayer")),
      self_attn(config_.d_model, config_.nhead, std::nullopt, config_.bias, std::nullopt, std::nullopt,
                config_.dropout, dtype),
      multihead_attn(config_.d_model, config_.nhead, std::nullopt, config_.bias, std::nullopt, std::nullopt,
                     config_.dropout, dtype),
      linear1(config_.d_model, config_.dim_feedforward, config_.bias, dtype),
      linear2(config_.dim_feedforward, config_.d_model, config_.bias, dtype),
      norm1(config_.d_model, config_.layer_norm_eps, /*elementwise_affine=*/true, config_.bias, dtype),
      norm2(config_.d_model, config_.layer_norm_eps, /*elementwise_affine=*/true, config_.bias, dtype),
      norm3(config_.d_model, config_.layer_norm_eps, /*elementwise_affine=*/true, config_.bias, dtype),
      dropout(config_.dropout),
      dropout1(config_.dropout),
      dropout2(config_.dropout),
      dropout3(config_.dropout) {
  register_module("self_attn", self_attn);
  register_module("multihead_attn", multihead_attn);
  register_module("linear1", linear1);
  register_module("dropout", dropout);
  register_module("linear2", linear2);
  register_module("norm1", norm1);
  register_module("norm2", norm2);
  register_module("norm3", norm3);
  register_module("dropout1", dropout1);
  register_module("dropout2", dropout2);
  register_module("dropout3", dropout3);
}

array TransformerDecoderLayer::forward(const array& tgt, const array& memory, const std::optional<array>& tgt_mask,
                                       const std::optional<array>& memory_mask) {
  check_sequence(tgt, config_.d_model, "TransformerDecoderLayer", "tgt");
  check_sequence(memory, config_.d_model, "TransformerDecoderLayer", "memory");
  if (memory.shape(0) != tgt.shape(0)) {
    throw std::invalid_argument("[TransformerDecoderLayer] tgt " + shape_to_string(tgt.shape()) + " and memory " +
                                shape_to_string(memory.shape()) + " differ in batch size");
  }
  auto self_block = [&](const array& x) { return dropout1(self_attn(x, x, x, tgt_mask)); };
  auto cross_block = [&](const array& x) { return dropout2(multihead_attn(x, memory, memory, memory_mask)); };
  auto ff_block = [&](const array& x) {
    return dropout3(linear2(dropout(activate(linear1(x), config_.activation))));
  };
  array x = tgt;  // (N, T, E)
  if (config_.norm_first) {
    x = add(x, self_block(norm1(x)));
    x = add(x, cross_block(norm2(x)));
    return add(x, ff_block(norm3(x)));
  }
  x = norm1(add(x, self_block(x)));
  x = norm2(add(x, cross_block(x)));
  return norm3(add(x, ff_block(x)));
}

std::string TransformerDecoderLayer::describe() const { return describe_config("TransformerDecoderLayer", config_); }

// ---------- stacks ----------

TransformerEncoder::TransformerEncoder(const TransformerEncoderLayer& layer, int64_t num_layers, bool final_norm) {
  check_num_layers(num_layers, "TransformerEncoder");
  const Dtype dtype = layer.linear1.weight.dtype();
  const NamedArrays weights = layer.state();
  for (int64_t i = 0; i < num_layers; ++i) {
    layers.append(std::make_unique<TransformerEncoderLayer>(layer.config(), dtype)).load_weights(weights);
  }
  register_module("layers", layers);
  if (final_norm) {
    const TransformerLayerConfig& c = layer.config();
    norm.emplace(c.d_model, c.layer_norm_eps, /*elementwise_affine=*/true, c.bias, dtype);
    register_module("norm", *norm);
  }
  train(layer.training());
}

array TransformerEncoder::forward(const array& src, const std::optional<array>& mask) {
  array x = src;
  for (size_t i = 0; i < layers.size(); ++i) x = layers[i](x, mask);
  return norm ? norm->forward(x) : x;
}

std::string TransformerEncoder::describe() const {
  return "TransformerEncoder(num_layers=" + std::to_string(layers.size()) + ", norm=" + (norm ? "true" : "false") + ")";
}

TransformerDecoder::TransformerDecoder(const TransformerDecoderLayer& layer, int64_t num_layers, bool final_norm) {
  check_num_layers(num_layers, "TransformerDecoder");
  const Dtype dtype = layer.linear1.weight.dtype();
  const NamedArrays weights = layer.state();
  for (int64_t i = 0; i < num_layers; ++i) {
    layers.append(std::make_unique<TransformerDecoderLayer>(layer.config(), dtype)).load_weights(weights);
  }
  register_module("layers", layers);
  if (final_norm) {
    const TransformerLayerConfig& c = layer.config();
    norm.emplace(c.d_model, c.layer_norm_eps, /*elementwise_affine=*/true, c.bias, dtype);
    register_module("norm", *norm);
  }
  train(layer.training());
}

array TransformerDecoder::forward(const array& tgt, const array& memory, const std::optional<array>& tgt_mask,
                                  const std::optional<array>& memory_mask) {
  array x = tgt;
  for (size_t i = 0; i < layers.size(); ++i) x = layers[i](x, memory, tgt_mask, memory_mask);
  return norm ? norm->forward(x) : x;
}

std::string TransformerDecoder::describe() const {
  return "TransformerDecoder(num_layers=" + std::to_string(layers.size()) + ", norm=" + (norm ? "true" : "false") + ")";
}

// ---------- Transformer ----------

Transformer::Transformer(int64_t d_model, int64_t nhead, int64_t num_encoder_layers, int64_t num_decoder_layers,
                         int64_t dim_feedforward, double dropout, const std::string& activation,
                         double layer_norm_eps, bool norm_first, bool bias, Dtype dtype)
    : encoder(TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                      norm_first, bias, dtype),
              num_encoder_layers, /*final_norm=*/true),
      decoder(TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                      norm_first, bias, dtype),
              num_decoder_layers, /*final_norm=*/true) {
  register_module("encoder", encoder);
  register_module("decoder", decoder);
  NamedArrays fresh;
  for (const auto& [name, p] : parameters()) {
    if (p.ndim() > 1) fresh.insert(name, init::xavier_uniform(p.shape(), 1.0, p.dtype()));
  }
  update(fresh);
}

array Transformer::forward(const array& src, const array& tgt, const std::optional<array>& src_mask,
                           const std::optional<array>& tgt_mask, const std::optional<array>& memory_mask) {
  array memory = encoder(src, src_mask);  // (N, S, E)
  return decoder(tgt, memory, tgt_mask, memory_mask);
}

std::string Transformer::describe() const {
  const TransformerLayerConfig& c = encoder.layers[0].config();
  std::ostringstream s;
  s << "Transformer(d_model=" << c.d_model << ", nhead=" << c.nhead
    << ", num_encoder_layers=" << encoder.layers.size() << ", num_decoder_layers=" << decoder.layers.size()
    << ", dim_feedforward=" << c.dim_feedforward << ", norm_first=" << (c.norm_first ? "true" : "false") << ")";
  return s.str();
}

}  // namespace alloy::nn
