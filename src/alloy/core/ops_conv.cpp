// Convolution ops. Every variant is one Convolution node: conv1d/conv2d are conv_general with
// fixed ranks; transposed convolutions are forward convolutions of the stride-dilated input with
// the flipped kernel (padding dilation * (k - 1) - padding, output_padding on the high side).
#include <algorithm>

#include "alloy/core/ops_util.h"

namespace alloy {
using detail::fail;

namespace detail {
// Builds the node; defined in primitives_conv.cpp (padding may be negative there: the vjp
// crops with it).
array convolution_node(const array& input, const array& weight, Convolution::Params p, Stream s);
}  // namespace detail

namespace {

std::string vec_to_string(const std::vector<int>& v) {
  Shape s(v.begin(), v.end());
  return shape_to_string(s);
}

// A per-dim parameter: empty -> `fallback` everywhere, one value -> that value everywhere.
std::vector<int> per_dim(const char* op, const char* what, std::vector<int> v, int d, int fallback) {
  if (v.empty()) return std::vector<int>(d, fallback);
  if (v.size() == 1) return std::vector<int>(d, v[0]);
  if (int(v.size()) != d) {
    fail(op, what, " needs 1 or ", d, " values for ", d, " spatial dimensions, got ", vec_to_string(v));
  }
  return v;
}

// Checks ranks, dtypes and channel counts; returns (input, weight) cast to their common dtype.
std::pair<array, array> check_operands(const char* op, const array& input, const array& weight, int groups,
                                       int spatial, Stream s) {
  if (input.ndim() < 3) {
    fail(op, "input needs shape (N, spatial..., C_in) with at least 1 spatial dimension, got ",
         shape_to_string(input.shape()));
  }
  if (spatial > 0 && input.ndim() != spatial + 2) {
    fail(op, "input needs ", spatial + 2, " dimensions (N, ", spatial == 1 ? "L" : "H, W",
         ", C_in), got shape ", shape_to_string(input.shape()));
  }
  if (weight.ndim() != input.ndim()) {
    fail(op, "weight needs ", input.ndim(), " dimensions (C_out, kernel..., C_in / groups) for input of shape ",
         shape_to_string(input.shape()), ", got ", shape_to_string(weight.shape()));
  }
  Dtype t = promote_types(input.dtype(), weight.dtype());
  if (!is_floating(t)) {
    fail(op, "supports floating-point arrays only, got ", input.dtype(), " and ", weight.dtype());
  }
  if (groups < 1) fail(op, "groups must be >= 1, got ", groups);
  int64_t c_in = input.shape(-1), c_out = weight.shape(0);
  if (c_in % groups != 0) fail(op, "C_in = ", c_in, " is not divisible by groups = ", groups);
  if (c_out % groups != 0) fail(op, "C_out = ", c_out, " is not divisible by groups = ", groups);
  if (weight.shape(-1) * groups != c_in) {
    fail(op, "weight of shape ", shape_to_string(weight.shape()), " has ", weight.shape(-1),
         " input channels per group; input of shape ", shape_to_string(input.shape()), " with groups = ",
         groups, " needs ", c_in / groups);
  }
  for (int i = 1; i + 1 < weight.ndim(); ++i) {
    if (weight.shape(i) < 1) {
      fail(op, "kernel sizes must be >= 1, got weight of shape ", shape_to_string(weight.shape()));
    }
  }
  return {astype(input, t, s), astype(weight, t, s)};
}

void check_positive(const char* op, const char* what, const std::vector<int>& v) {
  for (int x : v) {
    if (x < 1) fail(op, what, " must be >= 1, got ", vec_to_string(v));
  }
}

array conv_impl(const char* op, const array& input, const array& weight, std::vector<int> stride,
                std::vector<int> padding_lo, std::vector<int> padding_hi, std::vector<int> kernel_dilation,
                std::vector<int> input_dilation, int groups, bool flip, int spatial, SD sd) {
  Stream s = to_stream(sd);
  auto [x, w] = check_operands(op, input, weight, groups, spatial, s);
  int d = x.ndim() - 2;
  Convolution::Params p;
  p.stride = per_dim(op, "stride", std::move(stride), d, 1);
  p.padding_lo = per_dim(op, "padding", std::move(padding_lo), d, 0);
  p.padding_hi = per_dim(op, "padding", std::move(padding_hi), d, 0);
  p.kernel_dilation = per_dim(op, "dilation", std::move(kernel_dilation), d, 1);
  p.input_dilation = per_dim(op, "input_dilation", std::move(input_dilation), d, 1);
  p.groups = groups;
  p.flip = flip;
  check_positive(op, "stride", p.stride);
  check_positive(op, "dilation", p.kernel_dilation);
  check_positive(op, "input_dilation", p.input_dilation);
  for (int i = 0; i < d; ++i) {
    if (p.padding_lo[i] < 0 || p.padding_hi[i] < 0) {
      fail(op, "padding must be >= 0, got ", vec_to_string(p.padding_lo), " and ", vec_to_string(p.padding_hi));
    }
    int64_t n = x.shape(1 + i);
    int64_t dilated = n == 0 ? 0 : (n - 1) * p.input_dilation[i] + 1;
    int64_t padded = dilated + p.padding_lo[i] + p.padding_hi[i];
    int64_t kernel = (weight.shape(1 + i) - 1) * int64_t(p.kernel_dilation[i]) + 1;
    if (kernel > padded) {
      fail(op, "the (dilated) kernel of size ", kernel, " in spatial dimension ", i,
           " is larger than the padded input of size ", padded, " (input ", shape_to_string(input.shape()),
           ", weight ", shape_to_string(weight.shape()), ")");
    }
  }
  return detail::convolution_node(x, w, std::move(p), s);
}

array conv_transpose_impl(const char* op, const array& input, const array& weight, std::vector<int> stride,
                          std::vector<int> padding, std::vector<int> dilation, std::vector<int> output_padding,
                          int groups, int spatial, SD sd) {
  Stream s = to_stream(sd);
  auto [x, w] = check_operands(op, input, weight, groups, spatial, s);
  int d = x.ndim() - 2;
  check_positive(op, "stride", stride);
  check_positive(op, "dilation", dilation);
  Convolution::Params p;
  p.stride = std::vector<int>(d, 1);
  p.input_dilation = stride;
  p.kernel_dilation = dilation;
  p.groups = groups;
  p.flip = true;
  for (int i = 0; i < d; ++i) {
    if (padding[i] < 0) fail(op, "padding must be >= 0, got ", vec_to_string(padding));
    if (output_padding[i] < 0 || (output_padding[i] >= stride[i] && output_padding[i] >= dilation[i])) {
      fail(op, "output_padding must be >= 0 and smaller than stride or dilation, got output_padding ",
           vec_to_string(output_padding), ", stride ", vec_to_string(stride), ", dilation ", vec_to_string(dilation));
    }
    int64_t k = weight.shape(1 + i);
    int64_t lo = dilation[i] * (k - 1) - padding[i];
    int64_t n = x.shape(1 + i);
    int64_t out = (n - 1) * stride[i] - 2 * int64_t(padding[i]) + dilation[i] * (k - 1) + output_padding[i] + 1;
    if (n > 0 && out < 1) {
      fail(op, "padding ", vec_to_string(padding), " leaves no output for input of shape ",
           shape_to_string(input.shape()), " and weight of shape ", shape_to_string(weight.shape()));
    }
    // Negative padding crops the dilated input (the kernel handles it).
    p.padding_lo.push_back(int(lo));
    p.padding_hi.push_back(int(lo + output_padding[i]));
  }
  return detail::convolution_node(x, w, std::move(p), s);
}

}  // namespace

array conv_general(const array& input, const array& weight, std::vector<int> stride, std::vector<int> padding_lo,
                   std::vector<int> padding_hi, std::vector<int> kernel_dilation, std::vector<int> input_dilation,
                   int groups, bool flip, SD s) {
  return conv_impl("conv_general", input, weight, std::move(stride), std::move(padding_lo), std::move(padding_hi),
                   std::move(kernel_dilation), std::move(input_dilation), groups, flip, 0, s);
}

array conv1d(const array& input, const array& weight, int stride, int padding, int dilation, int groups, SD s) {
  return conv_impl("conv1d", input, weight, {stride}, {padding}, {padding}, {dilation}, {1}, groups, false, 1, s);
}

array conv2d(const array& input, const array& weight, std::pair<int, int> stride, std::pair<int, int> padding,
             std::pair<int, int> dilation, int groups, SD s) {
  return conv_impl("conv2d", input, weight, {stride.first, stride.second}, {padding.first, padding.second},
                   {padding.first, padding.second}, {dilation.first, dilation.second}, {1, 1}, groups, false, 2, s);
}

array conv_transpose1d(const array& input, const array& weight, int stride, int padding, int dilation,
                       int output_padding, int groups, SD s) {
  return conv_transpose_impl("conv_transpose1d", input, weight, {stride}, {padding}, {dilation}, {output_padding},
                             groups, 1, s);
}

array conv_transpose2d(const array& input, const array& weight, std::pair<int, int> stride,
                       std::pair<int, int> padding, std::pair<int, int> dilation,
                       std::pair<int, int> output_padding, int groups, SD s) {
  return conv_transpose_impl("conv_transpose2d", input, weight, {stride.first, stride.second},
                             {padding.first, padding.second}, {dilation.first, dilation.second},
                             {output_padding.first, output_padding.second}, groups, 2, s);
}

}  // namespace alloy
