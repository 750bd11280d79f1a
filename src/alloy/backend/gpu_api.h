// The seam between the core and a GPU backend. The CUDA backend implements these; when it is
// not built, backend/gpu_stub implements them by throwing "alloy was built without CUDA".
#pragma once

#include <functional>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "alloy/core/device.h"

namespace alloy {
struct Data;
class array;
}

namespace alloy::gpu {

bool is_available();
// Why the GPU cannot be used ("alloy was built without CUDA", "no CUDA device found", ...).
std::string unavailable_reason();
// Prepares backend state for a new GPU stream.
void new_stream(Stream s);
// Called on the stream's worker thread when a primitive starts (before its inputs are looked
// at); returns the primitive's sequence number on the stream.
uint64_t begin_op(Stream s);
// Called on the stream's worker thread after eval_gpu enqueued primitive `op`'s kernels: runs
// done(error) once that work has finished on the device (in order per stream). error is null,
// or what a device-side check of the primitive found (an out-of-range index), or, for a
// primitive that started before such an error was known, that same error: its inputs may have
// been wrong. Completions may be held back and handed over in groups; flush hands over those
// held so far.
void on_complete(Stream s, uint64_t op, std::function<void(std::exception_ptr)> done);
void flush(Stream s);
// ALLOY_GPU_PROFILE=1: the kernels each primitive enqueues between profile_begin and profile_end
// are timed with CUDA events; a table of GPU time per primitive name goes to stderr at exit.
bool profiling();
void profile_begin(Stream s);
void profile_end(Stream s, const char* name);
void profile_reset();  // drops what was recorded so far (e.g. warm-up steps)
// Blocks until all enqueued device work of the stream has finished.
void synchronize(Stream s);
// Host-readable copy of GPU-resident data, made on first use and cached in data.mirror (the
// caller has waited for the work that produced it).
void* host_view(Data& data);
// A stream's work recorded once and replayed (a CUDA graph): what a decode step becomes when its
// shapes do not change from token to token. capture() runs `record` (which evaluates arrays on
// stream s) without running any kernel: the kernels it enqueues, with their buffers, become the
// graph. Buffers allocated while recording belong to the graph until it is destroyed (the arrays
// that hold them may be read after each replay); host data it reads is copied into memory of the
// graph's own, so the values of that moment are replayed. Device-side index checks are not
// recorded (check the inputs on the host before a replay), and a primitive that would run on the
// CPU, or a read of GPU data on the host, fails the capture with an error naming it. One capture at
// a time; other streams must be idle.
class Graph {
 public:
  virtual ~Graph() = default;
};
std::unique_ptr<Graph> capture(Stream s, const std::function<void()>& record);
// Enqueues one run of the graph on s (the stream it was recorded on).
void replay(Graph& g, Stream s);
// Copies `bytes` from the host into a GPU-resident, evaluated array's buffer, in order on s: how a
// replayed step gets its new inputs. The host memory may be reused when this returns.
void write(const array& dst, const void* src, size_t bytes, Stream s);
// Copies `bytes` of a GPU-resident, evaluated array to the host once s's work so far is done.
void read(const array& src, void* dst, size_t bytes, Stream s);
// Primitives that ran on the CPU because the GPU backend has no kernel for them (or for their
// dtype), by name, in the order first seen.
std::vector<std::pair<std::string, uint64_t>> fallback_counts();

}  // namespace alloy::gpu
