#include "alloy/core/recorded_graph.h"

#include <stdexcept>

#include "alloy/core/graph_order.h"
#include "alloy/core/primitives.h"
#include "alloy/core/scheduler.h"

namespace alloy {

namespace {

bool needs_eval(const array& a) { return a.status() == array::Status::unscheduled && a.has_primitive(); }

}  // namespace

RecordedGraph RecordedGraph::record(const std::vector<array>& outputs, const std::vector<array>& carried) {
  RecordedGraph g;
  for (const array& c : carried) {
    if (!c.has_primitive() || c.inputs().empty()) {
      throw std::invalid_argument("[RecordedGraph] a carried array must be the output of an update of its first input");
    }
    if (needs_eval(c.inputs()[0])) {
      throw std::invalid_argument("[RecordedGraph] the input a carried update writes must be evaluated before "
                                  "recording (a node of the recording would reset it every run)");
    }
  }
  std::vector<array> order = unevaluated_in_order(outputs);
  for (const array& a : order) {
    if (a.primitive().device() != Device::cpu) {
      throw std::invalid_argument("[RecordedGraph] " + a.primitive().name() + " is not on the CPU");
    }
    g.nodes_.push_back(Node{a.primitive_ptr(), a.outputs()});
  }
  g.carried_ = carried;
  order.clear();
  // The recording's own run: nothing else may run on the CPU stream meanwhile.
  synchronize(default_stream(Device::cpu));
  for (Node& n : g.nodes_) g.run_node(n);
  return g;
}

RecordedGraph::~RecordedGraph() {
  for (Node& n : nodes_)
    for (array& o : n.outputs)
      if (o.status() == array::Status::available) o.detach();  // nodes that never ran keep their graph
}

void RecordedGraph::run_node(Node& n) {
  n.primitive->eval_cpu(n.outputs[0].inputs(), n.outputs);
  for (array& o : n.outputs) o.set_status(array::Status::available);
}

void RecordedGraph::run() {
  for (array& c : carried_) {
    array previous = c.inputs()[0];
    previous.move_shared_buffer(c);  // c's node takes it back, in place
  }
  for (Node& n : nodes_) run_node(n);
}

}  // namespace alloy
