// The GPU seam when alloy is built without CUDA: every entry point says so.
#include <stdexcept>

#include "alloy/backend/gpu_api.h"
#include "alloy/core/memory.h"

namespace alloy::gpu {

namespace {
[[noreturn]] void fail() { throw std::runtime_error("alloy was built without CUDA"); }
}  // namespace

bool is_available() { return false; }
std::string unavailable_reason() { return "alloy was built without CUDA"; }
void new_stream(Stream) { fail(); }
uint64_t begin_op(Stream) { fail(); }
void on_complete(Stream, uint64_t, std::function<void(std::exception_ptr)>) { fail(); }
bool profiling() { return false; }
void profile_begin(Stream) { fail(); }
void profile_end(Stream, const char*) { fail(); }
void profile_reset() {}
void flush(Stream) { fail(); }
void synchronize(Stream) { fail(); }
void* host_view(Data&) { fail(); }
std::vector<std::pair<std::string, uint64_t>> fallback_counts() { return {}; }
std::unique_ptr<Graph> capture(Stream, const std::function<void()>&) { fail(); }
void replay(Graph&, Stream) { fail(); }
void write(const array&, const void*, size_t, Stream) { fail(); }
void read(const array&, void*, size_t, Stream) { fail(); }

}  // namespace alloy::gpu

namespace alloy::allocator {
Allocator& gpu_allocator() { throw std::runtime_error("alloy was built without CUDA"); }
}  // namespace alloy::allocator
