#include "alloy/llm/generate/decoder.h"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "alloy/backend/gpu_api.h"
#include "alloy/core/ops.h"
#include "alloy/core/transforms.h"

namespace alloy::llm {

namespace {

bool graphs_enabled(Device d) {
  const char* v = std::getenv(d == Device::gpu ? "ALLOY_CUDA_GRAPH" : "ALLOY_CPU_GRAPH");
  return !(v && std::string(v) == "0");
}

std::vector<const void*> buffers_of(const std::vector<array>& arrays) {
  std::vector<const void*> out;
  for (const array& a : arrays) out.push_back(a.data_shared_ptr() ? a.data_shared_ptr()->buffer.ptr : nullptr);
  return out;
}

}  // namespace

std::vector<float> last_logits(const array& logits) {
  const int64_t V = logits.shape(-1), rows = int64_t(logits.size()) / V;
  return slice(reshape(logits, {rows, V}), {rows - 1, 0}, {rows, V}).to_vector<float>();
}

Decoder::Decoder(const Model& model, KVCache& cache)
    : model_(model), cache_(cache), use_graph_(graphs_enabled(model.device())) {
  if (!use_graph_) return;
  token_ = zeros({1, 1}, int32, model.device());
  position_ = zeros({1}, int32, model.device());
  eval({token_, position_});
}

Decoder::~Decoder() = default;

std::vector<float> Decoder::step_op_by_op(int32_t token) {
  return last_logits(model_.forward(array(std::vector<int32_t>{token}, {1, 1}), cache_, true));
}

std::vector<float> Decoder::step(int32_t token) {
  const int64_t V = model_.config().vocab_size;
  if (token < 0 || token >= V) {
    throw std::invalid_argument("token " + std::to_string(token) + " is outside the vocabulary of " + std::to_string(V));
  }
  if (!use_graph_) return step_op_by_op(token);
  const int64_t position = cache_.offset();
  if (position + 1 > model_.config().context_length) {
    throw std::invalid_argument("the prompt and the generated text need " + std::to_string(position + 1) +
                                " positions, past the model's context length of " +
                                std::to_string(model_.config().context_length));
  }
  cache_.reserve(position + 1);
  if (model_.device() == Device::cpu) return step_cpu(token, position);
  if (buffers_of(cache_.state()) != buffers_) {
    graph_.reset();
    eval(cache_.state());  // grown buffers hold their values before a recording reads them
  }
  const Stream s = default_stream(Device::gpu);
  const int32_t inputs[2] = {token, int32_t(position)};
  gpu::write(token_, &inputs[0], sizeof(int32_t), s);
  gpu::write(position_, &inputs[1], sizeof(int32_t), s);
  if (!checked_) return step_checked();
  if (!graph_) {
    record();
    if (!use_graph_) return step_op_by_op(token);
  } else {
    cache_.advance(1);  // what decode_step did while it was recorded
  }
  gpu::replay(*graph_, s);
  std::vector<float> logits(static_cast<size_t>(V));
  gpu::read(logits_, logits.data(), logits.size() * sizeof(float), s);
  return logits;
}

// The first step (and the first after the cache grows or moves) records decode_step; the others
// write the token and position into its input slots and run it again. The cache's update nodes
// carry their buffers from one run to the next (RecordedGraph), so the cache is written in place.
std::vector<float> Decoder::step_cpu(int32_t token, int64_t position) {
  if (buffers_of(cache_.state()) != buffers_) {
    cpu_graph_.reset();
    eval(cache_.state());  // as on the GPU: the recording must not hold the growth itself
  }
  token_.data<int32_t>()[0] = token;
  position_.data<int32_t>()[0] = int32_t(position);
  if (!cpu_graph_) {
    logits_ = model_.decode_step(token_, position_, cache_);
    std::vector<array> outputs = cache_.state();
    outputs.push_back(logits_);
    cpu_graph_ = RecordedGraph::record(outputs, cache_.state());
    buffers_ = buffers_of(cache_.state());
  } else {
    try {
      cpu_graph_->run();
    } catch (...) {
      cpu_graph_.reset();  // a run that stopped part way: the next step records anew
      buffers_.clear();
      throw;
    }
    cache_.advance(1);  // what decode_step did while it was recorded
  }
  return logits_.to_vector<float>();
}

// The first step runs decode_step op by op: it warms up what a recording reads (device copies of
// host constants, GEMM heuristics) and shows whether any primitive would fall back to the CPU,
// which a graph cannot hold.
std::vector<float> Decoder::step_checked() {
  const auto fallbacks = gpu::fallback_counts();
  array logits = model_.decode_step(token_, position_, cache_);
  std::vector<array> outputs = cache_.state();
  outputs.push_back(logits);
  eval(outputs);
  checked_ = true;
  if (gpu::fallback_counts() != fallbacks) {
    use_graph_ = false;
    std::fprintf(stderr, "alloy: the decode step runs part of its work on the CPU, so it is not replayed as a "
                         "CUDA graph\n");
  }
  return logits.to_vector<float>();
}

void Decoder::record() {
  const int64_t before = cache_.offset();
  const std::vector<const void*> buffers = buffers_of(cache_.state());
  std::string failure;
  try {
    graph_ = gpu::capture(default_stream(Device::gpu), [&] {
      array logits = model_.decode_step(token_, position_, cache_);
      std::vector<array> outputs = cache_.state();
      outputs.push_back(logits);
      eval(outputs);
      logits_ = logits;
    });
    if (!logits_.flags().row_contiguous) failure = "its logits are not contiguous";
  } catch (const std::exception& e) {
    failure = e.what();
  }
  // Nothing ran while recording, and the cache is written in place: its buffers hold what they
  // held. A recording that moved them would replay into buffers the cache no longer reads.
  if (buffers_of(cache_.state()) != buffers) {
    graph_.reset();
    throw std::runtime_error("[decode] the recorded step did not update the KV cache in place" +
                             (failure.empty() ? std::string() : " (" + failure + ")"));
  }
  if (failure.empty()) {
    buffers_ = buffers;
    return;
  }
  graph_.reset();
  if (cache_.offset() > before) cache_.truncate(before);
  use_graph_ = false;
  std::fprintf(stderr, "alloy: the decode step cannot be replayed as a CUDA graph (%s); running it op by op\n",
               failure.c_str());
}

}  // namespace alloy::llm
