// Convolution's node builder and derivative rules. Both gradients are convolutions again:
// d/dx convolves the stride-dilated cotangent with the flipped, channel-swapped kernel (the
// forward's input_dilation becomes its stride); d/dw convolves the input (batch and channels
// swapped) with the cotangent used as a kernel dilated by the forward stride. Padding of those
// convolutions can be negative, which crops; the CPU kernel handles it.
#include <numeric>

#include "alloy/core/ops_util.h"

namespace alloy {
namespace detail {

array convolution_node(const array& input, const array& weight, Convolution::Params p, Stream s) {
  // (N, spatial..., C_in) * (C_out, kernel..., C_in / g) -> (N, out..., C_out)
  int d = input.ndim() - 2;
  Shape out{input.shape(0)};
  for (int i = 0; i < d; ++i) {
    int64_t n = input.shape(1 + i);
    int64_t dilated = n == 0 ? 0 : (n - 1) * p.input_dilation[i] + 1;
    int64_t padded = dilated + p.padding_lo[i] + p.padding_hi[i];
    int64_t kernel = (weight.shape(1 + i) - 1) * int64_t(p.kernel_dilation[i]) + 1;
    out.push_back(padded < kernel ? 0 : (padded - kernel) / p.stride[i] + 1);
  }
  out.push_back(weight.shape(0));
  return array(out, input.dtype(), std::make_shared<Convolution>(s, std::move(p)), {input, weight});
}

}  // namespace detail

namespace {

// Axes 1..d (the spatial or kernel axes of a rank d + 2 array).
Axes spatial_axes(int d) {
  Axes a(d);
  std::iota(a.begin(), a.end(), 1);
  return a;
}

// (C_out, k..., C_in/g) -> (C_in, k..., C_out/g): the kernel of the transposed map, per group.
array swap_weight_channels(const array& w, int groups, Stream s) {
  int d = w.ndim() - 2;
  int64_t c_out = w.shape(0), cg_in = w.shape(-1), cg_out = c_out / groups;
  Shape split{groups, cg_out};
  for (int i = 0; i < d; ++i) split.push_back(w.shape(1 + i));
  split.push_back(cg_in);
  // (g, C_out/g, k..., C_in/g) -> (g, C_in/g, k..., C_out/g)
  Axes perm{0, d + 2};
  for (int i = 0; i < d; ++i) perm.push_back(2 + i);
  perm.push_back(1);
  Shape merged{groups * cg_in};
  for (int i = 0; i < d; ++i) merged.push_back(w.shape(1 + i));
  merged.push_back(cg_out);
  return reshape(transpose(reshape(w, split, s), perm, s), merged, s);
}

}  // namespace

std::vector<array> Convolution::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  const array& x = primals[0];   // (N, S..., C_in)
  const array& w = primals[1];   // (C_out, K..., C_in/g)
  const array& dy = cotangents[0];  // (N, O..., C_out)
  int d = x.ndim() - 2;
  int g = p_.groups;
  Stream s = stream();
  std::vector<array> out;
  for (int a : argnums) {
    if (a == 0) {
      // dx[s] = sum_k dy_dilated[s * id + plo - k * kd] w[kf(k)]: a convolution with stride id.
      Params q;
      q.stride = p_.input_dilation;
      q.input_dilation = p_.stride;
      q.kernel_dilation = p_.kernel_dilation;
      q.groups = g;
      q.flip = !p_.flip;
      for (int i = 0; i < d; ++i) {
        int64_t n = x.shape(1 + i), o = dy.shape(1 + i);
        int64_t kd = (w.shape(1 + i) - 1) * int64_t(p_.kernel_dilation[i]) + 1;
        int64_t lo = kd - 1 - p_.padding_lo[i];
        int64_t dy_dilated = o == 0 ? 0 : (o - 1) * p_.stride[i] + 1;
        int64_t hi = (n - 1) * p_.input_dilation[i] + kd - lo - dy_dilated;
        q.padding_lo.push_back(int(lo));
        q.padding_hi.push_back(int(hi));
      }
      out.push_back(detail::convolution_node(dy, swap_weight_channels(w, g, s), std::move(q), s));
    } else {
      // dw[o, kf(k), c] = sum_{n, t} x_padded[n, k * kd + t * stride, c] dy[n, t, o]:
      // batch <- C_in/g, channels <- (g, N), kernel <- dy; output (C_in/g, K..., C_out).
      int64_t n_batch = x.shape(0), cg_in = w.shape(-1), c_out = w.shape(0);
      Shape xs{n_batch};
      for (int i = 0; i < d; ++i) xs.push_back(x.shape(1 + i));
      xs.push_back(g);
      xs.push_back(cg_in);
      Axes xperm{d + 2};
      for (int i = 0; i < d; ++i) xperm.push_back(1 + i);
      xperm.push_back(d + 1);
      xperm.push_back(0);
      Shape xm{cg_in};
      for (int i = 0; i < d; ++i) xm.push_back(x.shape(1 + i));
      xm.push_back(g * n_batch);
      array xt = reshape(transpose(reshape(x, xs, s), xperm, s), xm, s);  // (C_in/g, S..., g * N)

      Shape gs{n_batch};
      for (int i = 0; i < d; ++i) gs.push_back(dy.shape(1 + i));
      gs.push_back(g);
      gs.push_back(c_out / g);
      Axes gperm{d + 1, d + 2};
      for (int i = 0; i < d; ++i) gperm.push_back(1 + i);
      gperm.push_back(0);
      Shape gm{c_out};
      for (int i = 0; i < d; ++i) gm.push_back(dy.shape(1 + i));
      gm.push_back(n_batch);
      array gt = reshape(transpose(reshape(dy, gs, s), gperm, s), gm, s);  // (C_out, O..., N)

      Params q;
      q.stride = p_.kernel_dilation;
      q.kernel_dilation = p_.stride;
      q.input_dilation = p_.input_dilation;
      q.padding_lo = p_.padding_lo;
      q.groups = g;
      q.flip = false;
      for (int i = 0; i < d; ++i) {
        int64_t n = x.shape(1 + i), o = dy.shape(1 + i), k = w.shape(1 + i);
        int64_t dilated = n == 0 ? 0 : (n - 1) * p_.input_dilation[i] + 1;
        int64_t hi = (k - 1) * p_.kernel_dilation[i] + (o - 1) * p_.stride[i] + 1 - p_.padding_lo[i] - dilated;
        q.padding_hi.push_back(int(hi));
      }
      array dw = detail::convolution_node(xt, gt, std::move(q), s);  // (C_in/g, K..., C_out)
      Axes back{d + 1};
      for (int i = 0; i < d; ++i) back.push_back(1 + i);
      back.push_back(0);
      dw = transpose(dw, back, s);
      if (p_.flip) dw = flip(dw, spatial_axes(d), s);
      out.push_back(dw);
    }
  }
  return out;
}

std::vector<array> Convolution::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  // Bilinear: d conv(x, w) = conv(dx, w) + conv(x, dw).
  Stream s = stream();
  std::vector<array> parts;
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 0) parts.push_back(detail::convolution_node(tangents[k], primals[1], p_, s));
    else parts.push_back(detail::convolution_node(primals[0], tangents[k], p_, s));
  }
  array out = parts[0];
  for (size_t i = 1; i < parts.size(); ++i) out = add(out, parts[i], s);
  return {out};
}

}  // namespace alloy
