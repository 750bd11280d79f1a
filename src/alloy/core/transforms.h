// Evaluation and function transforms: eval, async_eval, vjp, jvp, grad, value_and_grad,
// custom_vjp. Gradients are graphs of ops themselves, so they can be differentiated again.
#pragma once

#include <functional>
#include <utility>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/core/primitives.h"

namespace alloy {

// Runs the graphs of `outputs` and waits for them. Errors raised by kernels are rethrown here.
void eval(std::vector<array> outputs);
template <typename... Arrays>
void eval(Arrays&&... outputs) {
  eval(std::vector<array>{std::forward<Arrays>(outputs)...});
}
// Schedules the graphs and returns at once; reading data (or eval) waits.
void async_eval(std::vector<array> outputs);

using Fn = std::function<std::vector<array>(const std::vector<array>&)>;
using ScalarFn = std::function<array(const std::vector<array>&)>;

// (outputs, cotangents of the primals).
std::pair<std::vector<array>, std::vector<array>> vjp(const Fn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents);
std::pair<array, array> vjp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& cotangent);
// (outputs, tangents of the outputs).
std::pair<std::vector<array>, std::vector<array>> jvp(const Fn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& tangents);
std::pair<array, array> jvp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& tangent);

// fun returns a scalar loss first, then any auxiliary outputs (not differentiated).
// The result gives (all outputs, gradients of the loss w.r.t. the arguments in argnums).
using ValueAndGradFn =
    std::function<std::pair<std::vector<array>, std::vector<array>>(const std::vector<array>&)>;
ValueAndGradFn value_and_grad(const Fn& fun, std::vector<int> argnums = {0});
ValueAndGradFn value_and_grad(const ScalarFn& fun, std::vector<int> argnums = {0});
std::function<std::pair<array, array>(const array&)> value_and_grad(
    const std::function<array(const array&)>& fun);

std::function<std::vector<array>(const std::vector<array>&)> grad(const ScalarFn& fun,
                                                                  std::vector<int> argnums = {0});
std::function<array(const array&)> grad(const std::function<array(const array&)>& fun);

// xs again (sharing their buffers), computed only after deps: orders work the graph leaves free
// (a checkpoint's recomputation waits for its cotangents). Gradients pass to xs.
std::vector<array> depends(const std::vector<array>& xs, const std::vector<array>& deps);

// Wraps fun so that its vjp is vjp_fn(primals, cotangents, outputs) instead of the traced one.
Fn custom_vjp(Fn fun, VjpFunction vjp_fn);

}  // namespace alloy
