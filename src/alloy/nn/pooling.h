// Max and average pooling, channels last: input (N, L, C) / (N, H, W, C), or unbatched (L, C) /
// (H, W, C); output (N, L_out, C) / (N, H_out, W_out, C) with L_out = (L + 2 * padding - kernel)
// / stride + 1 (floor, as PyTorch's ceil_mode=false). stride defaults to kernel_size. Padding is
// at most half the kernel (PyTorch's rule); MaxPool pads with -inf, AvgPool with zeros that count
// in the average (PyTorch's count_include_pad=true), so AvgPool always divides by prod(kernel).
// PyTorch's dilation, ceil_mode, return_indices, count_include_pad=false and divisor_override are
// not offered.
//
// A window's max or sum is taken one spatial axis at a time (the last first), each as the
// elementwise maximum or sum of kernel strided slices: a few passes over memory, no window
// copies, and gradients from the slices' own. The max's gradient goes to the first maximum of a
// window in row-major order, as PyTorch's.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "alloy/nn/int_pair.h"
#include "alloy/nn/module.h"

namespace alloy::nn {
namespace detail {

class PoolLayer : public UnaryModule {
 public:
  array forward(const array& x) override;
  std::string describe() const override;

 protected:
  PoolLayer(const char* name, bool is_max, std::vector<int> kernel, std::vector<int> stride,
            std::vector<int> padding);

  const char* name_;
  bool is_max_;
  std::vector<int> kernel_, stride_, padding_;
};

}  // namespace detail

class MaxPool1d : public detail::PoolLayer {
 public:
  explicit MaxPool1d(int kernel_size, std::optional<int> stride = std::nullopt, int padding = 0);
};

class MaxPool2d : public detail::PoolLayer {
 public:
  explicit MaxPool2d(IntPair kernel_size, std::optional<IntPair> stride = std::nullopt, IntPair padding = 0);
};

class AvgPool1d : public detail::PoolLayer {
 public:
  explicit AvgPool1d(int kernel_size, std::optional<int> stride = std::nullopt, int padding = 0);
};

class AvgPool2d : public detail::PoolLayer {
 public:
  explicit AvgPool2d(IntPair kernel_size, std::optional<IntPair> stride = std::nullopt, IntPair padding = 0);
};

}  // namespace alloy::nn
