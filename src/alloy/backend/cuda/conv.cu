// N-d convolution on the GPU: implicit im2col + cuBLASLt GEMM, matching the CPU kernel
// (backend/cpu/conv.cpp). Rows of the patch matrix are output positions (N * prod(out)), columns
// (kernel position, channel of the group). A chunk of rows is gathered for all groups at once
// into a temporary (g, rows, K * C_in/g) (kept under ~1 GiB), then one GEMM, batched over groups,
// multiplies it by the weights read in place as a transposed view (g, K * C_in/g, C_out/g).
// With one group the GEMM writes straight into the output rows; with several it writes
// (g, rows, C_out/g) into a temporary that one strided copy scatters into out's channel slices.
// Stride, padding (negative crops), kernel and input dilation and flip are resolved per element
// in the gather kernel (flip reads the taps in reverse instead of copying the weight). A 1x1,
// stride-1, unpadded convolution of a row-contiguous input uses the input as the patch matrix.
// float32/float16/bfloat16/float64 run here (16-bit floats accumulate in float32); other dtypes
// and more than kMaxConvDims spatial dims fall back to the CPU.
#include <algorithm>

#include "alloy/backend/cuda/kernel_utils.cuh"

namespace alloy {
namespace {

constexpr int kMaxConvDims = 8;
constexpr int64_t kPatchBytes = int64_t(1) << 30;  // patch (+ group output) budget per chunk

struct ConvGeom {
  int d;
  int64_t out_shape[kMaxConvDims];  // output spatial sizes
  int64_t kernel[kMaxConvDims];     // kernel spatial sizes
  int64_t dil_len[kMaxConvDims];    // input spatial sizes after input dilation
  int64_t stride[kMaxConvDims], kdil[kMaxConvDims], idil[kMaxConvDims], pad_lo[kMaxConvDims];
  int64_t x_spatial_strides[kMaxConvDims];
  int64_t x_batch_stride, x_chan_stride;
  int64_t cg_in, kpos, kc;  // channels per group, kernel positions, kc = kpos * cg_in
  bool flip;
};

// patch (g, nr, kc), row-major: patch[gi, r, kp * cg_in + c] = x[n, j..., gi * cg_in + c] for
// output row r0 + r = (n, o...) and kernel position kp = (k...), where per spatial dim
// j_dil = o * stride + tap * kdil - pad_lo (tap = k, or K - 1 - k under flip) and j = j_dil / idil;
// zero where j_dil falls outside the dilated input or on an inserted zero.
template <typename T>
__global__ void im2col_kernel(const T* x, T* patch, int64_t r0, int64_t nr, int64_t total, ConvGeom geo) {
  ALLOY_GRID_STRIDE(e, total) {
    int64_t c = e % geo.cg_in;
    int64_t rest = e / geo.cg_in;
    int64_t kp = rest % geo.kpos;
    rest /= geo.kpos;
    int64_t r = r0 + rest % nr;
    int64_t gi = rest / nr;
    int64_t off = 0;
    bool hit = true;
    for (int i = geo.d - 1; i >= 0; --i) {
      int64_t o = r % geo.out_shape[i];
      r /= geo.out_shape[i];
      int64_t k = kp % geo.kernel[i];
      kp /= geo.kernel[i];
      int64_t tap = geo.flip ? geo.kernel[i] - 1 - k : k;
      int64_t j = o * geo.stride[i] + tap * geo.kdil[i] - geo.pad_lo[i];
      hit = hit && j >= 0 && j < geo.dil_len[i] && j % geo.idil[i] == 0;
      off += (j / geo.idil[i]) * geo.x_spatial_strides[i];
    }
    // r now holds the batch index n.
    off += r * geo.x_batch_stride + (gi * geo.cg_in + c) * geo.x_chan_stride;
    patch[e] = hit ? x[off] : T(0.0f);
  }
}

bool gemm_dtype(Dtype t) {
  switch (t) {
    case Dtype::float32: case Dtype::float16: case Dtype::bfloat16: case Dtype::float64: return true;
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64: return false;
  }
  return false;
}

// A view of `base`'s buffer with the given shape, strides and element offset.
array strided_view(const array& base, const Shape& shape, const Strides& strides, int64_t offset, Flags flags) {
  array v(shape, base.dtype(), nullptr, {});
  v.copy_shared_buffer(base, strides, flags, base.data_size(), offset);
  v.set_status(array::Status::available);
  return v;
}

}  // namespace

void Convolution::eval_gpu(const std::vector<array>& inputs, array& out) {
  const int d = out.ndim() - 2;
  if (!gemm_dtype(out.dtype()) || d < 1 || d > kMaxConvDims) return cuda::fallback_to_cpu(*this, inputs, out);
  const Stream& s = stream();
  cuda::allocate(out);
  if (out.size() == 0) return;
  cudaStream_t cs = cuda::stream_of(s);

  // x (N, S..., C_in) in out's dtype, any strides; w (C_out, K..., C_in/g) dense.
  array x = inputs[0].dtype() == out.dtype() ? inputs[0] : cuda::as_row_contiguous(inputs[0], s, out.dtype());
  array w = cuda::as_row_contiguous(inputs[1], s);
  const int64_t g = p_.groups, c_in = x.shape(-1), c_out = out.shape(-1);
  const int64_t cg_in = c_in / g, cg_out = c_out / g;
  int64_t kpos = 1, opos = 1;
  for (int i = 0; i < d; ++i) {
    kpos *= w.shape(1 + i);
    opos *= out.shape(1 + i);
  }
  const int64_t kc = kpos * cg_in, rows = x.shape(0) * opos;
  if (kc == 0) {
    ALLOY_CUDA_CHECK(cudaMemsetAsync(cuda::device_out_ptr(out), 0, out.nbytes(), cs));
    return;
  }

  // Weights as b (g, kc, C_out/g): element [gi, k, co] = w[gi * cg_out + co, k], read in place.
  array wt = g == 1 ? strided_view(w, {kc, cg_out}, {1, kc}, w.offset(), Flags{true, false, true})
                    : strided_view(w, {g, kc, cg_out}, {cg_out * kc, 1, kc}, w.offset(), Flags{true, false, false});

  bool direct = x.flags().row_contiguous;
  for (int i = 0; i < d; ++i) {
    direct = direct && w.shape(1 + i) == 1 && p_.stride[i] == 1 && p_.input_dilation[i] == 1 &&
             p_.padding_lo[i] == 0 && p_.padding_hi[i] == 0;
  }

  ConvGeom geo{};
  geo.d = d;
  for (int i = 0; i < d; ++i) {
    int64_t n = x.shape(1 + i);
    geo.out_shape[i] = out.shape(1 + i);
    geo.kernel[i] = w.shape(1 + i);
    geo.dil_len[i] = n == 0 ? 0 : (n - 1) * p_.input_dilation[i] + 1;
    geo.stride[i] = p_.stride[i];
    geo.kdil[i] = p_.kernel_dilation[i];
    geo.idil[i] = p_.input_dilation[i];
    geo.pad_lo[i] = p_.padding_lo[i];
    geo.x_spatial_strides[i] = x.strides()[1 + i];
  }
  geo.x_batch_stride = x.strides()[0];
  geo.x_chan_stride = x.strides()[d + 1];
  geo.cg_in = cg_in;
  geo.kpos = kpos;
  geo.kc = kc;
  geo.flip = p_.flip;

  const int64_t item = int64_t(size_of(out.dtype()));
  const int64_t row_bytes = g * ((direct ? 0 : kc) + (g > 1 ? cg_out : 0)) * item;
  const int64_t chunk = row_bytes == 0 ? rows : std::clamp<int64_t>(kPatchBytes / row_bytes, 1, rows);

  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t nr = std::min(chunk, rows - r0);
    // a: the patch matrix (g, nr, kc) (or (nr, kc) for one group).
    Shape a_shape = g == 1 ? Shape{nr, kc} : Shape{g, nr, kc};
    array a = x;
    if (direct) {
      // kc == cg_in: row r of group gi is x's row r0 + r, channels gi * cg_in onward.
      int64_t off = x.offset() + r0 * c_in;
      a = g == 1 ? strided_view(x, a_shape, {c_in, 1}, off, Flags{true, true, false})
                 : strided_view(x, a_shape, {cg_in, c_in, 1}, off, Flags{false, false, false});
    } else {
      a = array(a_shape, out.dtype(), nullptr, {});
      cuda::allocate(a);
      const int64_t total = g * nr * kc;
      cuda::dispatch(out.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (cuda::is_float_v<T>) {
          constexpr int threads = 256;
          im2col_kernel<T><<<cuda::grid_blocks(total, threads), threads, 0, cs>>>(
              cuda::in_ptr<T>(x, s), cuda::out_ptr<T>(a), r0, nr, total, geo);
          ALLOY_CUDA_LAUNCH_CHECK("conv_im2col");
        }
      });
      a.set_status(array::Status::available);
      cuda::keep_until_complete(s, a);
    }

    if (g == 1) {
      // (nr, kc) @ (kc, C_out) straight into out's rows r0 .. r0 + nr.
      array o = strided_view(out, {nr, c_out}, {c_out, 1}, out.offset() + r0 * c_out, Flags{true, true, false});
      cuda::gemm(s, a, wt, o, 1.0f, 0.0f);
    } else {
      // (g, nr, kc) @ (g, kc, C_out/g) -> tmp (g, nr, C_out/g), then tmp[gi, r, co] ->
      // out[r0 + r, gi * cg_out + co].
      array tmp({g, nr, cg_out}, out.dtype(), nullptr, {});
      cuda::allocate(tmp);
      cuda::gemm(s, a, wt, tmp, 1.0f, 0.0f);
      tmp.set_status(array::Status::available);
      cuda::keep_until_complete(s, tmp);
      char* dst = static_cast<char*>(cuda::device_out_ptr(out)) + r0 * c_out * item;
      cuda::copy_into(tmp, dst, out.dtype(), {cg_out, c_out, 1}, tmp.shape(), s);
    }
  }
}

}  // namespace alloy
