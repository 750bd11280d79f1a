// What every CUDA kernel file needs: error checks, the CUDA stream of an alloy stream, device
// pointers of arrays (moving CPU-resident data to the GPU once, on first use), output
// allocation, and the automatic CPU fallback for primitives without a GPU kernel.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/core/primitives.h"

namespace alloy::cuda {

// Throws std::runtime_error("[what] CUDA error ...") on failure.
void check(cudaError_t err, const char* what);
#define ALLOY_CUDA_CHECK(expr) ::alloy::cuda::check((expr), #expr)
// After a kernel launch: reports a bad launch configuration as an error naming the kernel.
#define ALLOY_CUDA_LAUNCH_CHECK(name) ::alloy::cuda::check(cudaGetLastError(), name)

cudaStream_t stream_of(const Stream& s);
const cudaDeviceProp& device_properties();

// Fresh row-contiguous GPU buffer for `out`.
void allocate(array& out);
// Fresh GPU buffer for a 2-D `out` (R, C) whose rows start `ld` >= C elements apart (the gap
// left unwritten): how a wide matrix with an odd C keeps every row 16-byte aligned for the
// GEMMs that read it next (cuBLASLt runs such operands at a third of the speed otherwise).
void allocate_rows(array& out, int64_t ld);
// The row pitch a wide 2-D output of `cols` elements of `itemsize` bytes gets (allocate_rows):
// cols rounded up to 128 bytes when a row is not a whole number of 16-byte vectors and is
// long enough (>= 1024 elements) for the gap to cost little; else cols (row-contiguous).
int64_t padded_row_pitch(int64_t cols, size_t itemsize);
// `a` (R, C) itself when its rows have unit element stride and a pitch >= C (row-contiguous,
// or rows of allocate_rows), with `ld` set to that pitch; else a row-contiguous copy, ld = C.
array as_unit_stride_rows(const array& a, const Stream& s, int64_t& ld);
// A temporary device buffer freed once the stream's work enqueued so far has finished.
void* scratch(const Stream& s, size_t bytes);
// Keeps `a` (a temporary made inside eval_gpu) alive until the stream's work enqueued so far
// has finished, so its buffer is not reused while a kernel still reads it.
void keep_until_complete(const Stream& s, array a);

// A device-side check of the primitive being enqueued (for what cannot be checked on the host
// without waiting, like GPU-resident indices): returns a zeroed device pair (code, value).
// Kernels write a nonzero code (and a value) there on failure and leave memory untouched; call
// finish_device_check after the kernels. When the primitive completes, make_error(code, value)
// becomes the error of its outputs, and of the stream's later primitives that had already
// started (their inputs may be affected).
int64_t* device_check(const Stream& s, std::function<std::exception_ptr(int64_t code, int64_t value)> make_error);
void finish_device_check(const Stream& s, const int64_t* flag);

// Writes `in` (any layout, either device) converted to dst_dtype into device memory `dst` laid
// out with `dst_strides` over `shape`.
void copy_into(const array& in, void* dst, Dtype dst_dtype, const Strides& dst_strides,
               const Shape& shape, const Stream& s);
// Allocates out on the GPU and fills it with `in` row-major (out may have another shape of the
// same size, or another dtype).
void copy_contiguous(const array& in, array& out, const Stream& s);
// `a` itself when row-contiguous (and of `dtype` when given), else a row-contiguous GPU copy
// kept alive until the stream's current work completes.
array as_row_contiguous(const array& a, const Stream& s, std::optional<Dtype> dtype = std::nullopt);

// Device pointer to the first element of `a`. GPU-resident data is used in place; CPU-resident
// data is copied to the GPU once (on stream s) and the copy is kept with the data for later uses.
const void* device_ptr(const array& a, const Stream& s);
// Device pointer of an output allocated on the GPU.
void* device_out_ptr(array& out);
template <typename T>
const T* in_ptr(const array& a, const Stream& s) {
  return static_cast<const T*>(device_ptr(a, s));
}
template <typename T>
T* out_ptr(array& a) {
  return static_cast<T*>(device_out_ptr(a));
}

// For kernels that work on dense rows along the last axis: copies `in` with `axis` moved last
// into a temporary, calls run(temporary, device buffer of the same permuted shape in out's
// dtype), and copies that result back into out (allocated, row-contiguous) in in's axis order.
void along_last_axis(const array& in, array& out, int axis, const Stream& s,
                     const std::function<void(const array& src, void* dst)>& run);

// out (row-contiguous, allocated on the GPU; holding c when beta != 0) = alpha * a @ b +
// beta * out (+ bias, a vector over the last dim broadcast to out's shape). a (..., M, K) and
// b (..., K, N) with batch dims broadcast to out's; float32/float16/bfloat16/float64 only, all
// of out's dtype or converted to it. In matmul.cpp.
void gemm(const Stream& s, array a, array b, array& out, float alpha, float beta, const array* bias = nullptr);

// Runs the primitive's CPU kernel in place of a GPU one: waits for the stream's work, runs
// eval_cpu on host views of the inputs, and leaves the outputs CPU-resident (later GPU ops copy
// them over on first use). Counts the fallback, warns once per primitive, and throws instead
// when ALLOY_GPU_FALLBACK=error.
void fallback_to_cpu(Primitive& p, const std::vector<array>& inputs, std::vector<array>& outputs);
void fallback_to_cpu(Primitive& p, const std::vector<array>& inputs, array& out);

// Blocks for a grid-stride loop over n elements.
inline unsigned grid_blocks(int64_t n, int threads) {
  int64_t blocks = (n + threads - 1) / threads;
  int64_t cap = int64_t(device_properties().multiProcessorCount) * 32;
  return unsigned(std::max<int64_t>(1, std::min(blocks, cap)));
}

}  // namespace alloy::cuda
