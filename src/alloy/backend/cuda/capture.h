// What the CUDA runtime does differently while a stream's work is being recorded as a graph
// (graph_capture.cpp implements gpu::capture and these hooks; runtime.cpp consults them).
#pragma once

#include <cuda_runtime.h>

#include "alloy/core/memory.h"

namespace alloy::cuda {

// A capture is in progress: completions run at once (nothing executes while recording, and
// buffers freed go back to the graph's own pool, which only the graph's kernels use, in stream
// order), device checks are not registered, host data is staged through pinned memory.
bool recording();
// While recording: a buffer of the graph's pool (true), or false when nothing is recorded.
bool pool_malloc(size_t bytes, allocator::Buffer& out);
// True when `b` belongs to a live graph's pool (and went back to it).
bool pool_free(const allocator::Buffer& b);
// While recording: a device buffer of the graph holding a copy of `bytes` of host memory as they
// are now, filled by a recorded copy on `stream` (so each replay rewrites the same values).
void* stage_host_data(const void* host, size_t bytes, cudaStream_t stream);

}  // namespace alloy::cuda
