// Quantized layers: QuantizedLinear / Linear::quantize and QuantizedEmbedding /
// Embedding::quantize against the dense layers on the dequantized weights (tight, or exact for
// the lookup) and on the original weights (the format's error), input gradients through
// quantized_matmul, nn::quantize over a model tree (tied embeddings too), save/load, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <iterator>

#include "alloy/core/quantized.h"
#include "alloy/nn/nn.h"
#include "torch_reference.h"

namespace alloy {
namespace {

using test::all_close;

struct Scheme {
  int bits, group_size;
  quant::Type type;
  double max_error;  // bound on |y - y_float| / |y_float| (Frobenius) on normal weights and inputs
};
// Measured (K = 512, normal weights and inputs, these seeds): Q8_0 0.81%, Q4_0 8.5%, Q4_K 7.7%,
// Q5_K 3.9%, Q6_K 2.0%, as rounding to steps d predicts (RMS d / sqrt(12); Q4_0: d = amax / 8 of
// 32 normals, about 0.3 sigma, so 9%); they include the 8-bit activations (about 0.6%). The
// bounds leave about 1.3x.
const Scheme kSchemes[] = {{8, 32, quant::Type::Q8_0, 0.011},
                           {4, 32, quant::Type::Q4_0, 0.11},
                           {4, 256, quant::Type::Q4_K, 0.10},
                           {5, 256, quant::Type::Q5_K, 0.05},
                           {6, 256, quant::Type::Q6_K, 0.026}};

// The activations as quantized_matmul sees them: rows quantized to 8 bits (Q8_0 blocks for
// Q4_0/Q8_0 weights, Q8_K for the K types, as llama.cpp) and decoded again.
array as_kernel_activations(const array& x, quant::Type weight_type) {
  quant::Type t = weight_type == quant::Type::Q4_0 || weight_type == quant::Type::Q8_0 ? quant::Type::Q8_0
                                                                                       : quant::Type::Q8_K;
  const int64_t K = x.shape(-1);
  std::vector<float> v = astype(x, float32).to_vector<float>(), out(v.size());
  std::vector<uint8_t> blocks(quant::row_bytes(t, K));
  for (size_t r = 0; r < v.size() / size_t(K); ++r) {
    quant::quantize_row(t, v.data() + r * K, blocks.data(), K);
    quant::dequantize_row(t, blocks.data(), out.data() + r * K, K);
  }
  return array(out, x.shape());
}

double relative_error(const array& a, const array& b) {
  array d = astype(a, float64) - astype(b, float64);
  return std::sqrt(sum(square(d)).item<double>() / sum(square(astype(b, float64))).item<double>());
}

TEST(QuantizedLinear, MatchesDenseLinearOnDequantizedWeights) {
  array x = random::normal({5, 512}, float32, 0, 1, random::key(1));
  for (const Scheme& s : kSchemes) {
    nn::Linear dense(512, 24);
    dense.weight = random::normal({24, 512}, float32, 0, 0.05, random::key(2));
    nn::QuantizedLinear q(dense, s.bits, s.group_size);
    ASSERT_EQ(q.quant_type(), s.type);
    EXPECT_EQ(q.weight.dtype(), uint8);
    EXPECT_EQ(q.weight.shape(), (Shape{24, int64_t(quant::row_bytes(s.type, 512))}));
    array y = q(x);
    EXPECT_EQ(y.shape(), (Shape{5, 24}));
    EXPECT_EQ(y.dtype(), float32);
    // The dense Linear with dequantize(w) as its weight, on the activations the kernel uses:
    // the same products, summed in another order.
    nn::Linear reference(512, 24);
    reference.weight = dequantize(q.weight, s.type);
    *reference.bias = *q.bias;
    EXPECT_TRUE(all_close(y, reference(as_kernel_activations(x, s.type)), 2e-5, 2e-6)) << quant::name(s.type);
    // Against the original float weights: the format's error.
    double err = relative_error(y, dense(x));
    EXPECT_LT(err, s.max_error) << quant::name(s.type);
    EXPECT_GT(err, 0.0) << quant::name(s.type);
  }
}

TEST(QuantizedLinear, GradientsFlowToInputAndBias) {
  array x = random::normal({3, 4, 256}, float32, 0, 1, random::key(3));
  array cot = random::normal({3, 4, 16}, float32, 0, 1, random::key(4));
  for (const Scheme& s : kSchemes) {
    nn::QuantizedLinear q(256, 16, true, s.bits, s.group_size);
    auto [outs, grads] = vjp([&](const std::vector<array>& p) { return std::vector<array>{q(p[0])}; }, {x}, {cot});
    // d/dx (x W^T) = cot W, with W the dequantized weights.
    EXPECT_TRUE(all_close(grads[0], matmul(cot, dequantize(q.weight, s.type)), 1e-5, 1e-5)) << quant::name(s.type);
    // Only the bias is trained; its gradient is the cotangent summed over the batch.
    auto [loss, g] = nn::value_and_grad(q, [&](const array& in) { return sum(q(in) * cot); })(x);
    EXPECT_EQ(g.names(), (std::vector<std::string>{"bias"}));
    EXPECT_TRUE(all_close(g.at("bias"), sum(cot, Axes{0, 1}), 1e-5, 1e-5));
  }
}

TEST(QuantizedLinear, ConstructionStateAndDescribe) {
  nn::QuantizedLinear q(64, 8, /*bias=*/true, 8, 32);
  EXPECT_TRUE(q.is_quantized());
  EXPECT_EQ(q.weight.shape(), (Shape{8, 2 * 34}));  // two Q8_0 blocks of 34 bytes per row
  EXPECT_EQ(q.parameters().names(), (std::vector<std::string>{"bias"}));
  EXPECT_EQ(q.buffers().names(), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(q.state().names(), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(q.describe(), "QuantizedLinear(64, 8, bias=true, bits=8, group_size=32, Q8_0)");
  nn::QuantizedLinear no_bias(256, 4, false, 6, 256);
  EXPECT_TRUE(no_bias.parameters().empty());
  EXPECT_EQ(no_bias.forward(ones({2, 256})).shape(), (Shape{2, 4}));
  // In place on a Linear: same result as the QuantizedLinear built from it.
  nn::Linear lin(64, 8);
  nn::QuantizedLinear from(lin, 4, 32);
  EXPECT_FALSE(lin.is_quantized());
  EXPECT_EQ(lin.quant_type(), std::nullopt);
  lin.quantize(4, 32);
  EXPECT_TRUE(array_equal(lin.weight, from.weight));
  EXPECT_EQ(lin.describe(), "Linear(64, 8, bias=true, quantized=Q4_0)");
  array x = random::normal({3, 64}, float32, 0, 1, random::key(5));
  EXPECT_TRUE(array_equal(lin(x), from(x)));
  // set_dtype casts the bias, not the blocks; the output follows the input's dtype.
  lin.set_dtype(float64);
  EXPECT_EQ(lin.weight.dtype(), uint8);
  EXPECT_EQ(lin.bias->dtype(), float64);
  EXPECT_EQ(lin(astype(x, float64)).dtype(), float64);
  EXPECT_EQ(nn::quantization_type(5, 256), quant::Type::Q5_K);
  EXPECT_EQ(nn::quantization_bits(quant::Type::Q4_K), (std::pair<int, int>{4, 256}));
}

struct MLP : nn::Module {
  nn::Linear fc1{256, 64}, fc2{64, 10};
  MLP() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  array forward(const array& x) { return fc2(nn::relu(fc1(x))); }
};

TEST(Quantize, WalksTheModelTree) {
  MLP m;
  array x = random::normal({4, 256}, float32, 0, 1, random::key(6));
  array before = m.forward(x);
  nn::quantize(m, 4, 32);
  EXPECT_TRUE(m.fc1.is_quantized() && m.fc2.is_quantized());
  EXPECT_EQ(m.parameters().names(), (std::vector<std::string>{"fc1.bias", "fc2.bias"}));
  EXPECT_EQ(m.trainable_parameters().names(), (std::vector<std::string>{"fc1.bias", "fc2.bias"}));
  EXPECT_EQ(m.buffers().names(), (std::vector<std::string>{"fc1.weight", "fc2.weight"}));
  EXPECT_EQ(m.buffers().at("fc1.weight").dtype(), uint8);
  EXPECT_LT(relative_error(m.forward(x), before), 0.15);
  auto [loss, grads] = nn::value_and_grad(m, [&](const array& in) { return sum(square(m.forward(in))); })(x);
  EXPECT_EQ(grads.names(), (std::vector<std::string>{"fc1.bias", "fc2.bias"}));
  EXPECT_NE(m.summary().find("MLP: 74 parameters"), std::string::npos) << m.summary();

  // Only the layers whose in_features are whole blocks: 256 is, 64 is not a Q4_K super-block.
  MLP k;
  nn::quantize(k, 4, 256);
  EXPECT_TRUE(k.fc1.is_quantized());
  EXPECT_FALSE(k.fc2.is_quantized());
  EXPECT_EQ(k.parameters().names(), (std::vector<std::string>{"fc1.bias", "fc2.weight", "fc2.bias"}));
  // Already quantized layers are left alone.
  nn::quantize(k, 8, 32);
  EXPECT_EQ(k.fc1.quant_type(), quant::Type::Q4_K);
  EXPECT_EQ(k.fc2.quant_type(), quant::Type::Q8_0);

  // A predicate on the dotted path.
  MLP p;
  std::vector<std::string> seen;
  nn::quantize(p, 8, 32, [&](const std::string& path, nn::Module&) {
    seen.push_back(path);
    return path == "fc2";
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"fc1", "fc2"}));
  EXPECT_FALSE(p.fc1.is_quantized());
  EXPECT_TRUE(p.fc2.is_quantized());

  // Sequential children and the model itself.
  nn::Sequential seq(std::make_unique<nn::Linear>(32, 64), std::make_unique<nn::ReLU>(),
                     std::make_unique<nn::Linear>(64, 3));
  nn::quantize(seq, 8, 32);
  EXPECT_EQ(seq.buffers().names(), (std::vector<std::string>{"0.weight", "2.weight"}));
  nn::Linear alone(32, 2);
  nn::quantize(alone);
  EXPECT_EQ(alone.quant_type(), quant::Type::Q4_0);
  // Attention projections are Linears too.
  nn::MultiHeadAttention mha(64, 4);
  nn::quantize(mha, 8, 32);
  EXPECT_EQ(mha.parameters().size(), 4u);  // the biases
  array q = random::normal({2, 3, 64}, float32, 0, 1, random::key(7));
  EXPECT_EQ(mha(q, q, q).shape(), (Shape{2, 3, 64}));
}

TEST(Quantize, SaveLoadRoundTrip) {
  std::string path = testing::TempDir() + "alloy_quantized_roundtrip.safetensors";
  MLP a;
  nn::quantize(a, 6, 256);  // fc1 Q6_K, fc2 float
  a.save_weights(path);
  MLP b;
  nn::quantize(b, 6, 256);
  EXPECT_FALSE(array_equal(a.fc1.weight, b.fc1.weight));
  b.load_weights(path);
  for (const auto& [name, value] : a.state()) {
    EXPECT_EQ(b.state().at(name).dtype(), value.dtype()) << name;
    EXPECT_TRUE(array_equal(b.state().at(name), value)) << name;
  }
  array x = random::normal({2, 256}, float32, 0, 1, random::key(8));
  EXPECT_TRUE(array_equal(a.forward(x), b.forward(x)));
  // A float model cannot take the blocks: the shapes name the entry.
  MLP dense;
  try {
    dense.load_weights(path);
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'fc1.weight'"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(Quantize, Errors) {
  try {
    nn::quantization_type(3, 32);
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("(bits, group_size) = (3, 32) is not supported; the supported pairs are "
                                         "(8, 32) Q8_0, (4, 32) Q4_0, (4, 256) Q4_K, (5, 256) Q5_K, (6, 256) Q6_K"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(nn::quantization_type(4, 64), std::invalid_argument);
  EXPECT_THROW(nn::quantization_type(2, 256), std::invalid_argument);
  MLP m;
  EXPECT_THROW(nn::quantize(m, 4, 128), std::invalid_argument);
  EXPECT_FALSE(m.fc1.is_quantized());
  EXPECT_THROW(nn::QuantizedLinear(100, 8), std::invalid_argument);  // 100 is not whole Q4_0 blocks
  try {
    nn::QuantizedLinear(128, 8, true, 4, 256);
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[QuantizedLinear] in_features must be a positive multiple of the Q4_K "
                                         "block size 256, got 128"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(nn::QuantizedLinear(64, 8, true, 7, 32), std::invalid_argument);
  nn::Linear lin(48, 4);
  EXPECT_THROW(lin.quantize(4, 32), std::invalid_argument);  // 48 is not whole blocks
  EXPECT_FALSE(lin.is_quantized());
  EXPECT_EQ(lin.parameters().size(), 2u);
  nn::Linear twice(64, 4);
  twice.quantize(8, 32);
  EXPECT_THROW(twice.quantize(8, 32), std::invalid_argument);
  EXPECT_THROW(nn::QuantizedLinear{twice}, std::invalid_argument);  // already quantized
  EXPECT_THROW(twice(ones({2, 32})), std::invalid_argument);        // wrong features
  EXPECT_THROW(nn::quantize_rows(ones({4}), quant::Type::Q8_0), std::invalid_argument);
  EXPECT_THROW(nn::quantize_rows(ones({4, 32}, int32), quant::Type::Q8_0), std::invalid_argument);
}

// ---------- Embedding ----------

// Bounds on |y - y_float| / |y_float| (Frobenius) for the embedding, in kSchemes' order.
// The lookup (N(0, 1) weights, dims 512) has the weights' rounding alone, measured with these
// seeds: Q8_0 0.53%, Q4_0 8.7%, Q4_K 7.1%, Q5_K 3.5%, Q6_K 1.8%. as_linear adds the 8-bit
// activations: 0.83%, 10.8%, 7.9%, 4.3%, 2.4%. The bounds leave about 1.3x.
const double kLookupBounds[] = {0.007, 0.11, 0.095, 0.046, 0.024};
const double kAsLinearBounds[] = {0.011, 0.14, 0.105, 0.056, 0.031};

TEST(QuantizedEmbedding, LookupMatchesDenseEmbeddingOnDequantizedWeights) {
  // Repeated, negative (from the end) and unordered indices, (2, 3).
  array idx = array(std::vector<int32_t>{3, 0, 19, 3, -1, 7}, {2, 3});
  for (size_t i = 0; i < std::size(kSchemes); ++i) {
    const Scheme& s = kSchemes[i];
    nn::Embedding dense(20, 512);
    nn::QuantizedEmbedding q(dense, s.bits, s.group_size);
    ASSERT_EQ(q.quant_type(), s.type);
    EXPECT_EQ(q.weight.dtype(), uint8);
    EXPECT_EQ(q.weight.shape(), (Shape{20, int64_t(quant::row_bytes(s.type, 512))}));
    array y = q(idx);
    EXPECT_EQ(y.shape(), (Shape{2, 3, 512}));
    EXPECT_EQ(y.dtype(), float32);
    // The dense Embedding holding dequantize(blocks): the same rows, bit for bit.
    nn::Embedding reference(20, 512);
    reference.weight = dequantize(q.weight, s.type);
    EXPECT_TRUE(array_equal(y, reference(idx))) << quant::name(s.type);
    EXPECT_TRUE(array_equal(q(astype(idx, int64)), y)) << quant::name(s.type);
    // Against the float rows: the format's error, and not zero.
    double err = relative_error(y, dense(idx));
    EXPECT_LT(err, kLookupBounds[i]) << quant::name(s.type);
    EXPECT_GT(err, 0.0) << quant::name(s.type);
    // A scalar index gives one row.
    EXPECT_TRUE(array_equal(q(array(int32_t(19))), reshape(slice(reference.weight, {19, 0}, {20, 512}), {512})));
  }
}

TEST(QuantizedEmbedding, AsLinearMatchesDenseOnDequantizedWeights) {
  array x = random::normal({2, 3, 512}, float32, 0, 1, random::key(20));
  array cot = random::normal({2, 3, 24}, float32, 0, 1, random::key(21));
  for (size_t i = 0; i < std::size(kSchemes); ++i) {
    const Scheme& s = kSchemes[i];
    nn::Embedding dense(24, 512);
    dense.weight = random::normal({24, 512}, float32, 0, 0.05, random::key(22));
    nn::QuantizedEmbedding q(dense, s.bits, s.group_size);
    array y = q.as_linear(x);
    EXPECT_EQ(y.shape(), (Shape{2, 3, 24}));
    EXPECT_EQ(y.dtype(), float32);
    nn::Embedding reference(24, 512);
    reference.weight = dequantize(q.weight, s.type);
    EXPECT_TRUE(all_close(y, reference.as_linear(as_kernel_activations(x, s.type)), 2e-5, 2e-6))
        << quant::name(s.type);
    double err = relative_error(y, dense.as_linear(x));
    EXPECT_LT(err, kAsLinearBounds[i]) << quant::name(s.type);
    EXPECT_GT(err, 0.0) << quant::name(s.type);
    // The gradient reaches x: cot W with W the dequantized weights.
    auto [outs, grads] =
        vjp([&](const std::vector<array>& p) { return std::vector<array>{q.as_linear(p[0])}; }, {x}, {cot});
    EXPECT_TRUE(all_close(grads[0], matmul(cot, reference.weight), 1e-5, 1e-5)) << quant::name(s.type);
  }
}

TEST(QuantizedEmbedding, ConstructionStateAndDescribe) {
  nn::QuantizedEmbedding q(100, 64, 8, 32);
  EXPECT_TRUE(q.is_quantized());
  EXPECT_EQ(q.num_embeddings(), 100);
  EXPECT_EQ(q.dims(), 64);
  EXPECT_EQ(q.weight.shape(), (Shape{100, 2 * 34}));  // two Q8_0 blocks of 34 bytes per row
  EXPECT_TRUE(q.parameters().empty());
  EXPECT_EQ(q.buffers().names(), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(q.state().names(), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(q.describe(), "QuantizedEmbedding(100, 64, bits=8, group_size=32, Q8_0)");
  // Fresh weights are N(0, 1), as Embedding's: Q8_0 keeps them to 1%.
  array rows = dequantize(q.weight, quant::Type::Q8_0);
  EXPECT_NEAR(mean(rows).item<float>(), 0.0f, 0.05f);
  EXPECT_NEAR(std::sqrt(mean(square(rows)).item<float>()), 1.0f, 0.05f);

  // In place on an Embedding: the same blocks as the QuantizedEmbedding built from it.
  nn::Embedding e(10, 256);
  nn::QuantizedEmbedding from(e, 4, 256);
  EXPECT_FALSE(e.is_quantized());
  EXPECT_EQ(e.quant_type(), std::nullopt);
  EXPECT_EQ(e.describe(), "Embedding(10, 256)");
  e.quantize(4, 256);
  EXPECT_EQ(e.quant_type(), quant::Type::Q4_K);
  EXPECT_TRUE(array_equal(e.weight, from.weight));
  EXPECT_EQ(e.describe(), "Embedding(10, 256, quantized=Q4_K)");
  EXPECT_TRUE(e.parameters().empty());
  array idx = array(std::vector<int64_t>{1, 9, 1}, {3});
  EXPECT_TRUE(array_equal(e(idx), from(idx)));
  EXPECT_TRUE(e.trainable_parameters().empty());  // nothing to train

  // The rows come back in the dtype the weights had; as_linear follows its input.
  nn::Embedding half(8, 32, bfloat16);
  half.quantize(8, 32);
  array small = array(std::vector<int64_t>{1, 7, 1}, {3});
  EXPECT_EQ(half(small).dtype(), bfloat16);
  nn::QuantizedEmbedding wide(8, 32, 4, 32, float64);
  EXPECT_EQ(wide(small).dtype(), float64);
  EXPECT_EQ(wide.as_linear(ones({2, 32}, float16)).dtype(), float16);
  wide.set_dtype(float32);  // no floating state: the blocks stay
  EXPECT_EQ(wide.weight.dtype(), uint8);
}

// A language-model shape: token embedding, a hidden Linear, the output tied to the embedding.
struct TiedLM : nn::Module {
  nn::Embedding tok;
  nn::Linear hidden;
  explicit TiedLM(int64_t dims = 64) : tok(50, dims), hidden(dims, dims) {
    register_module("tok", tok);
    register_module("hidden", hidden);
  }
  array forward(const array& idx) { return tok.as_linear(nn::relu(hidden(tok(idx)))); }  // (..., 50)
};

TEST(Quantize, EmbeddingsAndTiedOutput) {
  array idx = array(std::vector<int32_t>{4, 8, 15, 16, 23, 42}, {2, 3});
  TiedLM m;
  array before = m.forward(idx);
  nn::Embedding float_tok(50, 64);
  float_tok.weight = m.tok.weight;
  std::vector<std::string> seen;
  nn::quantize(m, 8, 32, [&](const std::string& path, nn::Module&) {
    seen.push_back(path);
    return true;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"tok", "hidden"}));
  ASSERT_TRUE(m.tok.is_quantized());
  EXPECT_EQ(m.tok.quant_type(), quant::Type::Q8_0);
  EXPECT_TRUE(m.hidden.is_quantized());
  EXPECT_EQ(m.parameters().names(), (std::vector<std::string>{"hidden.bias"}));
  EXPECT_EQ(m.buffers().names(), (std::vector<std::string>{"tok.weight", "hidden.weight"}));
  // Input and tied output read the same blocks: the output is quantized_matmul on them.
  array h = nn::relu(m.hidden(m.tok(idx)));
  EXPECT_TRUE(array_equal(m.forward(idx), quantized_matmul(h, m.tok.weight, quant::Type::Q8_0)));
  EXPECT_TRUE(array_equal(m.tok(idx), take(dequantize(m.tok.weight, quant::Type::Q8_0), idx, 0)));
  // Three Q8_0 steps (lookup, hidden, output): 1.04% measured with these seeds.
  double err = relative_error(m.forward(idx), before);
  EXPECT_LT(err, 0.014);
  EXPECT_GT(err, 0.0);
  EXPECT_LT(relative_error(m.tok(idx), float_tok(idx)), kLookupBounds[0]);
  // Gradients reach only the bias.
  auto [loss, grads] = nn::value_and_grad(m, [&](const array& in) { return sum(square(m.forward(in))); })(idx);
  EXPECT_EQ(grads.names(), (std::vector<std::string>{"hidden.bias"}));

  // dims that are not whole blocks are skipped (64 is no Q4_K super-block), as for Linear; the
  // predicate can keep the embedding dense.
  TiedLM k;
  nn::quantize(k, 4, 256);
  EXPECT_FALSE(k.tok.is_quantized());
  EXPECT_FALSE(k.hidden.is_quantized());
  TiedLM wide(256);
  nn::quantize(wide, 4, 256, [](const std::string& path, nn::Module&) { return path != "tok"; });
  EXPECT_FALSE(wide.tok.is_quantized());
  EXPECT_EQ(wide.hidden.quant_type(), quant::Type::Q4_K);
  nn::quantize(wide, 6, 256);  // now the embedding; the Linear stays Q4_K
  EXPECT_EQ(wide.tok.quant_type(), quant::Type::Q6_K);
  EXPECT_EQ(wide.hidden.quant_type(), quant::Type::Q4_K);
  // An Embedding alone, and inside a Sequential.
  nn::Embedding alone(7, 32);
  nn::quantize(alone);
  EXPECT_EQ(alone.quant_type(), quant::Type::Q4_0);
  nn::Sequential seq(std::make_unique<nn::Embedding>(10, 32), std::make_unique<nn::Linear>(32, 4));
  nn::quantize(seq, 8, 32);
  EXPECT_EQ(seq.buffers().names(), (std::vector<std::string>{"0.weight", "1.weight"}));
  EXPECT_EQ(seq(array(std::vector<int32_t>{0, 9}, {2})).shape(), (Shape{2, 4}));
}

TEST(Quantize, EmbeddingSaveLoadRoundTrip) {
  std::string path = testing::TempDir() + "alloy_quantized_embedding_roundtrip.safetensors";
  TiedLM a(256);
  nn::quantize(a, 5, 256);
  a.save_weights(path);
  TiedLM b(256);
  nn::quantize(b, 5, 256);
  EXPECT_FALSE(array_equal(a.tok.weight, b.tok.weight));
  b.load_weights(path);
  ASSERT_EQ(b.state().names(), a.state().names());
  for (const auto& [name, value] : a.state()) {
    EXPECT_EQ(b.state().at(name).dtype(), value.dtype()) << name;
    EXPECT_TRUE(array_equal(b.state().at(name), value)) << name;
  }
  array idx = array(std::vector<int32_t>{0, 49, 7}, {3});
  EXPECT_TRUE(array_equal(a.forward(idx), b.forward(idx)));
  // A float Embedding cannot take the blocks: the shapes name the entry.
  TiedLM dense(256);
  nn::quantize(dense, 5, 256, [](const std::string& path, nn::Module&) { return path != "tok"; });
  try {
    dense.load_weights(path);
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("'tok.weight'"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(QuantizedEmbedding, Errors) {
  try {
    nn::QuantizedEmbedding(10, 48);  // 48 is not whole Q4_0 blocks
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "[QuantizedEmbedding] dims must be a positive multiple of the Q4_0 block size 32, got 48");
  }
  EXPECT_THROW(nn::QuantizedEmbedding(10, 64, 3, 32), std::invalid_argument);
  EXPECT_THROW(nn::QuantizedEmbedding(10, 128, 4, 256), std::invalid_argument);
  EXPECT_THROW(nn::QuantizedEmbedding(0, 32), std::invalid_argument);
  EXPECT_THROW(nn::QuantizedEmbedding(4, 32, 4, 32, int32), std::invalid_argument);
  nn::Embedding e(10, 48);
  try {
    e.quantize(4, 32);
    ADD_FAILURE() << "expected an error";
  } catch (const std::invalid_argument& err) {
    EXPECT_EQ(std::string(err.what()), "[Embedding::quantize] dims must be a multiple of the Q4_0 block size 32, got 48");
  }
  EXPECT_FALSE(e.is_quantized());
  EXPECT_EQ(e.parameters().names(), (std::vector<std::string>{"weight"}));
  EXPECT_THROW(e.quantize(7, 32), std::invalid_argument);
  nn::Embedding twice(10, 32);
  twice.quantize(8, 32);
  EXPECT_THROW(twice.quantize(8, 32), std::invalid_argument);
  EXPECT_THROW(twice.quantize(4, 32), std::invalid_argument);
  EXPECT_THROW(nn::QuantizedEmbedding{twice}, std::invalid_argument);  // already quantized
  EXPECT_THROW(twice(ones({3})), std::invalid_argument);                // float indices
  EXPECT_THROW(twice.as_linear(ones({2, 16})), std::invalid_argument);  // wrong dims
  EXPECT_THROW(twice.as_linear(array(1.0f)), std::invalid_argument);
  EXPECT_THROW(twice.as_linear(ones({2, 32}, int32)), std::invalid_argument);
  EXPECT_THROW(twice(array(std::vector<int32_t>{10}, {1})).eval(), std::out_of_range);
}

}  // namespace
}  // namespace alloy
