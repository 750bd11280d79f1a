// Convolution layers, channels last as alloy's conv ops: input (N, L, C_in) or (N, H, W, C_in),
// or an unbatched (L, C_in) / (H, W, C_in) as PyTorch accepts; output (N, L_out, C_out) /
// (N, H_out, W_out, C_out) (unbatched in, unbatched out). The weight is (C_out, k..., C_in / groups)
// for all four layers, as the core ops take it; a PyTorch weight converts by moving its channel
// axis last (tests/nn/torch_cases.py, conv_weight_to_alloy, shows both cases).
//
// Parameter names and the default initialization are PyTorch's: weight and bias U(-b, b) with
// b = 1 / sqrt(fan_in) (kaiming_uniform with a = sqrt(5)). fan_in is PyTorch's, computed from its
// own weight layout: C_in / groups * prod(k) for convolutions, C_out / groups * prod(k) for the
// transposed ones (PyTorch's transposed weight is (C_in, C_out / groups, k...)).
//
// Only zero padding by a fixed amount is supported (PyTorch's padding_mode="zeros"; no "same").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "alloy/core/dtype.h"
#include "alloy/nn/int_pair.h"
#include "alloy/nn/module.h"

namespace alloy::nn {
namespace detail {

// What the four convolution layers share: arguments and their checks, parameters, the input
// check and the description. The subclasses only call their core op.
class ConvLayer : public UnaryModule {
 public:
  std::string describe() const override;
  int64_t in_channels() const { return in_; }
  int64_t out_channels() const { return out_; }
  int groups() const { return groups_; }

  array weight;               // (C_out, k..., C_in / groups)
  std::optional<array> bias;  // (C_out,)

 protected:
  ConvLayer(const char* name, bool transposed, int64_t in_channels, int64_t out_channels,
            std::vector<int> kernel, std::vector<int> stride, std::vector<int> padding,
            std::vector<int> output_padding, std::vector<int> dilation, int groups, bool bias,
            Dtype dtype);
  // x with a batch axis (added when x is unbatched); throws for a wrong rank, channel count,
  // dtype, or an input too small for the kernel.
  array batched(const array& x, bool& unbatched) const;
  // Adds the bias and removes the batch axis batched() added.
  array finish(array y, bool unbatched) const;

  const char* name_;
  bool transposed_;
  int64_t in_, out_;
  std::vector<int> kernel_, stride_, padding_, output_padding_, dilation_;
  int groups_;
};

}  // namespace detail

class Conv1d : public detail::ConvLayer {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int kernel_size, int stride = 1, int padding = 0,
         int dilation = 1, int groups = 1, bool bias = true, Dtype dtype = float32);
  // (N, L, C_in) or (L, C_in) -> (N, L_out, C_out) or (L_out, C_out)
  array forward(const array& x) override;
};

class Conv2d : public detail::ConvLayer {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, IntPair stride = 1,
         IntPair padding = 0, IntPair dilation = 1, int groups = 1, bool bias = true,
         Dtype dtype = float32);
  // (N, H, W, C_in) or (H, W, C_in) -> (N, H_out, W_out, C_out) or (H_out, W_out, C_out)
  array forward(const array& x) override;
};

// Transposed convolutions (PyTorch's ConvTranspose; the gradient of a convolution with respect
// to its input). L_out = (L - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1.
// Arguments after padding come in the order output_padding, dilation, groups, bias (PyTorch's
// positional order is output_padding, groups, bias, dilation).
class ConvTranspose1d : public detail::ConvLayer {
 public:
  ConvTranspose1d(int64_t in_channels, int64_t out_channels, int kernel_size, int stride = 1,
                  int padding = 0, int output_padding = 0, int dilation = 1, int groups = 1,
                  bool bias = true, Dtype dtype = float32);
  array forward(const array& x) override;
};

class ConvTranspose2d : public detail::ConvLayer {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, IntPair stride = 1,
                  IntPair padding = 0, IntPair output_padding = 0, IntPair dilation = 1,
                  int groups = 1, bool bias = true, Dtype dtype = float32);
  array forward(const array& x) override;
};

}  // namespace alloy::nn
