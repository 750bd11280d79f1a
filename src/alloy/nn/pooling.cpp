#include "alloy/nn/pooling.h"

#include <limits>
#include <stdexcept>

#include "alloy/core/fast.h"
#include "alloy/core/ops.h"

namespace alloy::nn {
namespace {

std::string values(const std::vector<int>& v) {
  if (v.size() == 1) return std::to_string(v[0]);
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

[[noreturn]] void fail(const char* name, const std::string& msg) {
  throw std::invalid_argument(std::string("[") + name + "] " + msg);
}

// The kernel windows of axis `ax`: slice i holds x[o * stride + i] for every output o.
std::vector<array> windows(const array& x, int ax, int kernel, int stride) {
  const int64_t out_len = (x.shape(ax) - kernel) / stride + 1;
  Shape start(x.ndim(), 0), stop = x.shape(), steps(x.ndim(), 1);
  steps[ax] = stride;
  std::vector<array> out;
  for (int i = 0; i < kernel; ++i) {
    start[ax] = i;
    stop[ax] = i + stride * (out_len - 1) + 1;
    out.push_back(slice(x, start, stop, steps));  // (..., out_len, ...)
  }
  return out;
}

// The sum of the windows.
array sum_windows(const std::vector<array>& w) {
  array acc = w[0];
  for (size_t i = 1; i < w.size(); ++i) acc = add(acc, w[i]);
  return acc;
}

}  // namespace

namespace detail {

PoolLayer::PoolLayer(const char* name, bool is_max, std::vector<int> kernel, std::vector<int> stride,
                     std::vector<int> padding)
    : name_(name),
      is_max_(is_max),
      kernel_(std::move(kernel)),
      stride_(std::move(stride)),
      padding_(std::move(padding)) {
  for (size_t i = 0; i < kernel_.size(); ++i) {
    if (kernel_[i] < 1) fail(name_, "kernel_size must be >= 1, got " + values(kernel_));
    if (stride_[i] < 1) fail(name_, "stride must be >= 1, got " + values(stride_));
    if (padding_[i] < 0 || 2 * padding_[i] > kernel_[i]) {
      fail(name_, "padding must be >= 0 and at most half of kernel_size " + values(kernel_) + ", got " +
                      values(padding_));
    }
  }
}

array PoolLayer::forward(const array& x) {
  const int d = int(kernel_.size());
  if (x.ndim() != d + 1 && x.ndim() != d + 2) {
    fail(name_, std::string("expects input ") + (d == 1 ? "(N, L, C) or (L, C)" : "(N, H, W, C) or (H, W, C)") +
                    ", got shape " + shape_to_string(x.shape()));
  }
  if (!is_floating(x.dtype())) {
    fail(name_, "expects a floating input, got " + std::string(dtype_name(x.dtype())));
  }
  const int first = x.ndim() - 1 - d;  // the first spatial axis
  std::vector<std::pair<int64_t, int64_t>> widths(x.ndim(), {0, 0});
  bool padded = false;
  for (int i = 0; i < d; ++i) {
    if (x.shape(first + i) + 2 * padding_[i] < kernel_[i]) {
      fail(name_, "input of shape " + shape_to_string(x.shape()) + " is smaller than kernel_size " +
                      values(kernel_) + " with padding " + values(padding_));
    }
    widths[first + i] = {padding_[i], padding_[i]};
    padded = padded || padding_[i] > 0;
  }
  array y = x;
  if (padded) {
    y = pad(x, widths, is_max_ ? array(-std::numeric_limits<double>::infinity()) : array(0.0));
  }
  // The maximum in one pass each way (ties go to the row-major first element of the window).
  if (is_max_) return fast::max_pool(y, kernel_, stride_);
  for (int i = d - 1; i >= 0; --i) y = sum_windows(windows(y, first + i, kernel_[i], stride_[i]));
  int64_t count = 1;
  for (int k : kernel_) count *= k;
  return divide(y, array(double(count)));
}

std::string PoolLayer::describe() const {
  return std::string(name_) + "(kernel=" + values(kernel_) + ", stride=" + values(stride_) +
         ", padding=" + values(padding_) + ")";
}

}  // namespace detail

MaxPool1d::MaxPool1d(int kernel_size, std::optional<int> stride, int padding)
    : PoolLayer("MaxPool1d", true, {kernel_size}, {stride.value_or(kernel_size)}, {padding}) {}

MaxPool2d::MaxPool2d(IntPair kernel_size, std::optional<IntPair> stride, IntPair padding)
    : PoolLayer("MaxPool2d", true, kernel_size.vec(), stride.value_or(kernel_size).vec(), padding.vec()) {}

AvgPool1d::AvgPool1d(int kernel_size, std::optional<int> stride, int padding)
    : PoolLayer("AvgPool1d", false, {kernel_size}, {stride.value_or(kernel_size)}, {padding}) {}

AvgPool2d::AvgPool2d(IntPair kernel_size, std::optional<IntPair> stride, IntPair padding)
    : PoolLayer("AvgPool2d", false, kernel_size.vec(), stride.value_or(kernel_size).vec(), padding.vec()) {}

}  // namespace alloy::nn
