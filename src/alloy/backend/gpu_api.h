// The seam between the core and a GPU backend. The CUDA backend implements these; when it is
// not built, backend/gpu_stub implements them by throwing "alloy was built without CUDA".
#pragma once

#include <functional>
#include <string>

#include "alloy/core/device.h"

namespace alloy::gpu {

bool is_available();
// Why the GPU cannot be used ("alloy was built without CUDA", "no CUDA device found", ...).
std::string unavailable_reason();
// Prepares backend state for a new GPU stream.
void new_stream(Stream s);
// Called on the stream's worker thread after eval_gpu enqueued a primitive's kernels:
// runs `done` once that work has finished on the device (in order per stream).
void on_complete(Stream s, std::function<void()> done);
// Blocks until all enqueued device work of the stream has finished.
void synchronize(Stream s);

}  // namespace alloy::gpu
