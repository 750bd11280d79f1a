// Single-token decode steps of one sequence (batch 1), the step (Model::decode_step) recorded once
// per cache capacity and run again with the new token and position written into its input
// buffers. On the GPU the recording is a CUDA graph: one launch a token instead of hundreds of
// kernel launches and their host-side graph building. On the CPU it is a RecordedGraph: the same
// primitives run again on the calling thread, without the graph being rebuilt and walked each
// token. The cache grows in steps of 256 positions (KVCache growth), so a recording serves 256
// tokens before the next. ALLOY_CUDA_GRAPH=0 (GPU) and ALLOY_CPU_GRAPH=0 (CPU) run each step op
// by op (Model::forward) instead.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/core/recorded_graph.h"
#include "alloy/llm/model/model.h"

namespace alloy::gpu {
class Graph;
}

namespace alloy::llm {

// Logits of the last position of logits (1, T, V) (B = 1) on the host, whatever their strides
// (a GPU product with an odd vocabulary has padded rows).
std::vector<float> last_logits(const array& logits);

class Decoder {
 public:
  Decoder(const Model& model, KVCache& cache);
  ~Decoder();
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Appends `token` at cache.offset() and returns the logits that follow it (vocab_size floats).
  // Throws std::invalid_argument for a token outside the vocabulary or past the cache's room.
  std::vector<float> step(int32_t token);
  // Whether steps are replayed from a recording (false with ALLOY_CUDA_GRAPH=0 or
  // ALLOY_CPU_GRAPH=0, or after a GPU step could not be recorded).
  bool replays() const { return use_graph_; }

 private:
  std::vector<float> step_op_by_op(int32_t token);
  std::vector<float> step_checked();
  void record();
  std::vector<float> step_cpu(int32_t token, int64_t position);

  const Model& model_;
  KVCache& cache_;
  bool use_graph_;
  bool checked_ = false;  // a first step ran decode_step op by op
  array token_ = array(0.0f), position_ = array(0.0f);  // (1, 1) and (1,) int32: the inputs
  array logits_ = array(0.0f);                          // (1, V) float32: the output
  std::unique_ptr<gpu::Graph> graph_;
  std::optional<RecordedGraph> cpu_graph_;
  std::vector<const void*> buffers_;  // the cache buffers it writes (new ones when the cache grows)
};

}  // namespace alloy::llm
