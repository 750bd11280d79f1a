// nn::value_and_grad(model, loss_fn): a function that runs loss_fn and returns the loss with
// the gradients of the model's trainable parameters, as mlx.nn.value_and_grad.
//
//   auto step = nn::value_and_grad(model, [&](const array& x, const array& y) {
//     return nn::losses::cross_entropy(model.forward(x), y);
//   });
//   auto [loss, grads] = step(x, y);  // grads: NamedArrays named as model.trainable_parameters()
//
// loss_fn returns the scalar loss, or a std::vector<array> whose first entry is the loss and
// whose others are auxiliary outputs (returned, not differentiated). While loss_fn runs, the
// model's trainable parameters are the traced copies; afterwards they are the originals again.
// Buffers loss_fn assigns (BatchNorm's running statistics) keep their new values. The returned
// function refers to `model`, which must outlive it.
//
// Mixed precision: value_and_grad(model, loss_fn, bfloat16) runs loss_fn with the floating
// parameters and floating array arguments cast to bfloat16 (or float16), while the model keeps
// its float32 master weights and the gradients come back in float32 (the casts' vjp). With
// float16, scale the loss with a LossScaler (mixed_precision.h) so small gradients do not
// flush to zero.
#pragma once

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/core/ops.h"
#include "alloy/nn/module.h"
#include "alloy/nn/named_arrays.h"

namespace alloy::nn {

// The engine: call() runs the loss with the model's trainable parameters traced (and cast to
// compute_dtype when one is given).
std::pair<std::vector<array>, NamedArrays> value_and_grad_of(
    Module& model, const std::function<std::vector<array>()>& call,
    std::optional<Dtype> compute_dtype = std::nullopt);

namespace detail {
// A floating array argument in the compute dtype; anything else unchanged.
template <typename T>
decltype(auto) to_compute_dtype(const T& arg, std::optional<Dtype> dtype) {
  if constexpr (std::is_same_v<T, array>) {
    return dtype && is_floating(arg.dtype()) && arg.dtype() != *dtype ? astype(arg, *dtype) : arg;
  } else {
    return (arg);
  }
}
}  // namespace detail

template <typename F>
auto value_and_grad(Module& model, F loss_fn, std::optional<Dtype> compute_dtype = std::nullopt) {
  return [&model, loss_fn, compute_dtype](const auto&... args) {
    using Result = std::invoke_result_t<const F&, decltype(args)...>;
    auto call = [&]() { return loss_fn(detail::to_compute_dtype(args, compute_dtype)...); };
    if constexpr (std::is_same_v<std::decay_t<Result>, array>) {
      auto [outs, grads] = value_and_grad_of(
          model, [&]() { return std::vector<array>{call()}; }, compute_dtype);
      return std::pair<array, NamedArrays>{outs[0], std::move(grads)};
    } else {
      static_assert(std::is_same_v<std::decay_t<Result>, std::vector<array>>,
                    "nn::value_and_grad: loss_fn must return an array or a std::vector<array>");
      return value_and_grad_of(model, call, compute_dtype);
    }
  };
}

}  // namespace alloy::nn
