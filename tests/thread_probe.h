// A primitive that passes its input through and records the thread that evaluated it: how the
// tests see whether an eval ran on the calling thread or on its stream's worker.
#pragma once

#include <thread>

#include "alloy/alloy.h"

namespace alloy::test {

class ThreadProbe : public SingleOutputPrimitive {
 public:
  ThreadProbe(Stream s, std::thread::id* seen) : SingleOutputPrimitive(s), seen_(seen) {}
  void eval_cpu(const std::vector<array>& inputs, array& out) override {
    *seen_ = std::this_thread::get_id();
    out.copy_shared_buffer(inputs[0]);
  }
  void eval_gpu(const std::vector<array>& inputs, array& out) override { eval_cpu(inputs, out); }
  std::string name() const override { return "ThreadProbe"; }

 private:
  std::thread::id* seen_;
};

// x passed through on the default stream of `device`, recording the evaluating thread in *seen.
inline array probe(const array& x, std::thread::id* seen, Device device = Device::cpu) {
  return array(x.shape(), x.dtype(), std::make_shared<ThreadProbe>(default_stream(device), seen), {x});
}

}  // namespace alloy::test
