#include "alloy/nn/conv.h"

#include <cmath>
#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/nn/init.h"

namespace alloy::nn {
namespace {

// "3" for one spatial dimension, "(3, 5)" for two.
std::string values(const std::vector<int>& v) {
  if (v.size() == 1) return std::to_string(v[0]);
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

[[noreturn]] void fail(const char* name, const std::string& msg) {
  throw std::invalid_argument(std::string("[") + name + "] " + msg);
}

void check_at_least(const char* name, const char* what, const std::vector<int>& v, int low) {
  for (int x : v) {
    if (x < low) fail(name, std::string(what) + " must be >= " + std::to_string(low) + ", got " + values(v));
  }
}

}  // namespace

namespace detail {

ConvLayer::ConvLayer(const char* name, bool transposed, int64_t in_channels, int64_t out_channels,
                     std::vector<int> kernel, std::vector<int> stride, std::vector<int> padding,
                     std::vector<int> output_padding, std::vector<int> dilation, int groups,
                     bool has_bias, Dtype dtype)
    : weight(array(0.0f)),
      name_(name),
      transposed_(transposed),
      in_(in_channels),
      out_(out_channels),
      kernel_(std::move(kernel)),
      stride_(std::move(stride)),
      padding_(std::move(padding)),
      output_padding_(std::move(output_padding)),
      dilation_(std::move(dilation)),
      groups_(groups) {
  if (in_ <= 0 || out_ <= 0) {
    fail(name_, "channels must be positive, got in_channels " + std::to_string(in_) + " and out_channels " +
                    std::to_string(out_));
  }
  if (groups_ < 1) fail(name_, "groups must be >= 1, got " + std::to_string(groups_));
  if (in_ % groups_ != 0 || out_ % groups_ != 0) {
    fail(name_, "in_channels " + std::to_string(in_) + " and out_channels " + std::to_string(out_) +
                    " must both be divisible by groups " + std::to_string(groups_));
  }
  check_at_least(name_, "kernel_size", kernel_, 1);
  check_at_least(name_, "stride", stride_, 1);
  check_at_least(name_, "dilation", dilation_, 1);
  check_at_least(name_, "padding", padding_, 0);
  check_at_least(name_, "output_padding", output_padding_, 0);
  for (size_t i = 0; i < output_padding_.size(); ++i) {
    if (output_padding_[i] >= std::max(stride_[i], dilation_[i])) {
      fail(name_, "output_padding " + values(output_padding_) + " must be smaller than stride " +
                      values(stride_) + " or dilation " + values(dilation_));
    }
  }
  if (!is_floating(dtype)) fail(name_, "needs a floating dtype, got " + std::string(dtype_name(dtype)));

  Shape shape{out_};  // (C_out, k..., C_in / groups)
  int64_t receptive = 1;
  for (int k : kernel_) {
    shape.push_back(k);
    receptive *= k;
  }
  shape.push_back(in_ / groups_);
  // PyTorch's fan_in, from its weight layout (see the header).
  const int64_t fan_in = (transposed_ ? out_ : in_) / groups_ * receptive;
  const double bound = 1.0 / std::sqrt(double(fan_in));
  weight = transposed_ ? init::uniform(shape, -bound, bound, dtype)
                       : init::kaiming_uniform(shape, std::sqrt(5.0), "fan_in", "leaky_relu", dtype);
  register_parameter("weight", weight);
  if (has_bias) {
    bias = init::uniform({out_}, -bound, bound, dtype);
    register_parameter("bias", *bias);
  }
}

array ConvLayer::batched(const array& x, bool& unbatched) const {
  const int d = int(kernel_.size());
  const std::string c = std::to_string(in_);
  if ((x.ndim() != d + 2 && x.ndim() != d + 1) || x.shape(-1) != in_) {
    fail(name_, "expects input " + std::string(d == 1 ? "(N, L, " + c + ") or (L, " + c + ")"
                                                       : "(N, H, W, " + c + ") or (H, W, " + c + ")") +
                    ", got shape " + shape_to_string(x.shape()));
  }
  if (!is_floating(x.dtype())) {
    fail(name_, "expects a floating input, got " + std::string(dtype_name(x.dtype())));
  }
  unbatched = x.ndim() == d + 1;
  const int first = unbatched ? 0 : 1;
  for (int i = 0; i < d; ++i) {
    const int64_t len = x.shape(first + i), reach = int64_t(dilation_[i]) * (kernel_[i] - 1);
    const int64_t out_len = transposed_ ? (len - 1) * stride_[i] - 2 * padding_[i] + reach + output_padding_[i] + 1
                                        : len + 2 * padding_[i] - reach - 1;  // >= 0 leaves an output
    if (len < 1 || (transposed_ ? out_len < 1 : out_len < 0)) {
      fail(name_, "input of shape " + shape_to_string(x.shape()) + " leaves no output with kernel_size " +
                      values(kernel_) + ", padding " + values(padding_) + " and dilation " + values(dilation_));
    }
  }
  return unbatched ? expand_dims(x, 0) : x;
}

array ConvLayer::finish(array y, bool unbatched) const {
  if (bias) y = add(y, *bias);
  return unbatched ? squeeze(y, Axes{0}) : y;
}

std::string ConvLayer::describe() const {
  std::string s = std::string(name_) + "(" + std::to_string(in_) + ", " + std::to_string(out_) +
                  ", kernel=" + values(kernel_) + ", stride=" + values(stride_) + ", padding=" + values(padding_);
  auto all_equal = [](const std::vector<int>& v, int x) {
    for (int e : v) {
      if (e != x) return false;
    }
    return true;
  };
  if (!all_equal(output_padding_, 0)) s += ", output_padding=" + values(output_padding_);
  if (!all_equal(dilation_, 1)) s += ", dilation=" + values(dilation_);
  if (groups_ != 1) s += ", groups=" + std::to_string(groups_);
  if (!bias) s += ", bias=false";
  return s + ")";
}

}  // namespace detail

Conv1d::Conv1d(int64_t in_channels, int64_t out_channels, int kernel_size, int stride, int padding,
               int dilation, int groups, bool bias, Dtype dtype)
    : ConvLayer("Conv1d", false, in_channels, out_channels, {kernel_size}, {stride}, {padding}, {},
                {dilation}, groups, bias, dtype) {}

array Conv1d::forward(const array& x) {
  bool unbatched;
  array in = batched(x, unbatched);
  return finish(conv1d(in, weight, stride_[0], padding_[0], dilation_[0], groups_), unbatched);
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size, IntPair stride,
               IntPair padding, IntPair dilation, int groups, bool bias, Dtype dtype)
    : ConvLayer("Conv2d", false, in_channels, out_channels, kernel_size.vec(), stride.vec(), padding.vec(), {},
                dilation.vec(), groups, bias, dtype) {}

array Conv2d::forward(const array& x) {
  bool unbatched;
  array in = batched(x, unbatched);
  return finish(conv2d(in, weight, {stride_[0], stride_[1]}, {padding_[0], padding_[1]},
                       {dilation_[0], dilation_[1]}, groups_),
                unbatched);
}

ConvTranspose1d::ConvTranspose1d(int64_t in_channels, int64_t out_channels, int kernel_size, int stride,
                                 int padding, int output_padding, int dilation, int groups, bool bias,
                                 Dtype dtype)
    : ConvLayer("ConvTranspose1d", true, in_channels, out_channels, {kernel_size}, {stride}, {padding},
                {output_padding}, {dilation}, groups, bias, dtype) {}

array ConvTranspose1d::forward(const array& x) {
  bool unbatched;
  array in = batched(x, unbatched);
  return finish(conv_transpose1d(in, weight, stride_[0], padding_[0], dilation_[0], output_padding_[0], groups_),
                unbatched);
}

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, IntPair kernel_size,
                                 IntPair stride, IntPair padding, IntPair output_padding, IntPair dilation,
                                 int groups, bool bias, Dtype dtype)
    : ConvLayer("ConvTranspose2d", true, in_channels, out_channels, kernel_size.vec(), stride.vec(),
                padding.vec(), output_padding.vec(), dilation.vec(), groups, bias, dtype) {}

array ConvTranspose2d::forward(const array& x) {
  bool unbatched;
  array in = batched(x, unbatched);
  return finish(conv_transpose2d(in, weight, {stride_[0], stride_[1]}, {padding_[0], padding_[1]},
                                 {dilation_[0], dilation_[1]}, {output_padding_[0], output_padding_[1]}, groups_),
                unbatched);
}

}  // namespace alloy::nn
