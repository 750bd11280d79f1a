// Ops: validate arguments, promote dtypes, broadcast, and build graph nodes. Nothing computes
// here; eval() does. Every op takes an optional stream or device last. Errors throw
// std::invalid_argument whose message starts with the op name: "[matmul] ...".
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/core/device.h"

namespace alloy {

using Axes = std::vector<int>;
using SD = StreamOrDevice;

// ---------- creation ----------
array zeros(const Shape& shape, Dtype dtype = float32, SD s = {});
array ones(const Shape& shape, Dtype dtype = float32, SD s = {});
array full(const Shape& shape, array value, Dtype dtype, SD s = {});
array full(const Shape& shape, array value, SD s = {});  // dtype of value
array zeros_like(const array& a, SD s = {});
array ones_like(const array& a, SD s = {});
array full_like(const array& a, array value, SD s = {});
array arange(double start, double stop, double step, Dtype dtype = float32, SD s = {});
array arange(double start, double stop, Dtype dtype = float32, SD s = {});
array arange(double stop, Dtype dtype = float32, SD s = {});
array linspace(double start, double stop, int64_t num = 50, Dtype dtype = float32, SD s = {});
array eye(int64_t n, int64_t m, int64_t k = 0, Dtype dtype = float32, SD s = {});
array eye(int64_t n, Dtype dtype = float32, SD s = {});
array identity(int64_t n, Dtype dtype = float32, SD s = {});
// Lower-triangular ones: out[i, j] = j <= i + k.
array tri(int64_t n, int64_t m, int64_t k = 0, Dtype dtype = float32, SD s = {});
array tril(const array& a, int64_t k = 0, SD s = {});
array triu(const array& a, int64_t k = 0, SD s = {});

// ---------- dtype ----------
array astype(const array& a, Dtype dtype, SD s = {});
// A row-contiguous copy (or `a` itself when already row-contiguous and evaluated).
array contiguous(const array& a, SD s = {});
array copy(const array& a, SD s = {});

// ---------- views (no copy) ----------
array reshape(const array& a, Shape shape, SD s = {});  // one -1 allowed
array flatten(const array& a, int start_axis = 0, int end_axis = -1, SD s = {});
array unflatten(const array& a, int axis, Shape shape, SD s = {});
array transpose(const array& a, Axes axes, SD s = {});
array transpose(const array& a, SD s = {});  // reverses the axes
array swapaxes(const array& a, int axis1, int axis2, SD s = {});
array moveaxis(const array& a, int source, int destination, SD s = {});
array expand_dims(const array& a, Axes axes, SD s = {});
array expand_dims(const array& a, int axis, SD s = {});
array squeeze(const array& a, Axes axes, SD s = {});
array squeeze(const array& a, SD s = {});
array broadcast_to(const array& a, const Shape& shape, SD s = {});
std::vector<array> broadcast_arrays(const std::vector<array>& arrays, SD s = {});
Shape broadcast_shapes(const Shape& a, const Shape& b);
// Python-style slicing: negative indices count from the end; stop is clamped; step may be < 0.
array slice(const array& a, Shape start, Shape stop, Shape strides, SD s = {});
array slice(const array& a, Shape start, Shape stop, SD s = {});
array as_strided(const array& a, Shape shape, Strides strides, int64_t offset = 0, SD s = {});
// Returns `a` with the values of `update` written into the slice (functional; `a` unchanged).
array slice_update(const array& a, const array& update, Shape start, Shape stop, Shape strides,
                   SD s = {});
array slice_update(const array& a, const array& update, Shape start, Shape stop, SD s = {});
// slice_update at start indices held in an array (MLX's slice_update with an array start): `start` has one
// integer per axis in `axes`, the other axes start at 0; `update` has a's rank and fits in it.
// Each start is clamped to [0, a.shape(axis) - update.shape(axis)]. The indices are read where the
// op runs (no host round trip), so a replayed step can move its write position. Not
// differentiable.
array slice_update_at(const array& a, const array& update, const array& start, std::vector<int> axes, SD s = {});

// ---------- unary ----------
array abs(const array& a, SD s = {});
array negative(const array& a, SD s = {});
array sign(const array& a, SD s = {});
array exp(const array& a, SD s = {});
array expm1(const array& a, SD s = {});
array log(const array& a, SD s = {});
array log1p(const array& a, SD s = {});
array log2(const array& a, SD s = {});
array log10(const array& a, SD s = {});
array sqrt(const array& a, SD s = {});
array rsqrt(const array& a, SD s = {});
array square(const array& a, SD s = {});
array reciprocal(const array& a, SD s = {});
array sin(const array& a, SD s = {});
array cos(const array& a, SD s = {});
array tan(const array& a, SD s = {});
array arcsin(const array& a, SD s = {});
array arccos(const array& a, SD s = {});
array arctan(const array& a, SD s = {});
array sinh(const array& a, SD s = {});
array cosh(const array& a, SD s = {});
array tanh(const array& a, SD s = {});
array arcsinh(const array& a, SD s = {});
array arccosh(const array& a, SD s = {});
array arctanh(const array& a, SD s = {});
array sigmoid(const array& a, SD s = {});
array erf(const array& a, SD s = {});
array erfinv(const array& a, SD s = {});
array floor(const array& a, SD s = {});
array ceil(const array& a, SD s = {});
array round(const array& a, SD s = {});  // half to even, as NumPy
array isnan(const array& a, SD s = {});
array isinf(const array& a, SD s = {});
array isfinite(const array& a, SD s = {});
array logical_not(const array& a, SD s = {});
array bitwise_invert(const array& a, SD s = {});
array stop_gradient(const array& a, SD s = {});

// ---------- binary (broadcasting) ----------
array add(const array& a, const array& b, SD s = {});
array subtract(const array& a, const array& b, SD s = {});
array multiply(const array& a, const array& b, SD s = {});
array divide(const array& a, const array& b, SD s = {});  // true division: ints give float32
array floor_divide(const array& a, const array& b, SD s = {});
array remainder(const array& a, const array& b, SD s = {});  // sign of the divisor, as NumPy
array power(const array& a, const array& b, SD s = {});
array maximum(const array& a, const array& b, SD s = {});
array minimum(const array& a, const array& b, SD s = {});
array logaddexp(const array& a, const array& b, SD s = {});
array arctan2(const array& a, const array& b, SD s = {});
array equal(const array& a, const array& b, SD s = {});
array not_equal(const array& a, const array& b, SD s = {});
array less(const array& a, const array& b, SD s = {});
array less_equal(const array& a, const array& b, SD s = {});
array greater(const array& a, const array& b, SD s = {});
array greater_equal(const array& a, const array& b, SD s = {});
array logical_and(const array& a, const array& b, SD s = {});
array logical_or(const array& a, const array& b, SD s = {});
array bitwise_and(const array& a, const array& b, SD s = {});
array bitwise_or(const array& a, const array& b, SD s = {});
array bitwise_xor(const array& a, const array& b, SD s = {});
array left_shift(const array& a, const array& b, SD s = {});
array right_shift(const array& a, const array& b, SD s = {});
array where(const array& condition, const array& x, const array& y, SD s = {});
array clip(const array& a, std::optional<array> a_min, std::optional<array> a_max, SD s = {});
// True when all elements are close: |a - b| <= atol + rtol * |b| (evaluates).
bool allclose(const array& a, const array& b, double rtol = 1e-5, double atol = 1e-8,
              bool equal_nan = false);
bool array_equal(const array& a, const array& b, bool equal_nan = false);

array operator-(const array& a);
array operator!(const array& a);
array operator~(const array& a);
array operator+(const array& a, const array& b);
array operator-(const array& a, const array& b);
array operator*(const array& a, const array& b);
array operator/(const array& a, const array& b);
array operator%(const array& a, const array& b);
array operator==(const array& a, const array& b);
array operator!=(const array& a, const array& b);
array operator<(const array& a, const array& b);
array operator<=(const array& a, const array& b);
array operator>(const array& a, const array& b);
array operator>=(const array& a, const array& b);
array operator&&(const array& a, const array& b);
array operator||(const array& a, const array& b);
array operator&(const array& a, const array& b);
array operator|(const array& a, const array& b);
array operator^(const array& a, const array& b);
array operator<<(const array& a, const array& b);
array operator>>(const array& a, const array& b);

// ---------- reductions (axes may be negative; empty axes list = all axes) ----------
array sum(const array& a, bool keepdims = false, SD s = {});
array sum(const array& a, const Axes& axes, bool keepdims = false, SD s = {});
array sum(const array& a, int axis, bool keepdims = false, SD s = {});
array mean(const array& a, bool keepdims = false, SD s = {});
array mean(const array& a, const Axes& axes, bool keepdims = false, SD s = {});
array mean(const array& a, int axis, bool keepdims = false, SD s = {});
array prod(const array& a, bool keepdims = false, SD s = {});
array prod(const array& a, const Axes& axes, bool keepdims = false, SD s = {});
array prod(const array& a, int axis, bool keepdims = false, SD s = {});
array max(const array& a, bool keepdims = false, SD s = {});
array max(const array& a, const Axes& axes, bool keepdims = false, SD s = {});
array max(const array& a, int axis, bool keepdims = false, SD s = {});
array min(const array& a, bool keepdims = false, SD s = {});
array min(const array& a, const Axes& axes, bool keepdims = false, SD s = {});
array min(const array& a, int axis, bool keepdims = false, SD s = {});
array all(const array& a, bool keepdims = false, SD s = {});
array all(const array& a, const Axes& axes, bool keepdims = false, SD s = {});
array all(const array& a, int axis, bool keepdims = false, SD s = {});
array any(const array& a, bool keepdims = false, SD s = {});
array any(const array& a, const Axes& axes, bool keepdims = false, SD s = {});
array any(const array& a, int axis, bool keepdims = false, SD s = {});
array var(const array& a, bool keepdims = false, int ddof = 0, SD s = {});
array var(const array& a, const Axes& axes, bool keepdims = false, int ddof = 0, SD s = {});
array var(const array& a, int axis, bool keepdims = false, int ddof = 0, SD s = {});
array std(const array& a, bool keepdims = false, int ddof = 0, SD s = {});
array std(const array& a, const Axes& axes, bool keepdims = false, int ddof = 0, SD s = {});
array std(const array& a, int axis, bool keepdims = false, int ddof = 0, SD s = {});
array logsumexp(const array& a, bool keepdims = false, SD s = {});
array logsumexp(const array& a, const Axes& axes, bool keepdims = false, SD s = {});
array logsumexp(const array& a, int axis, bool keepdims = false, SD s = {});
array argmax(const array& a, bool keepdims = false, SD s = {});  // over the flattened array
array argmax(const array& a, int axis, bool keepdims = false, SD s = {});
array argmin(const array& a, bool keepdims = false, SD s = {});
array argmin(const array& a, int axis, bool keepdims = false, SD s = {});

// ---------- scans ----------
array cumsum(const array& a, int axis, bool reverse = false, bool inclusive = true, SD s = {});
array cumprod(const array& a, int axis, bool reverse = false, bool inclusive = true, SD s = {});
array cummax(const array& a, int axis, bool reverse = false, bool inclusive = true, SD s = {});
array cummin(const array& a, int axis, bool reverse = false, bool inclusive = true, SD s = {});

array softmax(const array& a, int axis = -1, SD s = {});
array softmax(const array& a, const Axes& axes, SD s = {});
array log_softmax(const array& a, int axis = -1, SD s = {});

// ---------- indexing ----------
array take(const array& a, const array& indices, int axis, SD s = {});
array take(const array& a, const array& indices, SD s = {});  // over the flattened array
array take_along_axis(const array& a, const array& indices, int axis, SD s = {});
array put_along_axis(const array& a, const array& indices, const array& values, int axis,
                     SD s = {});
// out = a; out[idx_0, ..., idx_k, :] along `axes` (one index array per axis, broadcast together)
array gather(const array& a, const std::vector<array>& indices, const Axes& axes,
             const Shape& slice_sizes, SD s = {});
array scatter(const array& a, const std::vector<array>& indices, const array& updates,
              const Axes& axes, SD s = {});
array scatter_add(const array& a, const std::vector<array>& indices, const array& updates,
                  const Axes& axes, SD s = {});
array scatter_max(const array& a, const std::vector<array>& indices, const array& updates,
                  const Axes& axes, SD s = {});
array scatter_min(const array& a, const std::vector<array>& indices, const array& updates,
                  const Axes& axes, SD s = {});
array scatter_prod(const array& a, const std::vector<array>& indices, const array& updates,
                   const Axes& axes, SD s = {});
// Elements of `a` where `mask` (broadcast to a's shape) is true, flattened. The result's size
// depends on the mask's values, so the mask is evaluated here.
array boolean_mask(const array& a, const array& mask, SD s = {});
// Indices of the true elements of the flattened array (evaluates), as int64.
array flatnonzero(const array& a, SD s = {});

// ---------- shape ----------
array concatenate(const std::vector<array>& arrays, int axis = 0, SD s = {});
array stack(const std::vector<array>& arrays, int axis = 0, SD s = {});
std::vector<array> split(const array& a, int num_splits, int axis = 0, SD s = {});
std::vector<array> split(const array& a, const Shape& indices, int axis = 0, SD s = {});
array tile(const array& a, Shape reps, SD s = {});
array repeat(const array& a, int64_t repeats, int axis, SD s = {});
array repeat(const array& a, int64_t repeats, SD s = {});  // flattened
enum class PadMode { constant, edge };
// pad_width: one (before, after) pair per axis, or one pair for all axes.
array pad(const array& a, const std::vector<std::pair<int64_t, int64_t>>& pad_width,
          const array& value = array(0), PadMode mode = PadMode::constant, SD s = {});
array flip(const array& a, const Axes& axes, SD s = {});
array flip(const array& a, SD s = {});
array roll(const array& a, int64_t shift, int axis, SD s = {});
array roll(const array& a, int64_t shift, SD s = {});  // flattened
array diagonal(const array& a, int64_t offset = 0, int axis1 = 0, int axis2 = 1, SD s = {});
array diag(const array& a, int64_t k = 0, SD s = {});
array trace(const array& a, int64_t offset = 0, int axis1 = 0, int axis2 = 1, SD s = {});
std::vector<array> meshgrid(const std::vector<array>& arrays, bool sparse = false,
                            const std::string& indexing = "xy", SD s = {});
array sort(const array& a, int axis = -1, SD s = {});
array argsort(const array& a, int axis = -1, SD s = {});
// The kth element in sorted position, smaller ones before it, larger after (unordered).
array partition(const array& a, int kth, int axis = -1, SD s = {});
array argpartition(const array& a, int kth, int axis = -1, SD s = {});
// The k largest elements along `axis`, sorted in descending order.
array topk(const array& a, int k, int axis = -1, SD s = {});

// ---------- linear algebra ----------
array matmul(const array& a, const array& b, SD s = {});
// alpha * (a @ b) + beta * c
array addmm(const array& c, const array& a, const array& b, float alpha = 1.0f, float beta = 1.0f,
            SD s = {});
array inner(const array& a, const array& b, SD s = {});
array outer(const array& a, const array& b, SD s = {});
array tensordot(const array& a, const array& b, int axes = 2, SD s = {});
array tensordot(const array& a, const array& b, const Axes& axes_a, const Axes& axes_b,
                SD s = {});
array einsum(const std::string& subscripts, const std::vector<array>& operands, SD s = {});

namespace linalg {
// ord: "" (2-norm of vectors, Frobenius of matrices), "fro", "nuc" is not supported,
// or a number (inf, -inf, 0, 1, 2, ...) as NumPy.
array norm(const array& a, std::optional<double> ord = std::nullopt,
           std::optional<Axes> axes = std::nullopt, bool keepdims = false, SD s = {});
array norm(const array& a, const std::string& ord, std::optional<Axes> axes = std::nullopt,
           bool keepdims = false, SD s = {});
}  // namespace linalg

// ---------- convolution (channels last, as MLX: input (N, ..., C_in),
// weight (C_out, ..., C_in / groups), output (N, ..., C_out)) ----------
array conv1d(const array& input, const array& weight, int stride = 1, int padding = 0,
             int dilation = 1, int groups = 1, SD s = {});
array conv2d(const array& input, const array& weight, std::pair<int, int> stride = {1, 1},
             std::pair<int, int> padding = {0, 0}, std::pair<int, int> dilation = {1, 1},
             int groups = 1, SD s = {});
// Transposed convolutions (PyTorch's ConvTranspose): out[s * stride + k * dilation - padding]
// += x[s] * W[o, k, c]; output size (L - 1) * stride - 2 * padding + dilation * (k - 1) +
// output_padding + 1. weight (C_out, k..., C_in / groups): W[o, k..., c] links input channel
// (o / (C_out / groups)) * (C_in / groups) + c to output channel o. A PyTorch weight
// (C_in, C_out / groups, k...) maps to it by (groups, C_in/g, C_out/g, k...) -> (groups, C_out/g,
// k..., C_in/g). output_padding (< stride or < dilation) adds rows at the high end only.
array conv_transpose1d(const array& input, const array& weight, int stride = 1, int padding = 0,
                       int dilation = 1, int output_padding = 0, int groups = 1, SD s = {});
array conv_transpose2d(const array& input, const array& weight,
                       std::pair<int, int> stride = {1, 1}, std::pair<int, int> padding = {0, 0},
                       std::pair<int, int> dilation = {1, 1},
                       std::pair<int, int> output_padding = {0, 0}, int groups = 1, SD s = {});
// General N-d convolution; the others are written with it. Per-dim vectors may hold one value
// (used for every spatial dim) or be empty (meaning stride/dilations 1, padding 0).
// input_dilation inserts (d - 1) zeros between input elements; flip reverses the kernel.
array conv_general(const array& input, const array& weight, std::vector<int> stride,
                   std::vector<int> padding_lo, std::vector<int> padding_hi,
                   std::vector<int> kernel_dilation, std::vector<int> input_dilation,
                   int groups = 1, bool flip = false, SD s = {});

// ---------- internal helpers shared by ops ----------
// Normalizes a possibly negative axis; throws "[op] axis A is out of range for an array with N
// dimensions".
int normalize_axis(int axis, int ndim, const char* op);
std::string shape_to_string(const Shape& shape);

}  // namespace alloy
