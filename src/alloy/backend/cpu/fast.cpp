// CPU kernels of the fused ops. Norms and RoPE make one pass over each row in float32
// registers; attention computes scores for a block of queries with one GEMM, applies scale,
// mask and softmax in place, and multiplies by V with a second GEMM, so no (B, H, Tq, Tk)
// tensor is ever materialized.
#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <optional>
#include <vector>

#include "alloy/backend/common/elementwise_ops.h"
#include "alloy/backend/cpu/blas.h"
#include "alloy/backend/cpu/dispatch_float.h"
#include "alloy/backend/cpu/simd.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/core/fast_primitives.h"

namespace alloy {
namespace {

using cpu::dispatch_float;

template <typename T, typename A>
ALLOY_SIMD_CLONES A sum_squares(const T* x, int64_t n) {
  A lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) lanes[j] += A(x[i + j]) * A(x[i + j]);
  }
  A s = 0;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  for (; i < n; ++i) s += A(x[i]) * A(x[i]);
  return s;
}

template <typename T, typename A>
ALLOY_SIMD_CLONES A sum_row(const T* x, int64_t n) {
  A lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) lanes[j] += A(x[i + j]);
  }
  A s = 0;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  for (; i < n; ++i) s += A(x[i]);
  return s;
}

template <typename T, typename A>
ALLOY_SIMD_CLONES A sum_sq_dev(const T* x, A mu, int64_t n) {
  A lanes[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) lanes[j] += (A(x[i + j]) - mu) * (A(x[i + j]) - mu);
  }
  A s = 0;
  for (int j = 0; j < 16; ++j) s += lanes[j];
  for (; i < n; ++i) s += (A(x[i]) - mu) * (A(x[i]) - mu);
  return s;
}

// out = ((x - sub) * mul) rounded to T, then * w, + b, each rounded as the composition does.
template <typename T, typename A, bool HasW, bool HasB>
ALLOY_SIMD_CLONES void scale_row(const T* x, const T* w, const T* b, T* out, A mul, A sub, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    A y = A(T(A((A(x[i]) - sub) * mul)));
    if constexpr (HasW) y = A(T(y * A(w[i])));
    if constexpr (HasB) y = A(T(y + A(b[i])));
    out[i] = T(y);
  }
}

template <typename T, typename A>
void scale_row_any(const T* x, const T* w, const T* b, T* out, A mul, A sub, int64_t n) {
  if (w && b) scale_row<T, A, true, true>(x, w, b, out, mul, sub, n);
  else if (w) scale_row<T, A, true, false>(x, w, b, out, mul, sub, n);
  else if (b) scale_row<T, A, false, true>(x, w, b, out, mul, sub, n);
  else scale_row<T, A, false, false>(x, w, b, out, mul, sub, n);
}

// In-place softmax of row[0, n); lanes keep the loops vectorized. A row whose maximum is -inf
// (every key masked) comes out NaN, as the composition's does. Returns the row's log-sum-exp
// (-inf for such a row or n == 0).
ALLOY_SIMD_CLONES float softmax_inplace(float* row, int64_t n) {
  const float neg_inf = -std::numeric_limits<float>::infinity();
  float lanes[16];
  for (int j = 0; j < 16; ++j) lanes[j] = neg_inf;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) lanes[j] = row[i + j] > lanes[j] ? row[i + j] : lanes[j];
  }
  float mx = neg_inf;
  for (int j = 0; j < 16; ++j) mx = lanes[j] > mx ? lanes[j] : mx;
  for (; i < n; ++i) mx = row[i] > mx ? row[i] : mx;
  if (mx == neg_inf) mx = 0;
  for (int j = 0; j < 16; ++j) lanes[j] = 0;
  i = 0;
  for (; i + 16 <= n; i += 16) {
    for (int j = 0; j < 16; ++j) {
      float e = cpu::fast_expf(row[i + j] - mx);
      row[i + j] = e;
      lanes[j] += e;
    }
  }
  float sum = 0;
  for (int j = 0; j < 16; ++j) sum += lanes[j];
  for (; i < n; ++i) {
    row[i] = cpu::fast_expf(row[i] - mx);
    sum += row[i];
  }
  float inv = 1.0f / sum;
  for (int64_t k = 0; k < n; ++k) row[k] *= inv;
  return mx + std::log(sum);
}

// Applies the mask (a broadcast view (B, Hq, Tq, Tk), any strides) to row qi of head h of batch
// b: -inf where a boolean mask is false, plus an additive mask. mbase: the mask's data.
void mask_scores_row(float* row, const array& mask, const char* mbase, int64_t b, int64_t h, int64_t qi,
                     int64_t Tk) {
  const Strides& ms = mask.strides();
  int64_t base = b * ms[0] + h * ms[1] + qi * ms[2];
  if (mask.dtype() == bool_) {
    const float neg_inf = -std::numeric_limits<float>::infinity();
    const bool* m = reinterpret_cast<const bool*>(mbase) + base;
    for (int64_t j = 0; j < Tk; ++j) row[j] = m[j * ms[3]] ? row[j] : neg_inf;
  } else {
    dispatch_float(mask.dtype(), "scaled_dot_product_attention", [&](auto mv) {
      using M = decltype(mv);
      const M* m = reinterpret_cast<const M*>(mbase) + base;
      for (int64_t j = 0; j < Tk; ++j) row[j] += float(m[j * ms[3]]);
    });
  }
}

// Keys [0, limit) that query qi may see: all Tk, or those up to the (end-aligned) diagonal.
int64_t visible_keys(bool causal, int64_t qi, int64_t Tq, int64_t Tk) {
  return causal ? std::clamp<int64_t>(qi + Tk - Tq + 1, 0, Tk) : Tk;
}

// Keys [0, kmax) that any of the stacked rows [r0, r0 + nr) (rows of `groups` heads of Tq
// queries each) may see.
int64_t block_key_limit(bool causal, int64_t r0, int64_t nr, int64_t Tq, int64_t Tk) {
  if (!causal) return Tk;
  // The block's largest query position: Tq - 1 when it runs past the end of a head.
  int64_t first_q = r0 % Tq;
  int64_t max_q = first_q + nr > Tq ? Tq - 1 : first_q + nr - 1;
  return std::clamp<int64_t>(max_q + 1 + Tk - Tq, 0, Tk);
}

}  // namespace

void RMSNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = cpu::as_row_contiguous(inputs[0]);
  std::optional<array> w;
  if (inputs.size() > 1) w = cpu::as_row_contiguous(inputs[1]);
  array& out = outputs[0];
  cpu::allocate(out);
  int64_t D = x.shape(-1), rows = D ? int64_t(x.size()) / D : 0;
  dispatch_float(x.dtype(), "rms_norm", [&](auto v) {
    using T = decltype(v);
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* xp = static_cast<const T*>(x.raw_data_ptr());
    const T* wp = w ? static_cast<const T*>(w->raw_data_ptr()) : nullptr;
    T* op = static_cast<T*>(out.raw_data_ptr());
    float eps = eps_;
    cpu::parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        A inv = A(1) / std::sqrt(sum_squares<T, A>(xp + r * D, D) / A(D) + A(eps));
        scale_row_any<T, A>(xp + r * D, wp, nullptr, op + r * D, inv, A(0), D);
      }
    });
  });
}

void RMSNormResidual::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = cpu::as_row_contiguous(inputs[0]);
  array r = cpu::as_row_contiguous(inputs[1]);
  std::optional<array> w;
  if (inputs.size() > 2) w = cpu::as_row_contiguous(inputs[2]);
  array& sum = outputs[0];
  array& out = outputs[1];
  cpu::allocate(sum);
  cpu::allocate(out);
  int64_t D = x.shape(-1), rows = D ? int64_t(x.size()) / D : 0;
  dispatch_float(x.dtype(), "rms_norm_residual", [&](auto v) {
    using T = decltype(v);
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* xp = static_cast<const T*>(x.raw_data_ptr());
    const T* rp = static_cast<const T*>(r.raw_data_ptr());
    const T* wp = w ? static_cast<const T*>(w->raw_data_ptr()) : nullptr;
    T* sp = static_cast<T*>(sum.raw_data_ptr());
    T* op = static_cast<T*>(out.raw_data_ptr());
    float eps = eps_;
    cpu::parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t at = row * D;
        for (int64_t i = 0; i < D; ++i) sp[at + i] = T(A(xp[at + i]) + A(rp[at + i]));
        A inv = A(1) / std::sqrt(sum_squares<T, A>(sp + at, D) / A(D) + A(eps));
        scale_row_any<T, A>(sp + at, wp, nullptr, op + at, inv, A(0), D);
      }
    });
  });
}

void RMSNormGrad::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  const bool has_w = inputs.size() == 3;
  array x = cpu::as_row_contiguous(inputs[0]);
  std::optional<array> w;
  if (has_w) w = cpu::as_row_contiguous(inputs[1]);
  array g = cpu::as_row_contiguous(inputs.back());
  array& dx = outputs[0];
  cpu::allocate(dx);
  if (has_w) cpu::allocate(outputs[1]);
  int64_t D = x.shape(-1), rows = D ? int64_t(x.size()) / D : 0;
  dispatch_float(x.dtype(), "rms_norm", [&](auto v) {
    using T = decltype(v);
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* xp = static_cast<const T*>(x.raw_data_ptr());
    const T* wp = w ? static_cast<const T*>(w->raw_data_ptr()) : nullptr;
    const T* gp = static_cast<const T*>(g.raw_data_ptr());
    T* dxp = static_cast<T*>(dx.raw_data_ptr());
    std::vector<A> dw(has_w ? D : 0, A(0));
    std::mutex dw_mutex;
    const A eps = A(eps_);
    cpu::parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
      std::vector<A> local(has_w ? D : 0, A(0));  // this chunk's share of dweight
      for (int64_t r = b; r < e; ++r) {
        const T* xr = xp + r * D;
        const T* gr = gp + r * D;
        A inv = A(1) / std::sqrt(sum_squares<T, A>(xr, D) / A(D) + eps);
        A dot = 0;  // sum of g w x
        for (int64_t i = 0; i < D; ++i) dot += A(gr[i]) * (wp ? A(wp[i]) : A(1)) * A(xr[i]);
        const A c = inv * inv * inv * dot / A(D);
        for (int64_t i = 0; i < D; ++i) {
          const A gw = A(gr[i]) * (wp ? A(wp[i]) : A(1));
          dxp[r * D + i] = T(inv * gw - A(xr[i]) * c);
          if (has_w) local[i] += A(gr[i]) * A(T(A(xr[i]) * inv));
        }
      }
      if (has_w) {
        std::lock_guard lk(dw_mutex);
        for (int64_t i = 0; i < D; ++i) dw[i] += local[i];
      }
    });
    if (has_w) {
      T* dwp = static_cast<T*>(outputs[1].raw_data_ptr());
      for (int64_t i = 0; i < D; ++i) dwp[i] = T(dw[i]);
    }
  });
}

void LayerNorm::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = cpu::as_row_contiguous(inputs[0]);
  size_t i = 1;
  std::optional<array> w, bias;
  if (has_weight_) w = cpu::as_row_contiguous(inputs[i++]);
  if (has_bias_) bias = cpu::as_row_contiguous(inputs[i]);
  array& out = outputs[0];
  cpu::allocate(out);
  int64_t D = x.shape(-1), rows = D ? int64_t(x.size()) / D : 0;
  dispatch_float(x.dtype(), "layer_norm", [&](auto v) {
    using T = decltype(v);
    using A = std::conditional_t<std::is_same_v<T, double>, double, float>;
    const T* xp = static_cast<const T*>(x.raw_data_ptr());
    const T* wp = w ? static_cast<const T*>(w->raw_data_ptr()) : nullptr;
    const T* bp = bias ? static_cast<const T*>(bias->raw_data_ptr()) : nullptr;
    T* op = static_cast<T*>(out.raw_data_ptr());
    float eps = eps_;
    cpu::parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const T* row = xp + r * D;
        A mu = sum_row<T, A>(row, D) / A(D);
        A var = sum_sq_dev<T, A>(row, mu, D) / A(D);
        scale_row_any<T, A>(row, wp, bp, op + r * D, A(1) / std::sqrt(var + A(eps)), mu, D);
      }
    });
  });
}

void RoPE::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  array x = cpu::as_row_contiguous(inputs[0]);
  array& out = outputs[0];
  cpu::allocate(out);
  int64_t D = x.shape(-1), T = x.shape(-2), half = dims_ / 2;
  int64_t batches = T * D > 0 ? int64_t(x.size()) / (T * D) : 0;
  // cos/sin table (T, half), as the composition computes it: float32 angles.
  std::vector<float> cs(T * half), sn(T * half);
  float log_base = float(-2.0 * std::log(double(base_)) / dims_);
  int64_t offset = offset_;
  if (has_offset_array_) offset += *static_cast<const int32_t*>(cpu::as_row_contiguous(inputs[1]).raw_data_ptr());
  const float* freqs = nullptr;
  array freqs_in = has_freqs_ ? cpu::as_row_contiguous(inputs.back()) : array(0.0f);
  if (has_freqs_) freqs = static_cast<const float*>(freqs_in.raw_data_ptr());
  for (int64_t i = 0; i < half; ++i) {
    float inv_freq = freqs ? 1.0f / freqs[i] : std::exp(float(i) * log_base);
    for (int64_t t = 0; t < T; ++t) {
      float ang = (float(offset + t) * scale_) * inv_freq;
      cs[t * half + i] = std::cos(ang);
      sn[t * half + i] = std::sin(ang);
    }
  }
  bool trad = traditional_;
  dispatch_float(x.dtype(), "rope", [&](auto v) {
    using Ty = decltype(v);
    using A = std::conditional_t<std::is_same_v<Ty, double>, double, float>;
    const Ty* xp = static_cast<const Ty*>(x.raw_data_ptr());
    Ty* op = static_cast<Ty*>(out.raw_data_ptr());
    cpu::parallel_for(batches * T, std::max<int64_t>(1, 8192 / std::max<int64_t>(D, 1)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t t = r % T;
        const Ty* row = xp + r * D;
        Ty* orow = op + r * D;
        const float* c = cs.data() + t * half;
        const float* s = sn.data() + t * half;
        for (int64_t i = 0; i < half; ++i) {
          int64_t i1 = trad ? 2 * i : i, i2 = trad ? 2 * i + 1 : i + half;
          A x1 = A(row[i1]), x2 = A(row[i2]);
          orow[i1] = Ty(x1 * A(c[i]) - x2 * A(s[i]));
          orow[i2] = Ty(x1 * A(s[i]) + x2 * A(c[i]));
        }
        for (int64_t k = dims_; k < D; ++k) orow[k] = row[k];
      }
    });
  });
}

void ScaledDotProductAttention::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  // Everything in float32: (B, H, T, D) row-contiguous copies where needed.
  array q = cpu::as_row_contiguous(inputs[0], float32);
  array k = cpu::as_row_contiguous(inputs[1], float32);
  array v = cpu::as_row_contiguous(inputs[2], float32);
  std::optional<array> mask;
  if (has_mask_) mask = inputs[3];  // broadcast view (B, Hq, Tq, Tk), any strides
  array& out = outputs[0];
  array& lse_out = outputs[1];  // (B, Hq, Tq) float32
  cpu::allocate(lse_out);
  int64_t B = q.shape(0), Hq = q.shape(1), Tq = q.shape(2), D = q.shape(3);
  int64_t Hkv = k.shape(1), Tk = k.shape(2), Dv = v.shape(3);
  int64_t groups = Hq / Hkv;
  array o32(out.shape(), float32, nullptr, {});
  cpu::allocate(o32);
  const float* qp = static_cast<const float*>(q.raw_data_ptr());
  const float* kp = static_cast<const float*>(k.raw_data_ptr());
  const float* vp = static_cast<const float*>(v.raw_data_ptr());
  float* op = static_cast<float*>(o32.raw_data_ptr());
  float* lp = static_cast<float*>(lse_out.raw_data_ptr());
  const char* mbase = mask ? static_cast<const char*>(mask->raw_data_ptr()) : nullptr;
  // The `groups` query heads that share a key/value head are adjacent in q and out, so they are
  // one (groups * Tq, D) matrix: one pass over K and V serves all of them.
  constexpr int64_t kBlock = 512;  // stacked query rows per score block: bounds memory to kBlock * Tk
  int64_t rows = groups * Tq;
  std::vector<float> scores(std::min(rows, kBlock) * Tk);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t hk = 0; hk < Hkv; ++hk) {
      const float* Q = qp + (b * Hq + hk * groups) * Tq * D;   // (groups * Tq, D)
      const float* K = kp + (b * Hkv + hk) * Tk * D;           // (Tk, D)
      const float* V = vp + (b * Hkv + hk) * Tk * Dv;          // (Tk, Dv)
      float* O = op + (b * Hq + hk * groups) * Tq * Dv;        // (groups * Tq, Dv)
      float* L = lp + (b * Hq + hk * groups) * Tq;              // (groups * Tq,)
      for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
        int64_t nr = std::min(kBlock, rows - r0);
        float* S = scores.data();
        // Causal: no row of this block sees keys at or past kmax, so they are not computed.
        int64_t kmax = block_key_limit(causal_, r0, nr, Tq, Tk);
        // S (nr, kmax) = scale * Q_block K^T, rows Tk apart
        if (kmax > 0) {
          cpu::gemm<float>(false, true, nr, kmax, D, scale_, Q + r0 * D, D, K, D, 0.0f, S, Tk);
        }
        cpu::parallel_for(nr, std::max<int64_t>(1, 4096 / std::max<int64_t>(Tk, 1)), [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            float* row = S + i * Tk;
            int64_t h = hk * groups + (r0 + i) / Tq, qi = (r0 + i) % Tq;
            int64_t limit = visible_keys(causal_, qi, Tq, Tk);
            if (mask) mask_scores_row(row, *mask, mbase, b, h, qi, Tk);
            L[r0 + i] = softmax_inplace(row, limit);
            for (int64_t j = limit; j < kmax; ++j) row[j] = 0.0f;
          }
        });
        // O_block (nr, Dv) = P V over the computed keys
        if (kmax > 0) {
          cpu::gemm<float>(false, false, nr, Dv, kmax, 1.0f, S, Tk, V, Dv, 0.0f, O + r0 * Dv, Dv);
        } else {
          std::fill(O + r0 * Dv, O + (r0 + nr) * Dv, std::numeric_limits<float>::quiet_NaN());
          std::fill(L + r0, L + r0 + nr, -std::numeric_limits<float>::infinity());
        }
      }
    }
  }
  if (out.dtype() == float32) {
    out.move_shared_buffer(o32);
  } else {
    cpu::copy_contiguous(o32, out);
  }
}

void ScaledDotProductAttentionGrad::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  // Inputs (q, k, v[, mask], out, lse, d_out), all in float32 row-contiguous copies. As the
  // forward: per (b, kv head), blocks of stacked query rows; five GEMMs per block.
  const size_t n = inputs.size();
  array q = cpu::as_row_contiguous(inputs[0], float32);
  array k = cpu::as_row_contiguous(inputs[1], float32);
  array v = cpu::as_row_contiguous(inputs[2], float32);
  std::optional<array> mask;
  if (has_mask_) mask = inputs[3];
  const char* mbase = mask ? static_cast<const char*>(mask->raw_data_ptr()) : nullptr;
  array o = cpu::as_row_contiguous(inputs[n - 3], float32);
  array lse = cpu::as_row_contiguous(inputs[n - 2], float32);
  array dout = cpu::as_row_contiguous(inputs[n - 1], float32);
  int64_t B = q.shape(0), Hq = q.shape(1), Tq = q.shape(2), D = q.shape(3);
  int64_t Hkv = k.shape(1), Tk = k.shape(2), Dv = v.shape(3);
  int64_t groups = Hq / Hkv;
  std::vector<array> grads;
  for (int i = 0; i < 3; ++i) {
    grads.emplace_back(outputs[i].shape(), float32, nullptr, std::vector<array>{});
    cpu::allocate(grads.back());
  }
  const float* qp = static_cast<const float*>(q.raw_data_ptr());
  const float* kp = static_cast<const float*>(k.raw_data_ptr());
  const float* vp = static_cast<const float*>(v.raw_data_ptr());
  const float* op = static_cast<const float*>(o.raw_data_ptr());
  const float* lp = static_cast<const float*>(lse.raw_data_ptr());
  const float* gp = static_cast<const float*>(dout.raw_data_ptr());
  float* dqp = static_cast<float*>(grads[0].raw_data_ptr());
  float* dkp = static_cast<float*>(grads[1].raw_data_ptr());
  float* dvp = static_cast<float*>(grads[2].raw_data_ptr());
  std::fill(dkp, dkp + grads[1].size(), 0.0f);
  std::fill(dvp, dvp + grads[2].size(), 0.0f);
  constexpr int64_t kBlock = 512;
  const int64_t rows = groups * Tq;
  const int64_t block_rows = std::min(rows, kBlock);
  std::vector<float> p_buf(block_rows * Tk), dp_buf(block_rows * Tk);
  const float scale = scale_;
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t hk = 0; hk < Hkv; ++hk) {
      const int64_t head0 = b * Hq + hk * groups;  // the group's first query head
      const float* Q = qp + head0 * Tq * D;         // (groups * Tq, D), as dQ
      const float* O = op + head0 * Tq * Dv;        // (groups * Tq, Dv), as dO
      const float* dO = gp + head0 * Tq * Dv;
      const float* L = lp + head0 * Tq;             // (groups * Tq,)
      float* dQ = dqp + head0 * Tq * D;
      const float* K = kp + (b * Hkv + hk) * Tk * D;  // (Tk, D), as dK
      const float* V = vp + (b * Hkv + hk) * Tk * Dv; // (Tk, Dv), as dV
      float* dK = dkp + (b * Hkv + hk) * Tk * D;
      float* dV = dvp + (b * Hkv + hk) * Tk * Dv;
      for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
        const int64_t nr = std::min(kBlock, rows - r0);
        const int64_t kmax = block_key_limit(causal_, r0, nr, Tq, Tk);
        if (kmax == 0) {
          std::fill(dQ + r0 * D, dQ + (r0 + nr) * D, 0.0f);
          continue;
        }
        float* P = p_buf.data();
        float* dP = dp_buf.data();
        // S = scale Q K^T and dP = dO V^T, both (nr, kmax) with rows Tk apart.
        cpu::gemm<float>(false, true, nr, kmax, D, scale, Q + r0 * D, D, K, D, 0.0f, P, Tk);
        cpu::gemm<float>(false, true, nr, kmax, Dv, 1.0f, dO + r0 * Dv, Dv, V, Dv, 0.0f, dP, Tk);
        // P = exp(S - lse) on the visible keys, 0 elsewhere; dP becomes dS = P (dP - delta).
        cpu::parallel_for(nr, std::max<int64_t>(1, 4096 / std::max<int64_t>(kmax, 1)), [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            float* prow = P + i * Tk;
            float* dsrow = dP + i * Tk;
            const int64_t r = r0 + i, h = hk * groups + r / Tq, qi = r % Tq;
            const float l = L[r];
            const int64_t limit = std::isfinite(l) ? std::min(visible_keys(causal_, qi, Tq, Tk), kmax) : 0;
            if (mask) mask_scores_row(prow, *mask, mbase, b, h, qi, limit);
            float delta = 0.0f;
            for (int64_t d = 0; d < Dv; ++d) delta += dO[r * Dv + d] * O[r * Dv + d];
            for (int64_t j = 0; j < limit; ++j) {
              const float pj = cpu::fast_expf(prow[j] - l);
              prow[j] = pj;
              dsrow[j] = pj * (dsrow[j] - delta);
            }
            for (int64_t j = limit; j < kmax; ++j) prow[j] = dsrow[j] = 0.0f;
          }
        });
        // dQ = scale dS K; dK += scale dS^T Q; dV += P^T dO.
        cpu::gemm<float>(false, false, nr, D, kmax, scale, dP, Tk, K, D, 0.0f, dQ + r0 * D, D);
        cpu::gemm<float>(true, false, kmax, D, nr, scale, dP, Tk, Q + r0 * D, D, 1.0f, dK, D);
        cpu::gemm<float>(true, false, kmax, Dv, nr, 1.0f, P, Tk, dO + r0 * Dv, Dv, 1.0f, dV, Dv);
      }
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (outputs[i].dtype() == float32) outputs[i].move_shared_buffer(grads[i]);
    else cpu::copy_contiguous(grads[i], outputs[i]);
  }
}

}  // namespace alloy
