// eval and async_eval: an iterative depth-first walk collects the unevaluated nodes in
// topological order; each becomes a task on its primitive's stream. A task waits for inputs made
// on other streams, runs the kernel, marks its outputs available and drops their inputs so
// intermediates are freed as soon as their last reader has run.
#include <mutex>
#include <optional>
#include <unordered_set>

#include "alloy/backend/gpu_api.h"
#include "alloy/core/graph_order.h"
#include "alloy/core/ops.h"
#include "alloy/core/primitives.h"
#include "alloy/core/scheduler.h"
#include "alloy/core/transforms.h"

namespace alloy {
namespace {

bool needs_eval(const array& a) {
  return a.status() == array::Status::unscheduled && a.has_primitive();
}

// "matmul bfloat16 (16,1024,768)x(768,2304)": the same op at different shapes differs in cost.
std::string profile_label(const Primitive& prim, const std::vector<array>& inputs, Dtype out_dtype) {
  std::string label = prim.name();
  label += ' ';
  label += dtype_name(out_dtype);
  label += ' ';
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i) label += 'x';
    label += shape_to_string(inputs[i].shape());
  }
  return label;
}

void run_primitive(std::vector<array>& outs, Stream s) {
  std::shared_ptr<Primitive> prim = outs[0].primitive_ptr();
  const std::vector<array>& inputs = outs[0].inputs();
  std::exception_ptr err;
  uint64_t op = s.device.type == Device::gpu ? gpu::begin_op(s) : 0;
  for (auto& in : inputs) {
    if (in.status() == array::Status::scheduled && in.event_stream() != s.index) {
      // Completions this stream still holds back may be what the other stream waits for.
      if (s.device.type == Device::gpu) gpu::flush(s);
      in.wait_quiet();
    }
    if (in.error()) err = in.error();
  }
  if (!err) {
    try {
      if (s.device.type == Device::cpu) {
        prim->eval_cpu(inputs, outs);
      } else if (gpu::profiling()) {
        const std::string label = profile_label(*prim, inputs, outs[0].dtype());
        gpu::profile_begin(s);
        prim->eval_gpu(inputs, outs);
        gpu::profile_end(s, label.c_str());
      } else {
        prim->eval_gpu(inputs, outs);
      }
    } catch (...) {
      err = std::current_exception();
    }
  }
  bool on_gpu = s.device.type == Device::gpu;
  for (auto& o : outs) {
    o.set_completion_pending(on_gpu);
    // Now, not at completion: later primitives of this stream check their inputs' errors
    // before that.
    if (err) o.set_error(err);
  }
  auto finish = [outs = std::move(outs), err, index = s.index](std::exception_ptr device_err) mutable {
    for (auto& o : outs) {
      o.set_completion_pending(false);
      if (err || device_err) o.set_error(err ? err : device_err);
      o.set_status(array::Status::available);
      o.detach();
    }
    outs.clear();
    scheduler::signal_completed(index);
  };
  // A GPU stream completes its primitives in order, failed ones too: the stream's completed
  // counter must not pass a primitive whose kernels are still running.
  if (on_gpu) {
    gpu::on_complete(s, op, std::move(finish));
  } else {
    finish(nullptr);
  }
}

}  // namespace

std::vector<array> unevaluated_in_order(const std::vector<array>& outputs) {
  std::vector<array> order;
  std::unordered_set<const Primitive*> visited;  // siblings share a primitive
  std::vector<std::pair<array, size_t>> stack;
  for (const array& root : outputs) {
    if (!needs_eval(root) || !visited.insert(&root.primitive()).second) continue;
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& top = stack.back();
      if (top.second < top.first.inputs().size()) {
        array in = top.first.inputs()[top.second++];
        if (needs_eval(in) && visited.insert(&in.primitive()).second) stack.emplace_back(std::move(in), 0);
      } else {
        order.push_back(std::move(top.first));
        stack.pop_back();
      }
    }
  }
  return order;
}

namespace {

struct Batch {
  Stream stream;
  uint64_t first_value;
  std::vector<scheduler::Task> tasks;
};

void eval_impl(std::vector<array> outputs, bool async) {
  static std::mutex eval_mutex;  // one submitter at a time keeps event values in order
  std::optional<Stream> inline_stream;  // set when this thread runs the work itself
  std::vector<scheduler::Task> inline_tasks;
  {
    std::lock_guard lk(eval_mutex);
    std::vector<array> tape = unevaluated_in_order(outputs);

    std::vector<Batch> batches;
    for (auto& a : tape) {
      Stream s = a.primitive().stream();
      Batch* batch = nullptr;
      for (auto& b : batches) {
        if (b.stream == s) batch = &b;
      }
      if (!batch) {
        batches.push_back(Batch{s, scheduler::next_event_value(s), {}});
        batch = &batches.back();
      }
      std::vector<array> outs = a.outputs();
      uint64_t value = batch->first_value + batch->tasks.size();
      for (auto& o : outs) {
        o.set_event(s.index, value);
        o.set_status(array::Status::scheduled);
      }
      batch->tasks.push_back([outs = std::move(outs), s]() mutable { run_primitive(outs, s); });
    }
    // A GPU stream hands its held-back completions over at the end of every batch.
    for (auto& b : batches) {
      if (b.stream.device.type != Device::gpu || b.tasks.empty()) continue;
      b.tasks.back() = [last = std::move(b.tasks.back()), s = b.stream]() mutable {
        last();
        gpu::flush(s);
      };
    }
    tape.clear();  // the tasks hold the only references now
    // A synchronous eval whose work is all on one idle stream runs on the calling thread, which
    // would only wait otherwise: no hand-off to the stream's worker. On the CPU the graph's
    // nodes are also freed by the thread that allocated them (decode of a small model is mostly
    // such costs); on the GPU the kernels are launched without waking the worker first.
    if (!async && batches.size() == 1 && scheduler::claim_inline(batches[0].stream, batches[0].tasks.size())) {
      inline_stream = batches[0].stream;
      inline_tasks = std::move(batches[0].tasks);
      batches.clear();
    }
    for (auto& b : batches) scheduler::enqueue(b.stream, std::move(b.tasks));
  }
  if (inline_stream) scheduler::run_claimed(*inline_stream, std::move(inline_tasks));
  if (!async) {
    for (auto& o : outputs) o.wait();
  }
}

}  // namespace

void eval(std::vector<array> outputs) { eval_impl(std::move(outputs), false); }
void async_eval(std::vector<array> outputs) { eval_impl(std::move(outputs), true); }

}  // namespace alloy
