// Primitives: the operations the graph is made of. Each has eval_cpu (in backend/cpu),
// eval_gpu (in the GPU backend, or its stub), vjp, jvp, name, output_shapes, is_equivalent.
// Elementwise families are one class with an op enum so that backends share one functor per op.
// Everything else is composed from these in ops.cpp and gets gradients and backends for free.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/core/device.h"

namespace alloy {

class Primitive {
 public:
  explicit Primitive(Stream stream) : stream_(stream) {}
  virtual ~Primitive() = default;
  Primitive(const Primitive&) = delete;
  Primitive& operator=(const Primitive&) = delete;

  virtual void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;
  virtual void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) = 0;

  // Cotangents of the inputs listed in argnums, given cotangents of every output.
  virtual std::vector<array> vjp(const std::vector<array>& primals,
                                 const std::vector<array>& cotangents,
                                 const std::vector<int>& argnums,
                                 const std::vector<array>& outputs);
  // Tangents of every output, given tangents of the inputs listed in argnums.
  virtual std::vector<array> jvp(const std::vector<array>& primals,
                                 const std::vector<array>& tangents,
                                 const std::vector<int>& argnums);
  // False for inputs that gradients never flow to (stop_gradient's input; the outputs
  // custom_vjp passes through): vjp skips them, so the graph behind them is not walked.
  virtual bool input_has_gradient(size_t input, size_t num_inputs) const { return true; }
  virtual std::string name() const = 0;
  // Shapes and dtypes of all outputs (needed to recreate an output the user already dropped;
  // multi-output primitives implement them).
  virtual std::vector<Shape> output_shapes(const std::vector<array>& inputs);
  virtual std::vector<Dtype> output_dtypes(const std::vector<array>& inputs);
  virtual bool is_equivalent(const Primitive&) const { return false; }

  const Stream& stream() const { return stream_; }
  Device device() const { return stream_.device; }

 private:
  Stream stream_;
};

// A primitive with one output.
class SingleOutputPrimitive : public Primitive {
 public:
  using Primitive::Primitive;
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) final {
    eval_cpu(inputs, outputs[0]);
  }
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) final {
    eval_gpu(inputs, outputs[0]);
  }
  virtual void eval_cpu(const std::vector<array>& inputs, array& out) = 0;
  virtual void eval_gpu(const std::vector<array>& inputs, array& out) = 0;
};

#define ALLOY_EVAL_SINGLE                                                \
  void eval_cpu(const std::vector<array>& inputs, array& out) override;  \
  void eval_gpu(const std::vector<array>& inputs, array& out) override;

#define ALLOY_EVAL_MULTI                                                                  \
  void eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;  \
  void eval_gpu(const std::vector<array>& inputs, std::vector<array>& outputs) override;

#define ALLOY_GRADS                                                                    \
  std::vector<array> vjp(const std::vector<array>& primals,                            \
                         const std::vector<array>& cotangents,                         \
                         const std::vector<int>& argnums,                              \
                         const std::vector<array>& outputs) override;                  \
  std::vector<array> jvp(const std::vector<array>& primals,                            \
                         const std::vector<array>& tangents,                           \
                         const std::vector<int>& argnums) override;

#define ALLOY_NAME(N) \
  std::string name() const override { return N; }

// ---------- elementwise ----------
enum class UnaryOp {
  abs, negative, sign, exp, expm1, log, log1p, log2, log10, sqrt, rsqrt, square, reciprocal,
  sin, cos, tan, arcsin, arccos, arctan, sinh, cosh, tanh, arcsinh, arccosh, arctanh,
  sigmoid, erf, erfinv, floor, ceil, round, logical_not, bitwise_invert, isnan, isinf,
};
const char* unary_op_name(UnaryOp op);

class Unary : public SingleOutputPrimitive {
 public:
  Unary(Stream s, UnaryOp op) : SingleOutputPrimitive(s), op_(op) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  std::string name() const override { return unary_op_name(op_); }
  bool is_equivalent(const Primitive& o) const override;
  UnaryOp op() const { return op_; }

 private:
  UnaryOp op_;
};

enum class BinaryOp {
  add, subtract, multiply, divide, floor_divide, remainder, power, maximum, minimum, logaddexp,
  arctan2, equal, not_equal, less, less_equal, greater, greater_equal, logical_and, logical_or,
  bitwise_and, bitwise_or, bitwise_xor, left_shift, right_shift,
};
const char* binary_op_name(BinaryOp op);
bool is_comparison(BinaryOp op);

class Binary : public SingleOutputPrimitive {
 public:
  Binary(Stream s, BinaryOp op) : SingleOutputPrimitive(s), op_(op) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  std::string name() const override { return binary_op_name(op_); }
  bool is_equivalent(const Primitive& o) const override;
  BinaryOp op() const { return op_; }

 private:
  BinaryOp op_;
};

// where(condition, x, y); inputs broadcast to one shape by the op.
class Select : public SingleOutputPrimitive {
 public:
  using SingleOutputPrimitive::SingleOutputPrimitive;
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("where")
  bool is_equivalent(const Primitive&) const override { return true; }
};

class AsType : public SingleOutputPrimitive {
 public:
  AsType(Stream s, Dtype dtype) : SingleOutputPrimitive(s), dtype_(dtype) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("astype")
  bool is_equivalent(const Primitive& o) const override;

 private:
  Dtype dtype_;
};

// A row-contiguous copy. Also the identity that stop_gradient and tracers are built on.
class Copy : public SingleOutputPrimitive {
 public:
  explicit Copy(Stream s, bool stop_gradient = false)
      : SingleOutputPrimitive(s), stop_gradient_(stop_gradient) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  std::string name() const override { return stop_gradient_ ? "stop_gradient" : "copy"; }
  bool input_has_gradient(size_t, size_t) const override { return !stop_gradient_; }
  bool is_equivalent(const Primitive& o) const override;

 private:
  bool stop_gradient_;
};

// Fills a row-contiguous output of `shape` with its one scalar input (of the output dtype).
class Full : public SingleOutputPrimitive {
 public:
  Full(Stream s, Shape shape) : SingleOutputPrimitive(s), shape_(std::move(shape)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("full")

 private:
  Shape shape_;
};

class Arange : public SingleOutputPrimitive {
 public:
  Arange(Stream s, double start, double step) : SingleOutputPrimitive(s), start_(start), step_(step) {}
  ALLOY_EVAL_SINGLE
  ALLOY_NAME("arange")
  bool is_equivalent(const Primitive& o) const override;

 private:
  double start_, step_;
};

// ---------- views: the output shares the input's buffer ----------
class Reshape : public SingleOutputPrimitive {
 public:
  Reshape(Stream s, Shape shape) : SingleOutputPrimitive(s), shape_(std::move(shape)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("reshape")
  bool is_equivalent(const Primitive& o) const override;
  // Strides that view `in` with `shape` without a copy, or empty when impossible.
  static Strides view_strides(const array& in, const Shape& shape);

 private:
  Shape shape_;
};

class Transpose : public SingleOutputPrimitive {
 public:
  Transpose(Stream s, std::vector<int> axes) : SingleOutputPrimitive(s), axes_(std::move(axes)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("transpose")
  bool is_equivalent(const Primitive& o) const override;

 private:
  std::vector<int> axes_;
};

class Slice : public SingleOutputPrimitive {
 public:
  // start is normalized (0 <= start < n); shape is the output shape.
  Slice(Stream s, Shape start, Shape step, Shape shape)
      : SingleOutputPrimitive(s), start_(std::move(start)), step_(std::move(step)),
        shape_(std::move(shape)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("slice")
  bool is_equivalent(const Primitive& o) const override;
  const Shape& start() const { return start_; }
  const Shape& step() const { return step_; }

 private:
  Shape start_, step_, shape_;
};

class Broadcast : public SingleOutputPrimitive {
 public:
  Broadcast(Stream s, Shape shape) : SingleOutputPrimitive(s), shape_(std::move(shape)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("broadcast_to")
  bool is_equivalent(const Primitive& o) const override;

 private:
  Shape shape_;
};

class AsStrided : public SingleOutputPrimitive {
 public:
  AsStrided(Stream s, Shape shape, Strides strides, int64_t offset)
      : SingleOutputPrimitive(s), shape_(std::move(shape)), strides_(std::move(strides)),
        offset_(offset) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("as_strided")
  bool is_equivalent(const Primitive& o) const override;

 private:
  Shape shape_;
  Strides strides_;
  int64_t offset_;
};

// Writes `update` (input 1) into a copy of input 0 at a strided slice.
class SliceUpdate : public SingleOutputPrimitive {
 public:
  SliceUpdate(Stream s, Shape start, Shape step)
      : SingleOutputPrimitive(s), start_(std::move(start)), step_(std::move(step)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("slice_update")

 private:
  Shape start_, step_;
};

// Inputs (a, update, start): update (a's rank) written at start[i] along axes_[i], clamped so
// it fits; start int32 (axes_.size(),).
class DynamicSliceUpdate : public SingleOutputPrimitive {
 public:
  DynamicSliceUpdate(Stream s, std::vector<int> axes) : SingleOutputPrimitive(s), axes_(std::move(axes)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_NAME("slice_update_at")
  // Offset in elements of the update's first element in the output, from the start indices.
  int64_t element_offset(const int32_t* start, const array& out, const array& update) const;
  const std::vector<int>& axes() const { return axes_; }

 private:
  std::vector<int> axes_;
};

// ---------- reductions and scans ----------
enum class ReduceOp { sum, prod, max, min, any, all };

// Reduces `axes`, keeping them as size-1 dims (ops squeeze when keepdims is false).
class Reduce : public SingleOutputPrimitive {
 public:
  Reduce(Stream s, ReduceOp op, std::vector<int> axes)
      : SingleOutputPrimitive(s), op_(op), axes_(std::move(axes)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  std::string name() const override;
  bool is_equivalent(const Primitive& o) const override;

 private:
  ReduceOp op_;
  std::vector<int> axes_;
};

enum class ArgReduceOp { argmax, argmin };

// Index (uint32) of the first max/min along `axis`, kept as a size-1 dim.
class ArgReduce : public SingleOutputPrimitive {
 public:
  ArgReduce(Stream s, ArgReduceOp op, int axis) : SingleOutputPrimitive(s), op_(op), axis_(axis) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  std::string name() const override { return op_ == ArgReduceOp::argmax ? "argmax" : "argmin"; }

 private:
  ArgReduceOp op_;
  int axis_;
};

enum class ScanOp { sum, prod, max, min };

class Scan : public SingleOutputPrimitive {
 public:
  Scan(Stream s, ScanOp op, int axis, bool reverse, bool inclusive)
      : SingleOutputPrimitive(s), op_(op), axis_(axis), reverse_(reverse), inclusive_(inclusive) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  std::string name() const override;

 private:
  ScanOp op_;
  int axis_;
  bool reverse_, inclusive_;
};

// Softmax over the last axis, accumulated in float32 for 16-bit inputs.
class Softmax : public SingleOutputPrimitive {
 public:
  using SingleOutputPrimitive::SingleOutputPrimitive;
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("softmax")
};

// ---------- linear algebra and convolution ----------
// (..., M, K) @ (..., K, N) with batch dims already broadcast to the same shape.
class Matmul : public SingleOutputPrimitive {
 public:
  using SingleOutputPrimitive::SingleOutputPrimitive;
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("matmul")
};

// alpha * (a @ b) + beta * c; inputs (a, b, c) with c broadcast to the output shape.
class AddMM : public SingleOutputPrimitive {
 public:
  AddMM(Stream s, float alpha, float beta) : SingleOutputPrimitive(s), alpha_(alpha), beta_(beta) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("addmm")

 private:
  float alpha_, beta_;
};

// N-d convolution, channels last: input (N, spatial..., C_in), weight (C_out, kernel..., C_in/g).
// input_dilation > 1 inserts zeros between input elements (transposed convolutions use it).
class Convolution : public SingleOutputPrimitive {
 public:
  struct Params {
    std::vector<int> stride, padding_lo, padding_hi, kernel_dilation, input_dilation;
    int groups = 1;
    bool flip = false;  // true correlation vs. convolution (kernel reversed)
  };
  Convolution(Stream s, Params p) : SingleOutputPrimitive(s), p_(std::move(p)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("convolution")
  const Params& params() const { return p_; }

 private:
  Params p_;
};

// ---------- indexing ----------
// out[i..., s...] = a[idx_0[i...], ..., idx_k[i...] at `axes`, slice positions s...]
// Inputs: (a, idx_0, ..., idx_k), indices broadcast to one shape; output shape
// idx_shape + slice_sizes.
class Gather : public SingleOutputPrimitive {
 public:
  Gather(Stream s, std::vector<int> axes, Shape slice_sizes)
      : SingleOutputPrimitive(s), axes_(std::move(axes)), slice_sizes_(std::move(slice_sizes)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("gather")

 private:
  std::vector<int> axes_;
  Shape slice_sizes_;
};

enum class ScatterOp { none, sum, prod, max, min };

// Inputs (a, idx_0, ..., idx_k, updates): updates of shape idx_shape + slice shape (with the
// indexed axes of size 1) are combined into a copy of a.
class Scatter : public SingleOutputPrimitive {
 public:
  Scatter(Stream s, ScatterOp op, std::vector<int> axes)
      : SingleOutputPrimitive(s), op_(op), axes_(std::move(axes)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("scatter")

 private:
  ScatterOp op_;
  std::vector<int> axes_;
};

// take_along_axis: inputs (a, indices) with indices broadcast to a's shape except on `axis`.
class GatherAxis : public SingleOutputPrimitive {
 public:
  GatherAxis(Stream s, int axis) : SingleOutputPrimitive(s), axis_(axis) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("take_along_axis")

 private:
  int axis_;
};

// put_along_axis: inputs (a, indices, values), indices and values of one shape.
class ScatterAxis : public SingleOutputPrimitive {
 public:
  ScatterAxis(Stream s, ScatterOp op, int axis) : SingleOutputPrimitive(s), op_(op), axis_(axis) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("put_along_axis")

 private:
  ScatterOp op_;
  int axis_;
};

class Concatenate : public SingleOutputPrimitive {
 public:
  Concatenate(Stream s, int axis) : SingleOutputPrimitive(s), axis_(axis) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  ALLOY_NAME("concatenate")

 private:
  int axis_;
};

enum class SortKind { sort, argsort, partition, argpartition };

// Along `axis`; arg variants give uint32 indices. Stable for sort/argsort.
class Sort : public SingleOutputPrimitive {
 public:
  Sort(Stream s, SortKind kind, int axis, int kth = 0)
      : SingleOutputPrimitive(s), kind_(kind), axis_(axis), kth_(kth) {}
  ALLOY_EVAL_SINGLE
  ALLOY_GRADS
  std::string name() const override;

 private:
  SortKind kind_;
  int axis_, kth_;
};

// ---------- random ----------
// Threefry-2x32 (20 rounds) bits from a key (uint32 pair): counter-based, so the same key gives
// the same bits on any device. Input: keys of shape (..., 2); output uint32 (..., shape).
class RandomBits : public SingleOutputPrimitive {
 public:
  RandomBits(Stream s, Shape shape) : SingleOutputPrimitive(s), shape_(std::move(shape)) {}
  ALLOY_EVAL_SINGLE
  ALLOY_NAME("random_bits")

 private:
  Shape shape_;
};

// ---------- custom transforms ----------
// Outputs are the last num_outputs inputs, passed through; the vjp is a user function.
using VjpFunction = std::function<std::vector<array>(
    const std::vector<array>& primals, const std::vector<array>& cotangents,
    const std::vector<array>& outputs)>;

class CustomVjp : public Primitive {
 public:
  CustomVjp(Stream s, int num_outputs, VjpFunction vjp_fn)
      : Primitive(s), num_outputs_(num_outputs), vjp_fn_(std::move(vjp_fn)) {}
  ALLOY_EVAL_MULTI
  ALLOY_GRADS
  ALLOY_NAME("custom_vjp")
  // Inputs are the primals, then the outputs of the wrapped function (passed through).
  bool input_has_gradient(size_t input, size_t num_inputs) const override {
    return input + size_t(num_outputs_) < num_inputs;
  }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override;

 private:
  int num_outputs_;
  VjpFunction vjp_fn_;
};

// depends(xs, deps): outputs that are xs (sharing their buffers) but run only after deps are
// computed; gradients pass to xs only. Orders work that the graph alone leaves free.
class Depends : public Primitive {
 public:
  Depends(Stream s, int num_outputs) : Primitive(s), num_outputs_(num_outputs) {}
  ALLOY_EVAL_MULTI
  ALLOY_GRADS
  ALLOY_NAME("depends")
  bool input_has_gradient(size_t input, size_t) const override { return input < size_t(num_outputs_); }
  std::vector<Shape> output_shapes(const std::vector<array>& inputs) override;
  std::vector<Dtype> output_dtypes(const std::vector<array>& inputs) override;

 private:
  int num_outputs_;
};

// Base of fused ops: the fused kernel runs forward; gradients come from `fallback`, the same
// function composed from plain ops.
class Fused : public Primitive {
 public:
  using Fallback = std::function<std::vector<array>(const std::vector<array>&)>;
  Fused(Stream s, Fallback fallback) : Primitive(s), fallback_(std::move(fallback)) {}
  std::vector<array> vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                         const std::vector<int>& argnums,
                         const std::vector<array>& outputs) override;
  std::vector<array> jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                         const std::vector<int>& argnums) override;

 protected:
  Fallback fallback_;
};

}  // namespace alloy
