// N-d convolution on the CPU: im2col + GEMM per group. Rows of the column matrix are output
// positions (N * prod(out)), columns are (kernel position, channel of the group); a chunk of
// rows is gathered in parallel into a temporary buffer (bounded size), then one GEMM (cpu/blas.h)
// per group multiplies it by that group's (C_out/g, K * C_in/g) weights. Input dilation,
// padding (negative crops) and kernel dilation are resolved by per-dim index tables; a 1x1
// stride-1 convolution reads the input directly. float16/bfloat16 compute in float32.
#include <algorithm>
#include <cstring>
#include <memory>

#include "alloy/backend/cpu/blas.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/core/primitives.h"

namespace alloy {
namespace {

constexpr int64_t kColumnBytes = 16 << 20;  // im2col buffer budget per chunk

template <typename T>
void conv_nd(const array& x, const T* w, T* out, const Shape& out_shape, const Shape& kernel,
             const Convolution::Params& p) {
  const int d = x.ndim() - 2;
  const T* xp = static_cast<const T*>(const_cast<array&>(x).raw_data_ptr());
  const Strides& xs = x.strides();
  const int64_t batch = x.shape(0), c_in = x.shape(-1), c_out = out_shape.back();
  const int64_t g = p.groups, cg_in = c_in / g, cg_out = c_out / g;
  int64_t kpos = 1, opos = 1;
  for (int i = 0; i < d; ++i) {
    kpos *= kernel[i];
    opos *= out_shape[1 + i];
  }
  const int64_t kc = kpos * cg_in, rows = batch * opos;
  if (rows == 0 || c_out == 0) return;
  if (kc == 0) {
    std::fill(out, out + rows * c_out, T(0));
    return;
  }

  // 1x1, stride 1, no padding or dilation, channel-contiguous rows: the input is the matrix.
  bool direct = x.flags().row_contiguous;
  for (int i = 0; i < d; ++i) {
    direct = direct && kernel[i] == 1 && p.stride[i] == 1 && p.input_dilation[i] == 1 && p.padding_lo[i] == 0 &&
             p.padding_hi[i] == 0;
  }
  if (direct) {
    for (int64_t gi = 0; gi < g; ++gi) {
      // out (rows, cg_out) of this group = x (rows, cg_in) @ w_g (cg_out, cg_in)^T
      cpu::gemm<T>(false, true, rows, cg_out, cg_in, T(1), xp + gi * cg_in, c_in, w + gi * cg_out * kc, kc, T(0),
                   out + gi * cg_out, c_out);
    }
    return;
  }

  // table[i][o * K_i + k] = input index along spatial dim i read by output o and tap k, or -1
  // where that tap falls on padding or on a zero inserted by input dilation.
  std::vector<std::vector<int64_t>> table(d);
  for (int i = 0; i < d; ++i) {
    int64_t n = x.shape(1 + i), dil_len = n == 0 ? 0 : (n - 1) * p.input_dilation[i] + 1;
    int64_t o_len = out_shape[1 + i], k_len = kernel[i];
    table[i].resize(o_len * k_len);
    for (int64_t o = 0; o < o_len; ++o) {
      for (int64_t k = 0; k < k_len; ++k) {
        int64_t j = o * p.stride[i] + k * p.kernel_dilation[i] - p.padding_lo[i];
        bool hit = j >= 0 && j < dil_len && j % p.input_dilation[i] == 0;
        table[i][o * k_len + k] = hit ? j / p.input_dilation[i] : -1;
      }
    }
  }

  const int64_t chunk = std::clamp<int64_t>(kColumnBytes / int64_t(kc * sizeof(T)), 1, rows);
  std::unique_ptr<T[]> cols(new T[size_t(chunk * kc)]);  // (chunk, K * C_in/g), left uninitialized
  const int64_t cstride = xs[d + 1];
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t nr = std::min(chunk, rows - r0);
    for (int64_t gi = 0; gi < g; ++gi) {
      const T* xg = xp + gi * cg_in * cstride;
      cpu::parallel_for(nr, std::max<int64_t>(1, 4096 / kc), [&](int64_t b, int64_t e) {
        std::vector<int64_t> o_idx(d), k_idx(d);
        for (int64_t r = b; r < e; ++r) {
          // Unravel the output row into (n, o...).
          int64_t rem = r0 + r;
          for (int i = d - 1; i >= 0; --i) {
            o_idx[i] = rem % out_shape[1 + i];
            rem /= out_shape[1 + i];
          }
          const T* xn = xg + rem * xs[0];
          T* dst = cols.get() + r * kc;
          std::fill(k_idx.begin(), k_idx.end(), 0);
          for (int64_t kp = 0; kp < kpos; ++kp, dst += cg_in) {
            int64_t off = 0;
            bool hit = true;
            for (int i = 0; i < d && hit; ++i) {
              int64_t j = table[i][o_idx[i] * kernel[i] + k_idx[i]];
              hit = j >= 0;
              off += j * xs[1 + i];
            }
            if (!hit) {
              std::fill(dst, dst + cg_in, T(0));
            } else if (cstride == 1 && cg_in >= 16) {
              std::memcpy(dst, xn + off, size_t(cg_in) * sizeof(T));
            } else {  // strided or few channels (the first layer's 1 or 3): no call per tap
              for (int64_t c = 0; c < cg_in; ++c) dst[c] = xn[off + c * cstride];
            }
            for (int i = d - 1; i >= 0; --i) {
              if (++k_idx[i] < kernel[i]) break;
              k_idx[i] = 0;
            }
          }
        }
      });
      // out rows (nr, cg_out) of this group = cols (nr, kc) @ w_g (cg_out, kc)^T
      cpu::gemm<T>(false, true, nr, cg_out, kc, T(1), cols.get(), kc, w + gi * cg_out * kc, kc, T(0),
                   out + r0 * c_out + gi * cg_out, c_out);
    }
  }
}

}  // namespace

void Convolution::eval_cpu(const std::vector<array>& inputs, array& out) {
  cpu::allocate(out);
  if (out.size() == 0) return;
  const Dtype compute = out.dtype() == float64 ? float64 : float32;
  const int d = out.ndim() - 2;

  // The input in the compute dtype; any strides are fine for same-dtype inputs.
  array x = inputs[0];
  if (x.dtype() != compute) {
    array tmp(x.shape(), compute, nullptr, {});
    cpu::copy_contiguous(x, tmp);
    x = tmp;
  }
  // The weight dense (C_out, K..., C_in/g) in the compute dtype, kernel axes reversed for flip
  // (written through negative destination strides).
  const array& w_in = inputs[1];
  array w(w_in.shape(), compute, nullptr, {});
  cpu::allocate(w);
  Strides ws = row_major_strides(w.shape());
  int64_t w_off = 0;
  if (p_.flip) {
    for (int i = 1; i <= d; ++i) {
      w_off += (w.shape(i) - 1) * ws[i];
      ws[i] = -ws[i];
    }
  }
  char* w_base = static_cast<char*>(w.raw_data_ptr()) + w_off * int64_t(size_of(compute));
  cpu::copy_into(w_in, w_base, compute, ws, w.shape());
  Shape kernel(w.shape().begin() + 1, w.shape().end() - 1);

  array acc = out;
  if (out.dtype() != compute) {
    acc = array(out.shape(), compute, nullptr, {});
    cpu::allocate(acc);
  }
  if (compute == float64) {
    conv_nd<double>(x, static_cast<const double*>(w.raw_data_ptr()), static_cast<double*>(acc.raw_data_ptr()),
                    out.shape(), kernel, p_);
  } else {
    conv_nd<float>(x, static_cast<const float*>(w.raw_data_ptr()), static_cast<float*>(acc.raw_data_ptr()),
                   out.shape(), kernel, p_);
  }
  if (out.dtype() != compute) cpu::copy_into(acc, out.raw_data_ptr(), out.dtype(), out.strides(), out.shape());
}

}  // namespace alloy
