#include "alloy/nn/quantized.h"

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "alloy/core/ops.h"

namespace alloy::nn {
namespace {

struct Scheme {
  int bits, group_size;
  quant::Type type;
};
// The formats with a quantized_matmul kernel (quant::has_matmul_kernel).
constexpr Scheme kSchemes[] = {
    {8, 32, quant::Type::Q8_0}, {4, 32, quant::Type::Q4_0},  {4, 256, quant::Type::Q4_K},
    {5, 256, quant::Type::Q5_K}, {6, 256, quant::Type::Q6_K},
};

[[noreturn]] void fail(const char* op, const std::string& message) {
  throw std::invalid_argument(std::string("[") + op + "] " + message);
}

}  // namespace

quant::Type quantization_type(int bits, int group_size, const char* op) {
  for (const Scheme& s : kSchemes) {
    if (s.bits == bits && s.group_size == group_size) return s.type;
  }
  std::string supported;
  for (const Scheme& s : kSchemes) {
    supported += std::string(supported.empty() ? "" : ", ") + "(" + std::to_string(s.bits) + ", " +
                 std::to_string(s.group_size) + ") " + quant::name(s.type);
  }
  fail(op, "(bits, group_size) = (" + std::to_string(bits) + ", " + std::to_string(group_size) +
               ") is not supported; the supported pairs are " + supported);
}

std::pair<int, int> quantization_bits(quant::Type type) {
  for (const Scheme& s : kSchemes) {
    if (s.type == type) return {s.bits, s.group_size};
  }
  fail("quantization_bits", std::string(quant::name(type)) + " is not one of the nn quantization formats");
}

array quantize_rows(const array& w, quant::Type type, const char* op) {
  if (w.ndim() != 2 || !is_floating(w.dtype())) {
    fail(op, "expects floating rows (N, K), got " + std::string(dtype_name(w.dtype())) + " " +
                 shape_to_string(w.shape()));
  }
  const quant::Format& f = quant::format(type);
  const int64_t N = w.shape(0), K = w.shape(1);
  if (K % f.block_size != 0) {
    fail(op, "rows of " + std::to_string(K) + " values are not whole " + f.name + " blocks of " +
                 std::to_string(f.block_size) + " (in_features must be a multiple of " +
                 std::to_string(f.block_size) + ")");
  }
  const std::vector<float> values = w.to_vector<float>();  // evaluates, row-major
  const size_t rb = quant::row_bytes(type, K);
  std::vector<uint8_t> blocks(size_t(N) * rb);
  for (int64_t r = 0; r < N; ++r) {
    quant::quantize_row(type, values.data() + r * K, blocks.data() + size_t(r) * rb, K);
  }
  return array(blocks, {N, int64_t(rb)});
}

namespace {

// Validates before the Linear base is built, so errors name QuantizedLinear.
int64_t checked_in_features(int64_t in_features, int bits, int group_size) {
  quant::Type type = quantization_type(bits, group_size, "QuantizedLinear");
  int block = quant::format(type).block_size;
  if (in_features <= 0 || in_features % block != 0) {
    fail("QuantizedLinear", "in_features must be a positive multiple of the " + std::string(quant::name(type)) +
                                " block size " + std::to_string(block) + ", got " + std::to_string(in_features));
  }
  return in_features;
}

const Linear& checked_float(const Linear& linear) {
  if (linear.is_quantized()) {
    fail("QuantizedLinear", std::string("the Linear is already quantized (") + quant::name(*linear.quant_type()) + ")");
  }
  return linear;
}

// Validates before the Embedding base is built, so errors name QuantizedEmbedding.
int64_t checked_dims(int64_t dims, int bits, int group_size) {
  quant::Type type = quantization_type(bits, group_size, "QuantizedEmbedding");
  int block = quant::format(type).block_size;
  if (dims <= 0 || dims % block != 0) {
    fail("QuantizedEmbedding", "dims must be a positive multiple of the " + std::string(quant::name(type)) +
                                   " block size " + std::to_string(block) + ", got " + std::to_string(dims));
  }
  return dims;
}

const Embedding& checked_float(const Embedding& embedding) {
  if (embedding.is_quantized()) {
    fail("QuantizedEmbedding",
         std::string("the Embedding is already quantized (") + quant::name(*embedding.quant_type()) + ")");
  }
  return embedding;
}

void quantize_tree(Module& m, const std::string& path, int bits, int group_size, int block,
                   const QuantizePredicate& predicate) {
  if (auto* linear = dynamic_cast<Linear*>(&m)) {
    if (!linear->is_quantized() && linear->in_features() % block == 0 && (!predicate || predicate(path, m))) {
      linear->quantize(bits, group_size);
    }
  } else if (auto* embedding = dynamic_cast<Embedding*>(&m)) {
    if (!embedding->is_quantized() && embedding->dims() % block == 0 && (!predicate || predicate(path, m))) {
      embedding->quantize(bits, group_size);
    }
  }
  for (const auto& [name, child] : m.children()) {
    quantize_tree(*child, path.empty() ? name : path + "." + name, bits, group_size, block, predicate);
  }
}

}  // namespace

QuantizedLinear::QuantizedLinear(int64_t in_features, int64_t out_features, bool bias, int bits, int group_size,
                                 Dtype dtype)
    : Linear(checked_in_features(in_features, bits, group_size), out_features, bias, dtype) {
  quantize(bits, group_size);
}

QuantizedLinear::QuantizedLinear(const Linear& linear, int bits, int group_size)
    : Linear(checked_in_features(checked_float(linear).in_features(), bits, group_size), linear.out_features(),
             linear.bias.has_value(), linear.weight.dtype()) {
  weight = linear.weight;
  if (bias) *bias = *linear.bias;
  quantize(bits, group_size);
}

std::string QuantizedLinear::describe() const {
  auto [bits, group_size] = quantization_bits(*quant_type());
  return "QuantizedLinear(" + std::to_string(in_features()) + ", " + std::to_string(out_features()) +
         ", bias=" + (bias ? "true" : "false") + ", bits=" + std::to_string(bits) +
         ", group_size=" + std::to_string(group_size) + ", " + quant::name(*quant_type()) + ")";
}

QuantizedEmbedding::QuantizedEmbedding(int64_t num_embeddings, int64_t dims, int bits, int group_size, Dtype dtype)
    : Embedding(num_embeddings, checked_dims(dims, bits, group_size), dtype) {
  quantize(bits, group_size);
}

QuantizedEmbedding::QuantizedEmbedding(const Embedding& embedding, int bits, int group_size)
    : Embedding(embedding.num_embeddings(), checked_dims(checked_float(embedding).dims(), bits, group_size),
                embedding.weight.dtype()) {
  weight = embedding.weight;
  quantize(bits, group_size);
}

std::string QuantizedEmbedding::describe() const {
  auto [bits, group_size] = quantization_bits(*quant_type());
  return "QuantizedEmbedding(" + std::to_string(num_embeddings()) + ", " + std::to_string(dims()) +
         ", bits=" + std::to_string(bits) + ", group_size=" + std::to_string(group_size) + ", " +
         quant::name(*quant_type()) + ")";
}

void quantize(Module& model, int bits, int group_size, const QuantizePredicate& predicate) {
  quant::Type type = quantization_type(bits, group_size, "nn::quantize");
  quantize_tree(model, "", bits, group_size, quant::format(type).block_size, predicate);
}

}  // namespace alloy::nn
