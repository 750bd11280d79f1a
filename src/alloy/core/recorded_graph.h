// A CPU graph evaluated once and then run again, node by node, without being rebuilt: the CPU's
// counterpart of a recorded CUDA graph (backend/gpu_api.h: gpu::capture). llm::Decoder uses it for
// single-token decode, where building the graph of a small model costs more than running it.
//
// record(outputs, carried) evaluates `outputs` on the calling thread and keeps every node of their
// graph, in evaluation order, with its inputs (nothing is detached). run() evaluates the same
// nodes again: each primitive's eval_cpu on the same arrays, so it reads whatever the graph's
// leaves (the arrays that were already available, such as weights and input slots) hold now.
// Write new values into input slots between runs (their buffers, in place).
//
// carried: outputs whose node updates its first input (a KV cache written with slice_update_at).
// Before each run, such an output's buffer is handed back to that input, so the update sees the
// previous run's values and, holding the only reference, writes them in place.
#pragma once

#include <vector>

#include "alloy/core/array.h"

namespace alloy {

class RecordedGraph {
 public:
  // The graph's nodes must all be on the CPU; throws std::invalid_argument otherwise.
  static RecordedGraph record(const std::vector<array>& outputs, const std::vector<array>& carried);
  RecordedGraph(RecordedGraph&&) = default;
  RecordedGraph& operator=(RecordedGraph&&) = default;
  // Detaches the nodes, as eval does after running them: arrays kept elsewhere (the cache, the
  // logits) keep their values but no longer hold the graph and its intermediate buffers.
  ~RecordedGraph();
  void run();
  size_t size() const { return nodes_.size(); }

 private:
  RecordedGraph() = default;
  struct Node {
    std::shared_ptr<Primitive> primitive;
    std::vector<array> outputs;  // the node's arrays, siblings included
  };
  void run_node(Node& n);
  std::vector<Node> nodes_;
  std::vector<array> carried_;
};

}  // namespace alloy
