// Derivative rules of reductions, scans, softmax, matmul, concatenate and custom/fused
// primitives.
#include <numeric>

#include "alloy/core/ops_util.h"
#include "alloy/core/transforms.h"

namespace alloy {
using detail::fail;

std::string Reduce::name() const {
  switch (op_) {
    case ReduceOp::sum: return "sum";
    case ReduceOp::prod: return "prod";
    case ReduceOp::max: return "max";
    case ReduceOp::min: return "min";
    case ReduceOp::any: return "any";
    case ReduceOp::all: return "all";
  }
  return "reduce";
}

bool Reduce::is_equivalent(const Primitive& o) const {
  auto* p = dynamic_cast<const Reduce*>(&o);
  return p && p->op_ == op_ && p->axes_ == axes_;
}

std::vector<array> Reduce::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>&, const std::vector<array>& outputs) {
  const array& x = primals[0];
  array g = broadcast_to(cotangents[0], x.shape());
  switch (op_) {
    case ReduceOp::sum:
      return {g};
    case ReduceOp::prod: {
      // prod / x where x != 0; with zeros, the product of the others (exclusive cumprods).
      Axes axes(axes_.begin(), axes_.end());
      array y = broadcast_to(outputs[0], x.shape());
      // Product of all other elements via exclusive scans along each reduced axis in turn
      // is exact only for one axis; use the division form with a zero-safe fallback.
      if (axes.size() == 1) {
        int ax = axes[0];
        array others = multiply(cumprod(x, ax, false, false), cumprod(x, ax, true, false));
        return {multiply(g, others)};
      }
      return {multiply(g, divide(y, x))};
    }
    case ReduceOp::max:
    case ReduceOp::min: {
      // Split the cotangent evenly among tied extrema.
      array y = broadcast_to(outputs[0], x.shape());
      array mask = astype(equal(x, y), x.dtype());
      array count = broadcast_to(sum(mask, Axes(axes_.begin(), axes_.end()), true), x.shape());
      return {divide(multiply(g, mask), count)};
    }
    case ReduceOp::any:
    case ReduceOp::all:
      return {zeros_like(x)};
  }
  return {zeros_like(x)};
}

std::vector<array> Reduce::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  Axes axes(axes_.begin(), axes_.end());
  switch (op_) {
    case ReduceOp::sum:
      return {sum(tangents[0], axes, true)};
    case ReduceOp::prod:
    case ReduceOp::max:
    case ReduceOp::min: {
      // Contract the tangent with the vjp rule's weights.
      Shape kept = primals[0].shape();
      for (int a : axes_) kept[a] = 1;
      array y(kept, primals[0].dtype(), std::make_shared<Reduce>(stream(), op_, axes_), primals);
      array w = vjp(primals, {ones_like(y)}, argnums, {y})[0];
      return {sum(multiply(w, tangents[0]), axes, true)};
    }
    case ReduceOp::any:
    case ReduceOp::all: {
      Shape kept = primals[0].shape();
      for (int a : axes_) kept[a] = 1;
      return {zeros(kept, bool_)};
    }
  }
  return {tangents[0]};
}

std::vector<array> ArgReduce::vjp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>&, const std::vector<array>&) {
  return {zeros_like(primals[0])};
}
std::vector<array> ArgReduce::jvp(const std::vector<array>& primals, const std::vector<array>&,
                                  const std::vector<int>&) {
  Shape kept = primals[0].shape();
  kept[axis_] = 1;
  return {zeros(kept, uint32)};
}

std::string Scan::name() const {
  switch (op_) {
    case ScanOp::sum: return "cumsum";
    case ScanOp::prod: return "cumprod";
    case ScanOp::max: return "cummax";
    case ScanOp::min: return "cummin";
  }
  return "scan";
}

namespace {
// For cummax/cummin: a one-hot (..., n_out, n_in) along the scan axis (moved last) marking the
// input element each running extremum came from (the latest tie, as PyTorch). O(n^2) in the
// scan length.
array scan_source_onehot(const array& x, const array& y, int axis, bool reverse) {
  int64_t n = x.shape(axis);
  array xs = moveaxis(x, axis, -1), ys = moveaxis(y, axis, -1);
  array pos = arange(0.0, double(n), 1.0, int32);
  array is_source = equal(xs, ys);
  array k = reverse ? cummin(where(is_source, pos, array(int32_t(n))), -1, true)
                    : cummax(where(is_source, pos, array(int32_t(-1))), -1);
  return astype(equal(expand_dims(k, -1), pos), x.dtype());
}
}  // namespace

std::vector<array> Scan::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                             const std::vector<int>&, const std::vector<array>& outputs) {
  const array& x = primals[0];
  const array& g = cotangents[0];
  switch (op_) {
    case ScanOp::sum:
      return {cumsum(g, axis_, !reverse_, inclusive_)};
    case ScanOp::prod:
      // d y_j / d x_i = y_j / x_i for every i that y_j multiplies (x_i != 0 assumed, as in MLX).
      return {divide(cumsum(multiply(g, outputs[0]), axis_, !reverse_, inclusive_), x)};
    case ScanOp::max:
    case ScanOp::min: {
      if (!inclusive_) fail(name().c_str(), "the exclusive scan has no vjp");
      array onehot = scan_source_onehot(x, outputs[0], axis_, reverse_);  // (..., j, i)
      array gs = expand_dims(moveaxis(g, axis_, -1), -1);                  // (..., j, 1)
      return {moveaxis(sum(multiply(gs, onehot), Axes{-2}), -1, axis_)};
    }
  }
  return {zeros_like(x)};
}

std::vector<array> Scan::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                             const std::vector<int>&) {
  const array& x = primals[0];
  const array& t = tangents[0];
  array y(x.shape(), x.dtype(), std::make_shared<Scan>(stream(), op_, axis_, reverse_, inclusive_), primals);
  switch (op_) {
    case ScanOp::sum:
      return {cumsum(t, axis_, reverse_, inclusive_)};
    case ScanOp::prod:
      return {multiply(y, cumsum(divide(t, x), axis_, reverse_, inclusive_))};
    case ScanOp::max:
    case ScanOp::min: {
      if (!inclusive_) fail(name().c_str(), "the exclusive scan has no jvp");
      array onehot = scan_source_onehot(x, y, axis_, reverse_);
      array ts = expand_dims(moveaxis(t, axis_, -1), -2);  // (..., 1, i)
      return {moveaxis(sum(multiply(ts, onehot), Axes{-1}), -1, axis_)};
    }
  }
  return {t};
}

std::vector<array> Softmax::vjp(const std::vector<array>&, const std::vector<array>& cotangents,
                                const std::vector<int>&, const std::vector<array>& outputs) {
  const array& y = outputs[0];
  const array& g = cotangents[0];
  return {multiply(y, subtract(g, sum(multiply(g, y), Axes{-1}, true)))};
}
std::vector<array> Softmax::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>&) {
  array y(primals[0].shape(), primals[0].dtype(), std::make_shared<Softmax>(stream()), primals);
  const array& t = tangents[0];
  return {multiply(y, subtract(t, sum(multiply(t, y), Axes{-1}, true)))};
}

std::vector<array> Matmul::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                               const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  const array& g = cotangents[0];
  for (int a : argnums) {
    if (a == 0) out.push_back(matmul(g, swapaxes(primals[1], -1, -2)));
    else out.push_back(matmul(swapaxes(primals[0], -1, -2), g));
  }
  return out;
}
std::vector<array> Matmul::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                               const std::vector<int>& argnums) {
  std::vector<array> parts;
  for (size_t k = 0; k < argnums.size(); ++k) {
    parts.push_back(argnums[k] == 0 ? matmul(tangents[k], primals[1]) : matmul(primals[0], tangents[k]));
  }
  return {parts.size() == 1 ? parts[0] : add(parts[0], parts[1])};
}

std::vector<array> AddMM::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  const array& g = cotangents[0];
  Dtype t = g.dtype();
  for (int a : argnums) {
    if (a == 0) out.push_back(multiply(array(alpha_, t), matmul(g, swapaxes(primals[1], -1, -2))));
    else if (a == 1) out.push_back(multiply(array(alpha_, t), matmul(swapaxes(primals[0], -1, -2), g)));
    else out.push_back(multiply(array(beta_, t), g));
  }
  return out;
}
std::vector<array> AddMM::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>& argnums) {
  Dtype t = primals[0].dtype();
  array out = zeros({}, t);
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] == 0) out = add(out, multiply(array(alpha_, t), matmul(tangents[k], primals[1])));
    if (argnums[k] == 1) out = add(out, multiply(array(alpha_, t), matmul(primals[0], tangents[k])));
    if (argnums[k] == 2) out = add(out, multiply(array(beta_, t), tangents[k]));
  }
  return {out};
}

std::vector<array> Concatenate::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                    const std::vector<int>& argnums, const std::vector<array>&) {
  Shape bounds;
  int64_t pos = 0;
  for (size_t i = 0; i + 1 < primals.size(); ++i) bounds.push_back(pos += primals[i].shape(axis_));
  auto parts = split(cotangents[0], bounds, axis_);
  std::vector<array> out;
  for (int a : argnums) out.push_back(parts[a]);
  return out;
}
std::vector<array> Concatenate::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                    const std::vector<int>& argnums) {
  std::vector<array> parts;
  size_t k = 0;
  for (size_t i = 0; i < primals.size(); ++i) {
    if (k < argnums.size() && argnums[k] == int(i)) parts.push_back(tangents[k++]);
    else parts.push_back(zeros_like(primals[i]));
  }
  return {concatenate(parts, axis_)};
}

std::vector<array> CustomVjp::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                  const std::vector<int>& argnums, const std::vector<array>& outputs) {
  int n_in = int(primals.size()) - num_outputs_;
  std::vector<array> inputs(primals.begin(), primals.begin() + n_in);
  auto grads = vjp_fn_(inputs, cotangents, outputs);
  if (int(grads.size()) != n_in) {
    fail("custom_vjp", "the vjp function returned ", grads.size(), " cotangents for ", n_in, " inputs");
  }
  std::vector<array> out;
  for (int a : argnums) out.push_back(a < n_in ? grads[a] : zeros_like(primals[a]));
  return out;
}
std::vector<array> Depends::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                                const std::vector<int>& argnums, const std::vector<array>&) {
  std::vector<array> out;
  for (int a : argnums) out.push_back(a < num_outputs_ ? cotangents[a] : zeros_like(primals[a]));
  return out;
}
std::vector<array> Depends::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                const std::vector<int>& argnums) {
  std::vector<array> out;
  for (int i = 0; i < num_outputs_; ++i) out.push_back(zeros_like(primals[i]));
  for (size_t k = 0; k < argnums.size(); ++k) {
    if (argnums[k] < num_outputs_) out[argnums[k]] = tangents[k];
  }
  return out;
}
std::vector<Shape> Depends::output_shapes(const std::vector<array>& inputs) {
  std::vector<Shape> out;
  for (int i = 0; i < num_outputs_; ++i) out.push_back(inputs[i].shape());
  return out;
}
std::vector<Dtype> Depends::output_dtypes(const std::vector<array>& inputs) {
  std::vector<Dtype> out;
  for (int i = 0; i < num_outputs_; ++i) out.push_back(inputs[i].dtype());
  return out;
}
std::vector<Shape> CustomVjp::output_shapes(const std::vector<array>& inputs) {
  std::vector<Shape> out;
  for (size_t i = inputs.size() - num_outputs_; i < inputs.size(); ++i) out.push_back(inputs[i].shape());
  return out;
}
std::vector<Dtype> CustomVjp::output_dtypes(const std::vector<array>& inputs) {
  std::vector<Dtype> out;
  for (size_t i = inputs.size() - num_outputs_; i < inputs.size(); ++i) out.push_back(inputs[i].dtype());
  return out;
}

std::vector<array> CustomVjp::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                                  const std::vector<int>& argnums) {
  // Forward mode goes through the traced function: the outputs' own tangents.
  std::vector<array> out;
  int n_in = int(primals.size()) - num_outputs_;
  for (int i = 0; i < num_outputs_; ++i) {
    array t = zeros_like(primals[n_in + i]);
    for (size_t k = 0; k < argnums.size(); ++k) {
      if (argnums[k] == n_in + i) t = tangents[k];
    }
    out.push_back(t);
  }
  return out;
}

std::vector<array> Fused::vjp(const std::vector<array>& primals, const std::vector<array>& cotangents,
                              const std::vector<int>& argnums, const std::vector<array>&) {
  auto [outs, grads] = alloy::vjp(fallback_, primals, cotangents);
  std::vector<array> out;
  for (int a : argnums) out.push_back(grads[a]);
  return out;
}
std::vector<array> Fused::jvp(const std::vector<array>& primals, const std::vector<array>& tangents,
                              const std::vector<int>& argnums) {
  std::vector<array> all_tangents;
  size_t k = 0;
  for (size_t i = 0; i < primals.size(); ++i) {
    if (k < argnums.size() && argnums[k] == int(i)) all_tangents.push_back(tangents[k++]);
    else all_tangents.push_back(zeros_like(primals[i]));
  }
  return alloy::jvp(fallback_, primals, all_tangents).second;
}

}  // namespace alloy
