// Fused max pooling: validation, the composition (strided slices combined by maximum, the
// reference of the kernels and what higher-order gradients come from) and the nodes.
#include "alloy/core/fast.h"
#include "alloy/core/fast_primitives.h"
#include "alloy/core/ops_util.h"
#include "alloy/core/transforms.h"

namespace alloy {
namespace {

std::string values(const std::vector<int>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

// (..., S_1..S_d, C) -> (..., O_1..O_d, C).
Shape pooled_shape(const Shape& in, const std::vector<int>& kernel, const std::vector<int>& stride) {
  Shape out = in;
  const int first = int(in.size()) - 1 - int(kernel.size());
  for (size_t i = 0; i < kernel.size(); ++i) out[first + i] = (in[first + i] - kernel[i]) / stride[i] + 1;
  return out;
}

void check_pool(const array& x, const std::vector<int>& kernel, const std::vector<int>& stride) {
  const char* op = "max_pool";
  const int d = int(kernel.size());
  if (d < 1 || d > 3) detail::fail(op, "pools 1 to 3 axes, got kernel ", values(kernel));
  if (stride.size() != kernel.size()) {
    detail::fail(op, "kernel ", values(kernel), " and stride ", values(stride), " must have the same length");
  }
  if (x.ndim() < d + 1) {
    detail::fail(op, "a kernel of ", d, " axes needs an input (..., S_1, ..., S_", d, ", C), got shape ",
                 shape_to_string(x.shape()));
  }
  if (!is_floating(x.dtype())) detail::fail(op, "needs a floating-point input, got ", x.dtype());
  const int first = x.ndim() - 1 - d;
  for (int i = 0; i < d; ++i) {
    if (kernel[i] < 1 || stride[i] < 1) {
      detail::fail(op, "kernel and stride must be >= 1, got kernel ", values(kernel), " stride ", values(stride));
    }
    if (x.shape(first + i) < kernel[i]) {
      detail::fail(op, "input of shape ", shape_to_string(x.shape()), " is smaller than the kernel ", values(kernel));
    }
  }
}

// The composition: along each pooled axis, the last first, the k strided slices x[o * s + i]
// folded by maximum (which keeps its first argument unless the second is larger or NaN; its
// vjp gives the first argument the gradient where a >= b).
array max_pool_composed(const array& x, const std::vector<int>& kernel, const std::vector<int>& stride, Stream s) {
  const int d = int(kernel.size()), first = x.ndim() - 1 - d;
  array y = x;
  for (int i = d - 1; i >= 0; --i) {
    const int ax = first + i;
    const int64_t out_len = (y.shape(ax) - kernel[i]) / stride[i] + 1;
    Shape start(y.ndim(), 0), stop = y.shape(), steps(y.ndim(), 1);
    steps[ax] = stride[i];
    std::optional<array> acc;
    for (int k = 0; k < kernel[i]; ++k) {
      start[ax] = k;
      stop[ax] = k + stride[i] * (out_len - 1) + 1;
      array w = slice(y, start, stop, steps, s);
      acc = acc ? maximum(*acc, w, s) : w;
    }
    y = *acc;
  }
  return y;
}

array max_pool_impl(const array& x, const std::vector<int>& kernel, const std::vector<int>& stride,
                    StreamOrDevice sd, bool compose) {
  check_pool(x, kernel, stride);
  Stream s = to_stream(sd);
  if (compose) return max_pool_composed(x, kernel, stride, s);
  Fused::Fallback composed = [kernel, stride, s](const std::vector<array>& in) {
    return std::vector<array>{max_pool_composed(in[0], kernel, stride, s)};
  };
  return array::make_arrays({pooled_shape(x.shape(), kernel, stride)}, {x.dtype()},
                            std::make_shared<MaxPool>(s, composed, kernel, stride), {x})[0];
}

}  // namespace

std::vector<Shape> MaxPool::output_shapes(const std::vector<array>& inputs) {
  return {pooled_shape(inputs[0].shape(), kernel_, stride_)};
}

std::vector<array> MaxPool::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>& outputs) {
  Stream s = stream();
  // MaxPoolGrad's own fallback is the composition's vjp, so gradients of the gradient are exact.
  Fused::Fallback composed = [kernel = kernel_, stride = stride_, s](const std::vector<array>& in) {
    auto forward = [&](const std::vector<array>& x) {
      return std::vector<array>{max_pool_composed(x[0], kernel, stride, s)};
    };
    return alloy::vjp(forward, {in[0]}, {in[1]}).second;
  };
  return array::make_arrays({primals[0].shape()}, {primals[0].dtype()},
                            std::make_shared<MaxPoolGrad>(s, composed, kernel_, stride_),
                            {primals[0], cotangents[0]});
}

namespace fast {

array max_pool(const array& x, const std::vector<int>& kernel, const std::vector<int>& stride, StreamOrDevice s) {
  return max_pool_impl(x, kernel, stride, s, false);
}

namespace composed {
array max_pool(const array& x, const std::vector<int>& kernel, const std::vector<int>& stride, StreamOrDevice s) {
  return max_pool_impl(x, kernel, stride, s, true);
}
}  // namespace composed

}  // namespace fast
}  // namespace alloy
