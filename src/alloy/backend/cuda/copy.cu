// Copies, conversions, fills and views on the GPU. Views share the input's buffer exactly as on
// the CPU (they only compute strides), so their eval_gpu reuses eval_cpu; everything that moves
// data goes through one strided conversion kernel.
#include <functional>
#include <mutex>

#include "alloy/backend/cuda/capture.h"
#include "alloy/backend/cuda/dependent_launch.cuh"
#include "alloy/backend/cuda/elementwise.cuh"

namespace alloy {
namespace cuda {
namespace {

template <typename Src, typename Dst>
__global__ void convert_strided(const Src* in, Dst* out, int64_t n, Layout<2> layout) {
  ALLOY_GRID_STRIDE(i, n) {
    int64_t off[2];
    element_offsets<2>(i, layout, off);
    out[off[1]] = convert<Dst>(in[off[0]]);
  }
}

// The strided copy in 16-byte vectors (same dtype, rows contiguous on both sides).
__global__ void copy_strided_vectors(const uint4* in, uint4* out, int64_t n, Layout<2> layout) {
  ALLOY_GRID_STRIDE(i, n) {
    int64_t off[2];
    element_offsets<2>(i, layout, off);
    out[off[1]] = in[off[0]];
  }
}

template <typename Src, typename Dst>
__global__ void convert_contiguous(const Src* in, Dst* out, int64_t n) {
  int64_t stride = int64_t(gridDim.x) * blockDim.x * 4;
  for (int64_t base = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * 4; base < n; base += stride) {
    if (base + 4 <= n) {
      Src v[4];
#pragma unroll
      for (int j = 0; j < 4; ++j) v[j] = in[base + j];
#pragma unroll
      for (int j = 0; j < 4; ++j) out[base + j] = convert<Dst>(v[j]);
    } else {
      for (int64_t i = base; i < n; ++i) out[i] = convert<Dst>(in[i]);
    }
  }
}

// (B, R, C) with the input contiguous along R and the output along C (a transpose of the last
// two dims): 64x64 tiles through shared memory so both reads and writes are coalesced. A block
// of 32x8 threads moves 16 elements a thread, all 16 loads issued before the barrier: 32x32 tiles
// of 4 elements a thread kept too few bytes in flight (55% of a copy on an H200).
constexpr int kTile = 64;
template <typename Src, typename Dst>
__global__ void convert_transposed(const Src* in, Dst* out, int64_t R, int64_t C, int64_t in_sb,
                                   int64_t in_sc, int64_t out_sb, int64_t out_sr) {
  __shared__ Src tile[kTile][kTile + 1];  // [c - c0][r - r0]; the pad keeps both passes conflict-free
  int64_t b = blockIdx.z;
  int64_t r0 = int64_t(blockIdx.y) * kTile, c0 = int64_t(blockIdx.x) * kTile;
  const Src* src = in + b * in_sb;
#pragma unroll
  for (int j0 = 0; j0 < kTile; j0 += 8) {
    const int j = j0 + int(threadIdx.y);
#pragma unroll
    for (int h = 0; h < kTile; h += 32) {
      int64_t r = r0 + h + threadIdx.x, c = c0 + j;
      if (r < R && c < C) tile[j][h + threadIdx.x] = src[r + c * in_sc];
    }
  }
  __syncthreads();
  Dst* dst = out + b * out_sb;
#pragma unroll
  for (int j0 = 0; j0 < kTile; j0 += 8) {
    const int j = j0 + int(threadIdx.y);
#pragma unroll
    for (int h = 0; h < kTile; h += 32) {
      int64_t r = r0 + j, c = c0 + h + threadIdx.x;
      if (r < R && c < C) dst[r * out_sr + c] = convert<Dst>(tile[h + threadIdx.x][j]);
    }
  }
}

template <typename T>
__global__ void arange_kernel(T* out, int64_t n, double start, double step) {
  ALLOY_GRID_STRIDE(i, n) { out[i] = convert<T>(start + double(i) * step); }
}

struct Identity {
  template <typename T>
  __device__ __forceinline__ T operator()(T x) const { return x; }
};

// The dynamic slice update's copy: a row-contiguous update (n elements of `shape`) written into
// out at the clamped start indices read on the device. One thread per element.
constexpr int kMaxDynamicDims = 8;
struct DynamicUpdateArgs {
  int ndim, n_axes;
  int64_t shape[kMaxDynamicDims];        // the update's
  int64_t out_strides[kMaxDynamicDims];  // the output's, in elements
  int axis[kMaxDynamicDims];             // the axis of start[i]
  int64_t limit[kMaxDynamicDims];        // out.shape(axis) - update.shape(axis)
};
template <typename Word>
__global__ void dynamic_slice_update_kernel(const Word* upd, Word* out, const int32_t* start, int64_t n,
                                            DynamicUpdateArgs a) {
  wait_for_prerequisites();
  allow_dependents();
  int64_t base = 0;
  for (int i = 0; i < a.n_axes; ++i) {
    int64_t at = min(max(int64_t(start[i]), int64_t(0)), a.limit[i]);
    base += at * a.out_strides[a.axis[i]];
  }
  ALLOY_GRID_STRIDE(e, n) {
    int64_t rest = e, off = base;
    for (int d = a.ndim - 1; d >= 0; --d) {
      off += (rest % a.shape[d]) * a.out_strides[d];
      rest /= a.shape[d];
    }
    out[off] = upd[e];
  }
}

}  // namespace

// Writes `in` (any layout, on either device) converted to dst_dtype into device memory `dst`
// laid out with `dst_strides` over `shape`.
void copy_into(const array& in, void* dst, Dtype dst_dtype, const Strides& dst_strides,
               const Shape& shape, const Stream& s) {
  int64_t n = int64_t(shape_size(shape));
  if (n == 0) return;
  cudaStream_t stream = stream_of(s);
  const void* src = device_ptr(in, s);
  if (in.dtype() == dst_dtype && in.flags().row_contiguous && dst_strides == row_major_strides(shape)) {
    check(cudaMemcpyAsync(dst, src, size_t(n) * in.itemsize(), cudaMemcpyDeviceToDevice, stream),
          "copy");
    return;
  }
  Layout<2> layout;
  Strides in_strides = in.data_size() == 1 ? Strides(shape.size(), 0) : in.strides();
  if (!make_layout<2>(shape, {in_strides, dst_strides}, layout)) {
    throw std::invalid_argument("[copy] more than " + std::to_string(kMaxDims) +
                                " non-mergeable dimensions are not supported on the GPU");
  }
  int nd = layout.ndim;
  bool dense = nd == 1 && layout.strides[0][0] == 1 && layout.strides[1][0] == 1;
  // A transpose of the last two dims (after collapsing), with at most one batch dim.
  bool transposed = (nd == 2 || nd == 3) && layout.strides[0][nd - 2] == 1 && layout.strides[1][nd - 1] == 1 &&
                    layout.strides[0][nd - 1] != 1 && (nd == 2 || layout.shape[0] <= 65535) &&
                    layout.shape[nd - 2] <= int64_t(65535) * kTile;
  // Same dtype with rows contiguous on both sides in 16-byte pieces (the (B, T, H, D) <->
  // (B, H, T, D) head transposes of attention): 16 bytes per thread, not one element.
  const int64_t item = int64_t(in.itemsize()), vec = 16 / std::max<int64_t>(item, 1);
  if (in.dtype() == dst_dtype && !dense && nd >= 2 && 16 % item == 0 && layout.strides[0][nd - 1] == 1 &&
      layout.strides[1][nd - 1] == 1 && layout.shape[nd - 1] % vec == 0 &&
      reinterpret_cast<uintptr_t>(src) % 16 == 0 && reinterpret_cast<uintptr_t>(dst) % 16 == 0) {
    bool whole = true;
    for (int d = 0; d + 1 < nd; ++d) whole = whole && layout.strides[0][d] % vec == 0 && layout.strides[1][d] % vec == 0;
    if (whole) {
      Layout<2> v = layout;
      v.shape[nd - 1] /= vec;
      for (int d = 0; d + 1 < nd; ++d) {
        v.strides[0][d] /= vec;
        v.strides[1][d] /= vec;
      }
      copy_strided_vectors<<<grid_blocks(n / vec, 256), 256, 0, stream>>>(static_cast<const uint4*>(src),
                                                                           static_cast<uint4*>(dst), n / vec, v);
      ALLOY_CUDA_LAUNCH_CHECK("copy");
      return;
    }
  }
  dispatch(in.dtype(), [&](auto st) {
    using S = typename decltype(st)::type;
    dispatch(dst_dtype, [&](auto dt) {
      using D = typename decltype(dt)::type;
      constexpr int threads = 256;
      auto* sp = static_cast<const S*>(src);
      auto* dp = static_cast<D*>(dst);
      if (dense) {
        convert_contiguous<S, D><<<grid_blocks((n + 3) / 4, threads), threads, 0, stream>>>(sp, dp, n);
      } else if (std::is_same_v<S, D> && transposed) {  // conversions take the strided path
        int64_t R = layout.shape[nd - 2], C = layout.shape[nd - 1];
        int64_t B = nd == 3 ? layout.shape[0] : 1;
        dim3 grid(unsigned((C + kTile - 1) / kTile), unsigned((R + kTile - 1) / kTile), unsigned(B));
        if constexpr (std::is_same_v<S, D>) convert_transposed<S, D><<<grid, dim3(32, 8), 0, stream>>>(
            sp, dp, R, C, nd == 3 ? layout.strides[0][0] : 0, layout.strides[0][nd - 1],
            nd == 3 ? layout.strides[1][0] : 0, layout.strides[1][nd - 2]);
      } else {
        convert_strided<S, D><<<grid_blocks(n, threads), threads, 0, stream>>>(sp, dp, n, layout);
      }
      ALLOY_CUDA_LAUNCH_CHECK("copy");
    });
  });
}

void copy_contiguous(const array& in, array& out, const Stream& s) {
  allocate(out);
  copy_into(in, device_out_ptr(out), out.dtype(), row_major_strides(in.shape()), in.shape(), s);
}

void along_last_axis(const array& in, array& out, int axis, const Stream& s,
                     const std::function<void(const array& src, void* dst)>& run) {
  int nd = in.ndim();
  // tmp holds `in` permuted to (other axes..., axis), written through the permuted strides;
  // the result res has the same layout and is read back into out through them.
  Shape shape;
  std::vector<int> perm;
  for (int d = 0; d < nd; ++d) {
    if (d != axis) perm.push_back(d);
  }
  perm.push_back(axis);
  for (int d : perm) shape.push_back(in.shape(d));
  array tmp(shape, in.dtype(), nullptr, {});
  allocate(tmp);
  Strides permuted(nd);
  for (int k = 0; k < nd; ++k) permuted[perm[k]] = tmp.strides()[k];
  copy_into(in, device_out_ptr(tmp), tmp.dtype(), permuted, in.shape(), s);
  tmp.set_status(array::Status::available);
  keep_until_complete(s, tmp);
  array res(shape, out.dtype(), nullptr, {});
  allocate(res);
  run(tmp, device_out_ptr(res));
  res.set_status(array::Status::available);
  keep_until_complete(s, res);
  array view(in.shape(), out.dtype(), nullptr, {});
  view.copy_shared_buffer(res, permuted, Flags{true, false, false}, res.size(), 0);
  view.set_status(array::Status::available);
  copy_into(view, device_out_ptr(out), out.dtype(), out.strides(), out.shape(), s);
}

// out takes in's buffer when the op holds the last reference and it is row-contiguous, else a
// row-contiguous copy (copy, and the updates that write into a copy of their input).
// A row-contiguous host array copied to the GPU (how the loaders move weights): the transfer
// writes the output itself. Through device_ptr it would first make the input's mirror, a second
// device copy living as long as the host array: at load, every weight twice until the file's
// tensors are dropped. Where a mirror exists (or a graph is being recorded) the usual path runs.
static bool copy_from_host(const array& in, array& out, const Stream& s) {
  Data& d = *in.data_shared_ptr();
  if (d.home != Device::cpu || !in.flags().row_contiguous || recording()) return false;
  {
    std::lock_guard lk(d.mirror_mutex);
    if (d.mirror) return false;
  }
  allocate(out);
  if (in.nbytes() == 0) return true;
  const char* host = static_cast<const char*>(d.buffer.ptr) + size_t(in.offset()) * in.itemsize();
  check(cudaMemcpyAsync(device_out_ptr(out), host, in.nbytes(), cudaMemcpyHostToDevice, stream_of(s)),
        "copy to the GPU");
  keep_until_complete(s, in);
  return true;
}

static void copy_or_donate(const array& in, array& out, const Stream& s) {
  if (copy_from_host(in, out, s)) return;
  if (in.is_donatable(Device::gpu) && in.flags().row_contiguous) {
    out.move_shared_buffer(in);
  } else {
    copy_contiguous(in, out, s);
  }
}

}  // namespace cuda

void Copy::eval_gpu(const std::vector<array>& inputs, array& out) { cuda::copy_or_donate(inputs[0], out, stream()); }

void AsType::eval_gpu(const std::vector<array>& inputs, array& out) {
  cuda::copy_contiguous(inputs[0], out, stream());
}

void Full::eval_gpu(const std::vector<array>& inputs, array& out) {
  cuda::dispatch(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    cuda::launch_elementwise<T, T>(inputs, out, stream(), cuda::Identity{});
  });
}

void Arange::eval_gpu(const std::vector<array>&, array& out) {
  cuda::allocate(out);
  int64_t n = int64_t(out.size());
  if (n == 0) return;
  cuda::dispatch(out.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    constexpr int threads = 256;
    cuda::arange_kernel<T><<<cuda::grid_blocks(n, threads), threads, 0, cuda::stream_of(stream())>>>(
        cuda::out_ptr<T>(out), n, start_, step_);
    ALLOY_CUDA_LAUNCH_CHECK("arange");
  });
}

void Reshape::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (view_strides(inputs[0], out.shape()).empty()) {
    cuda::copy_contiguous(inputs[0], out, stream());
  } else {
    eval_cpu(inputs, out);  // a view: strides only
  }
}

void Transpose::eval_gpu(const std::vector<array>& inputs, array& out) { eval_cpu(inputs, out); }
void Slice::eval_gpu(const std::vector<array>& inputs, array& out) { eval_cpu(inputs, out); }
void Broadcast::eval_gpu(const std::vector<array>& inputs, array& out) { eval_cpu(inputs, out); }
void AsStrided::eval_gpu(const std::vector<array>& inputs, array& out) { eval_cpu(inputs, out); }
void Depends::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  eval_cpu(inputs, outputs);
}
void CustomVjp::eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  eval_cpu(inputs, outputs);
}

void SliceUpdate::eval_gpu(const std::vector<array>& inputs, array& out) {
  const array& upd = inputs[1];
  cuda::copy_or_donate(inputs[0], out, stream());
  Strides st;
  int64_t off = 0;
  for (int d = 0; d < out.ndim(); ++d) {
    st.push_back(out.strides()[d] * step_[d]);
    if (upd.size() > 0) off += start_[d] * out.strides()[d];
  }
  char* base = static_cast<char*>(cuda::device_out_ptr(out)) + off * int64_t(out.itemsize());
  cuda::copy_into(upd, base, out.dtype(), st, upd.shape(), stream());
}

void DynamicSliceUpdate::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (out.ndim() > cuda::kMaxDynamicDims) return cuda::fallback_to_cpu(*this, inputs, out);
  cuda::copy_or_donate(inputs[0], out, stream());
  array upd = cuda::as_row_contiguous(inputs[1], stream());
  const int64_t n = int64_t(upd.size());
  if (n == 0) return;
  cuda::DynamicUpdateArgs a{};
  a.ndim = out.ndim();
  a.n_axes = int(axes().size());
  for (int d = 0; d < a.ndim; ++d) {
    a.shape[d] = upd.shape(d);
    a.out_strides[d] = out.strides()[d];
  }
  for (int i = 0; i < a.n_axes; ++i) {
    a.axis[i] = axes()[size_t(i)];
    a.limit[i] = out.shape(a.axis[i]) - upd.shape(a.axis[i]);
  }
  const int32_t* start = cuda::in_ptr<int32_t>(cuda::as_row_contiguous(inputs[2], stream()), stream());
  constexpr int threads = 256;
  const unsigned blocks = cuda::grid_blocks(n, threads);
  cudaStream_t st = cuda::stream_of(stream());
  const void* src = cuda::device_ptr(upd, stream());
  void* dst = cuda::device_out_ptr(out);
  auto update = [&]<typename Word>(const Word* from, Word* to) {
    cuda::launch_dependent(cuda::dynamic_slice_update_kernel<Word>, blocks, threads, 0, st, "slice_update (dynamic)",
                           from, to, start, n, a);
  };
  switch (out.itemsize()) {
    case 1: update(static_cast<const uint8_t*>(src), static_cast<uint8_t*>(dst)); break;
    case 2: update(static_cast<const uint16_t*>(src), static_cast<uint16_t*>(dst)); break;
    case 4: update(static_cast<const uint32_t*>(src), static_cast<uint32_t*>(dst)); break;
    default: update(static_cast<const uint64_t*>(src), static_cast<uint64_t*>(dst)); break;
  }
}

void Concatenate::eval_gpu(const std::vector<array>& inputs, array& out) {
  cuda::allocate(out);
  int64_t pos = 0;
  for (auto& in : inputs) {
    char* base = static_cast<char*>(cuda::device_out_ptr(out)) +
                 pos * out.strides()[axis_] * int64_t(out.itemsize());
    cuda::copy_into(in, base, out.dtype(), out.strides(), in.shape(), stream());
    pos += in.shape(axis_);
  }
}

}  // namespace alloy
