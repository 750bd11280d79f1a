// Transformer layers, stacks and nn::Transformer against PyTorch 1.13 in eval mode (dropout
// off): post- and pre-norm, relu and gelu, causal, bool and additive masks; names, weight
// copying, initialization, dropout in training mode and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "alloy/nn/nn.h"
#include "torch_reference.h"

namespace alloy {
namespace {

using test::all_close;
using test::torch_case;
using test::TorchCase;

array causal(int64_t n) { return nn::MultiHeadAttention::create_additive_causal_mask(n, float64); }

TEST(TransformerEncoderLayer, MatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  nn::TransformerEncoderLayer post(8, 2, 16);
  post.eval();
  test::expect_matches_torch(post, torch_case("encoder_layer_post_relu"),
                             [&](const std::vector<array>& in) { return post(in[0], causal(5)); });
  nn::TransformerEncoderLayer pre(8, 2, 16, 0.1, "gelu", 1e-5, /*norm_first=*/true);
  pre.eval();
  TorchCase c = torch_case("encoder_layer_pre_gelu");
  test::expect_matches_torch(pre, c, [&](const std::vector<array>& in) { return pre(in[0], c["src_mask"]); });
}

TEST(TransformerDecoderLayer, MatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  nn::TransformerDecoderLayer post(8, 2, 16);
  post.eval();
  test::expect_matches_torch(post, torch_case("decoder_layer_post_relu"),
                             [&](const std::vector<array>& in) { return post(in[0], in[1], causal(4)); });
  nn::TransformerDecoderLayer pre(8, 2, 16, 0.1, "gelu", 1e-5, true);
  pre.eval();
  TorchCase c = torch_case("decoder_layer_pre_gelu");
  test::expect_matches_torch(pre, c, [&](const std::vector<array>& in) {
    return pre(in[0], in[1], causal(4), c["memory_mask"]);
  });
}

TEST(TransformerStacks, MatchTorch) {
  ALLOY_REQUIRE_TORCH();
  nn::TransformerEncoder encoder(nn::TransformerEncoderLayer(8, 2, 16), 2, /*final_norm=*/true);
  encoder.eval();
  TorchCase ce = torch_case("encoder_stack");
  test::expect_matches_torch(encoder, ce, [&](const std::vector<array>& in) { return encoder(in[0], ce["mask"]); });
  nn::TransformerDecoder decoder(nn::TransformerDecoderLayer(8, 2, 16, 0.1, "relu", 1e-5, true), 2, true);
  decoder.eval();
  TorchCase cd = torch_case("decoder_stack");
  test::expect_matches_torch(decoder, cd, [&](const std::vector<array>& in) {
    return decoder(in[0], in[1], causal(4), cd["memory_mask"]);
  });
}

TEST(Transformer, MatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  nn::Transformer post(8, 2, 2, 1, 16);
  post.eval();
  test::expect_matches_torch(post, torch_case("transformer_post_relu"), [&](const std::vector<array>& in) {
    return post(in[0], in[1], std::nullopt, causal(4));
  });
  nn::Transformer pre(8, 2, 2, 1, 16, 0.1, "gelu", 1e-5, true);
  pre.eval();
  TorchCase c = torch_case("transformer_pre_gelu");
  test::expect_matches_torch(pre, c, [&](const std::vector<array>& in) {
    return pre(in[0], in[1], c["src_mask"], causal(4), c["memory_mask"]);
  });
}

// float32 runs the fused attention and layer-norm kernels.
TEST(Transformer, Float32MatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  TorchCase c = torch_case("transformer_pre_gelu");
  nn::Transformer model(8, 2, 2, 1, 16, 0.1, "gelu", 1e-5, true);
  model.eval();
  model.load_weights(c.with_prefix("param/"));
  array out = model(astype(c["input0"], float32), astype(c["input1"], float32), c["src_mask"],
                    nn::Transformer::generate_square_subsequent_mask(4), c["memory_mask"]);
  EXPECT_EQ(out.dtype(), float32);
  EXPECT_TRUE(all_close(out, c["output"], 1e-4, 1e-4));
}

TEST(TransformerEncoderLayer, NamesFollowPyTorch) {
  nn::TransformerEncoderLayer layer(8, 2, 16);
  EXPECT_EQ(layer.parameters().names(),
            (std::vector<std::string>{
                "self_attn.query_proj.weight", "self_attn.query_proj.bias", "self_attn.key_proj.weight",
                "self_attn.key_proj.bias", "self_attn.value_proj.weight", "self_attn.value_proj.bias",
                "self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear1.weight", "linear1.bias",
                "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias"}));
  std::vector<std::string> children;
  for (const auto& child : layer.children()) children.push_back(child.first);
  EXPECT_EQ(children, (std::vector<std::string>{"self_attn", "linear1", "dropout", "linear2", "norm1", "norm2",
                                                "dropout1", "dropout2"}));
  EXPECT_EQ(layer.linear1.weight.shape(), (Shape{16, 8}));
  EXPECT_TRUE(array_equal(layer.parameters().at("norm1.weight"), ones({8})));

  nn::TransformerDecoderLayer dec(8, 2, 16);
  children.clear();
  for (const auto& child : dec.children()) children.push_back(child.first);
  EXPECT_EQ(children, (std::vector<std::string>{"self_attn", "multihead_attn", "linear1", "dropout", "linear2",
                                                "norm1", "norm2", "norm3", "dropout1", "dropout2", "dropout3"}));
  EXPECT_EQ(dec.parameters().size(), 8u + 8u + 4u + 6u);

  // bias=false: no bias anywhere (linears, attention projections, norms).
  nn::TransformerDecoderLayer no_bias(8, 2, 16, 0.1, "relu", 1e-5, false, /*bias=*/false);
  for (const auto& name : no_bias.parameters().names()) {
    EXPECT_EQ(name.find("bias"), std::string::npos) << name;
  }
  EXPECT_EQ(no_bias.parameters().size(), 4u + 4u + 2u + 3u);
  EXPECT_EQ(no_bias(ones({2, 3, 8}), ones({2, 5, 8})).shape(), (Shape{2, 3, 8}));
  EXPECT_EQ(layer.describe(),
            "TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1, activation=relu, "
            "norm_first=false, bias=true)");

  nn::Transformer t(8, 2, 3, 2, 16);
  EXPECT_TRUE(t.parameters().contains("encoder.layers.2.norm2.bias"));
  EXPECT_TRUE(t.parameters().contains("decoder.layers.1.multihead_attn.value_proj.weight"));
  EXPECT_TRUE(t.parameters().contains("encoder.norm.weight"));
  EXPECT_TRUE(t.parameters().contains("decoder.norm.bias"));
  EXPECT_FALSE(t.parameters().contains("encoder.layers.3.norm1.weight"));
  EXPECT_NE(t.summary().find("layers: ModuleList(3)"), std::string::npos) << t.summary();
}

// The norms and dropouts are nn::LayerNorm and nn::Dropout, configured from the layer's arguments.
TEST(TransformerEncoderLayer, NormsAndDropoutsAreTheNnLayers) {
  nn::TransformerDecoderLayer dec(8, 2, 16, 0.25, "relu", 1e-6, false, /*bias=*/false);
  for (nn::LayerNorm* n : {&dec.norm1, &dec.norm2, &dec.norm3}) {
    EXPECT_EQ(n->describe(), "LayerNorm((8,), eps=1e-06, elementwise_affine=true, bias=false)");
    ASSERT_TRUE(n->weight.has_value());
    EXPECT_FALSE(n->bias.has_value());
  }
  for (nn::Dropout* d : {&dec.dropout, &dec.dropout1, &dec.dropout2, &dec.dropout3}) {
    EXPECT_EQ(d->p(), 0.25);
  }
  // train() / eval() reach them through the layer.
  dec.eval();
  EXPECT_FALSE(dec.dropout3.training());
  array x = random::normal({2, 3, 8}, float32, 0, 1, random::key(32));
  EXPECT_TRUE(array_equal(dec.dropout2(x), x));
  dec.train();
  EXPECT_TRUE(dec.dropout2.training());
  // A layer's norm is LayerNorm over d_model with the layer's eps.
  nn::TransformerEncoderLayer enc(8, 2, 16, 0.0, "relu", 1e-3);
  enc.norm1.update({{"weight", random::normal({8}, float32, 0, 1, random::key(33))},
                    {"bias", random::normal({8}, float32, 0, 1, random::key(34))}});
  array mean = expand_dims(sum(x, -1) / array(8.0f), -1);
  array var = expand_dims(sum(square(x - mean), -1) / array(8.0f), -1);
  array expected = (x - mean) / sqrt(var + array(1e-3f)) * *enc.norm1.weight + *enc.norm1.bias;
  EXPECT_TRUE(all_close(enc.norm1(x), expected, 1e-5, 1e-5));

  // The stacks' final norm is an optional LayerNorm with the layer's eps and bias.
  nn::TransformerEncoder with_norm(nn::TransformerEncoderLayer(8, 2, 16, 0.1, "relu", 1e-6, false, false), 1, true);
  ASSERT_TRUE(with_norm.norm.has_value());
  EXPECT_EQ(with_norm.norm->describe(), "LayerNorm((8,), eps=1e-06, elementwise_affine=true, bias=false)");
  EXPECT_EQ(with_norm.describe(), "TransformerEncoder(num_layers=1, norm=true)");
  EXPECT_TRUE(with_norm.parameters().contains("norm.weight"));
  EXPECT_FALSE(with_norm.parameters().contains("norm.bias"));
  nn::TransformerDecoder no_norm(nn::TransformerDecoderLayer(8, 2, 16), 2);
  EXPECT_FALSE(no_norm.norm.has_value());
  EXPECT_EQ(no_norm.describe(), "TransformerDecoder(num_layers=2, norm=false)");
  with_norm.eval();
  EXPECT_FALSE(with_norm.norm->training());
}

TEST(TransformerEncoder, LayersStartAsCopiesOfTheLayer) {
  nn::TransformerEncoderLayer layer(8, 2, 16);
  nn::TransformerEncoder encoder(layer, 3);
  EXPECT_FALSE(encoder.norm.has_value());
  EXPECT_EQ(encoder.layers.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    for (const auto& [name, value] : layer.state()) {
      EXPECT_TRUE(array_equal(encoder.layers[i].state().at(name), value)) << i << " " << name;
    }
  }
  // Without a final norm the stack is the layers applied in turn.
  encoder.eval();
  layer.eval();
  array x = random::normal({2, 4, 8}, float32, 0, 1, random::key(30));
  EXPECT_TRUE(all_close(encoder(x), layer(layer(layer(x))), 1e-5, 1e-6));
  // Xavier-uniform weights in nn::Transformer: different per layer, within the bound.
  nn::Transformer t(8, 2, 2, 2, 16);
  array w0 = t.encoder.layers[0].linear1.weight, w1 = t.encoder.layers[1].linear1.weight;
  EXPECT_FALSE(array_equal(w0, w1));
  EXPECT_LE(max(abs(w0)).item<float>(), std::sqrt(6.0f / (16 + 8)));
  EXPECT_GT(max(abs(*t.encoder.layers[0].linear1.bias)).item<float>(), 0.0f);  // biases keep Linear's draw
  EXPECT_TRUE(array_equal(t.decoder.layers[1].norm3.parameters().at("weight"), ones({8})));
}

TEST(TransformerEncoderLayer, DropoutOnlyInTraining) {
  nn::TransformerEncoderLayer layer(8, 2, 16, /*dropout=*/0.5);
  array x = random::normal({2, 4, 8}, float32, 0, 1, random::key(31));
  layer.eval();
  array a = layer(x), b = layer(x);
  EXPECT_TRUE(array_equal(a, b));
  layer.train();
  array c = layer(x);
  EXPECT_TRUE(all(isfinite(c)).item<bool>());
  EXPECT_FALSE(all_close(c, a));
  // dropout 0 in training mode is the eval-mode layer.
  nn::TransformerEncoderLayer plain(8, 2, 16, 0.0);
  plain.load_weights(layer.state());
  EXPECT_TRUE(plain.training());
  EXPECT_TRUE(all_close(plain(x), a, 1e-5, 1e-6));
  // Gradients flow through a training step.
  auto [loss, grads] = nn::value_and_grad(layer, [&](const array& in) { return sum(square(layer(in))); })(x);
  EXPECT_EQ(grads.size(), layer.trainable_parameters().size());
  EXPECT_TRUE(std::isfinite(loss.item<float>()));
}

TEST(Transformer, Errors) {
  EXPECT_THROW(nn::TransformerEncoderLayer(8, 3), std::invalid_argument);
  EXPECT_THROW(nn::TransformerEncoderLayer(0, 1), std::invalid_argument);
  EXPECT_THROW(nn::TransformerEncoderLayer(8, 2, 0), std::invalid_argument);
  EXPECT_THROW(nn::TransformerEncoderLayer(8, 2, 16, -0.1), std::invalid_argument);
  try {
    nn::TransformerEncoderLayer(8, 2, 16, 1.0);  // nn::Dropout's range
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "[TransformerEncoderLayer] dropout must be in [0, 1), got 1.000000");
  }
  EXPECT_THROW(nn::TransformerEncoderLayer(8, 2, 16, 0.1, "tanh"), std::invalid_argument);
  EXPECT_THROW(nn::TransformerDecoderLayer(8, 2, 16, 0.1, "relu", 0.0), std::invalid_argument);
  try {
    nn::TransformerDecoderLayer(8, 2, 16, 0.1, "swish");
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "[TransformerDecoderLayer] activation must be \"relu\" or \"gelu\", got \"swish\"");
  }
  nn::TransformerEncoderLayer layer(8, 2, 16);
  EXPECT_THROW(nn::TransformerEncoder(layer, 0), std::invalid_argument);
  EXPECT_THROW(nn::Transformer(8, 2, 0, 1, 16), std::invalid_argument);
  EXPECT_THROW(layer(ones({4, 8})), std::invalid_argument);
  EXPECT_THROW(layer(ones({2, 4, 6})), std::invalid_argument);
  EXPECT_THROW(layer(ones({2, 4, 8}), ones({4, 5})), std::invalid_argument);  // mask shape
  nn::TransformerDecoderLayer dec(8, 2, 16);
  EXPECT_THROW(dec(ones({2, 4, 8}), ones({3, 5, 8})), std::invalid_argument);  // batch sizes differ
  EXPECT_THROW(dec(ones({2, 4, 8}), ones({2, 5, 4})), std::invalid_argument);
  nn::Transformer t(8, 2, 1, 1, 16);
  EXPECT_THROW(t(ones({2, 5, 8}), ones({2, 4, 8}), std::nullopt, ones({5, 5})), std::invalid_argument);
  EXPECT_EQ(t(ones({2, 5, 8}), ones({2, 4, 8})).shape(), (Shape{2, 4, 8}));
}

}  // namespace
}  // namespace alloy
