// Single-token decode steps of one sequence (batch 1). On the CPU each step is Model::forward. On
// the GPU the step (Model::decode_step) is recorded once per cache capacity as a CUDA graph and
// replayed with the new token and position written into its input buffers: one launch a token
// instead of hundreds of kernel launches and their host-side graph building. The cache grows in
// steps of 256 positions (KVCache growth), so a graph serves 256 tokens before the next is recorded.
// ALLOY_CUDA_GRAPH=0 runs the GPU op by op, as the CPU does.
#pragma once

#include <memory>
#include <vector>

#include "alloy/core/array.h"
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
  // Whether steps are replayed as a graph (false on the CPU, with ALLOY_CUDA_GRAPH=0, or after a
  // step could not be recorded).
  bool replays() const { return use_graph_; }

 private:
  std::vector<float> step_op_by_op(int32_t token);
  std::vector<float> step_checked();
  void record();

  const Model& model_;
  KVCache& cache_;
  bool use_graph_;
  bool checked_ = false;  // a first step ran decode_step op by op
  array token_ = array(0.0f), position_ = array(0.0f);  // (1, 1) and (1,) int32 on the GPU: the inputs
  array logits_ = array(0.0f);                          // (1, V) float32 on the GPU: the output
  std::unique_ptr<gpu::Graph> graph_;
  std::vector<const void*> buffers_;  // the cache buffers it writes (new ones when the cache grows)
};

}  // namespace alloy::llm
