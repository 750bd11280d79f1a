// vjp and jvp by tracing: the primals are wrapped in fresh identity nodes (tracers), the function
// builds its graph on them, and the nodes that depend on a tracer are walked in reverse (vjp) or
// forward (jvp) topological order, calling each primitive's vjp/jvp. Those are ops too, so the
// results are graphs that can be differentiated again.
#include "alloy/core/transforms.h"

#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "alloy/core/ops.h"

namespace alloy {
namespace {

std::vector<array> make_tracers(const std::vector<array>& primals) {
  std::vector<array> tracers;
  for (auto& p : primals) {
    Stream s = p.has_primitive() ? p.primitive().stream() : to_stream({});
    tracers.emplace_back(p.shape(), p.dtype(), std::make_shared<Reshape>(s, p.shape()), std::vector<array>{p});
  }
  return tracers;
}

// Nodes of the graph of `outputs` that depend on a tracer, in topological order (one node per
// primitive), and the set of ids of every array that depends on a tracer.
std::pair<std::vector<array>, std::unordered_set<uintptr_t>> dependent_tape(
    const std::vector<array>& outputs, const std::vector<array>& tracers) {
  std::unordered_set<uintptr_t> depends;
  for (auto& t : tracers) depends.insert(t.id());
  std::vector<array> tape;
  std::unordered_set<uintptr_t> visited;
  std::unordered_set<const Primitive*> taped;
  std::vector<std::pair<array, size_t>> stack;
  for (auto& t : tracers) visited.insert(t.id());
  for (auto& root : outputs) {
    if (!visited.insert(root.id()).second) continue;
    stack.emplace_back(root, 0);
    while (!stack.empty()) {
      auto& top = stack.back();
      if (top.second < top.first.inputs().size()) {
        array in = top.first.inputs()[top.second++];
        if (visited.insert(in.id()).second) stack.emplace_back(std::move(in), 0);
      } else {
        array a = std::move(top.first);
        stack.pop_back();
        bool dep = false;
        for (auto& in : a.inputs()) dep = dep || depends.count(in.id());
        if (dep) {
          for (auto& o : a.outputs()) depends.insert(o.id());
          if (taped.insert(&a.primitive()).second) tape.push_back(std::move(a));
        }
      }
    }
  }
  return {std::move(tape), std::move(depends)};
}

void accumulate(std::unordered_map<uintptr_t, array>& m, const array& key, array value) {
  auto it = m.find(key.id());
  if (it == m.end()) {
    m.emplace(key.id(), std::move(value));
  } else {
    it->second = add(it->second, value);
  }
}

using CotangentMaker = std::function<std::vector<array>(const std::vector<array>& outputs)>;

std::pair<std::vector<array>, std::vector<array>> vjp_impl(const Fn& fun,
                                                           const std::vector<array>& primals,
                                                           const CotangentMaker& make_cotangents) {
  auto tracers = make_tracers(primals);
  auto outputs = fun(tracers);
  auto cotangents = make_cotangents(outputs);
  if (cotangents.size() != outputs.size()) {
    throw std::invalid_argument("[vjp] got " + std::to_string(cotangents.size()) +
                                " cotangents for " + std::to_string(outputs.size()) + " outputs");
  }
  std::unordered_map<uintptr_t, array> cot;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (cotangents[i].shape() != outputs[i].shape()) {
      throw std::invalid_argument("[vjp] cotangent " + std::to_string(i) + " has shape " +
                                  shape_to_string(cotangents[i].shape()) + " but the output has " +
                                  shape_to_string(outputs[i].shape()));
    }
    accumulate(cot, outputs[i], astype(cotangents[i], outputs[i].dtype()));
  }
  auto [tape, depends] = dependent_tape(outputs, tracers);
  for (auto it = tape.rbegin(); it != tape.rend(); ++it) {
    auto outs = it->outputs();
    std::vector<array> out_cots;
    bool any = false;
    for (auto& o : outs) {
      auto c = cot.find(o.id());
      any = any || c != cot.end();
      out_cots.push_back(c != cot.end() ? c->second : zeros_like(o));
    }
    if (!any) continue;
    const auto& inputs = it->inputs();
    std::vector<int> argnums;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (depends.count(inputs[i].id()) && it->primitive().input_has_gradient(i, inputs.size())) {
        argnums.push_back(int(i));
      }
    }
    if (argnums.empty()) continue;
    auto in_cots = it->primitive().vjp(inputs, out_cots, argnums, outs);
    for (size_t k = 0; k < argnums.size(); ++k) {
      const array& in = inputs[argnums[k]];
      array c = in_cots[k];
      if (c.shape() != in.shape()) c = broadcast_to(c, in.shape());
      if (c.dtype() != in.dtype()) c = astype(c, in.dtype());
      accumulate(cot, in, std::move(c));
    }
    for (auto& o : outs) cot.erase(o.id());  // consumed; frees memory early
  }
  std::vector<array> grads;
  for (size_t i = 0; i < tracers.size(); ++i) {
    auto c = cot.find(tracers[i].id());
    grads.push_back(c != cot.end() ? c->second : zeros_like(primals[i]));
  }
  return {outputs, grads};
}

}  // namespace

std::pair<std::vector<array>, std::vector<array>> vjp(const Fn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& cotangents) {
  return vjp_impl(fun, primals, [&](const std::vector<array>&) { return cotangents; });
}

std::pair<array, array> vjp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& cotangent) {
  auto [outs, grads] = vjp([&](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; },
                           {primal}, {cotangent});
  return {outs[0], grads[0]};
}

std::pair<std::vector<array>, std::vector<array>> jvp(const Fn& fun,
                                                      const std::vector<array>& primals,
                                                      const std::vector<array>& tangents) {
  if (primals.size() != tangents.size()) {
    throw std::invalid_argument("[jvp] got " + std::to_string(tangents.size()) +
                                " tangents for " + std::to_string(primals.size()) + " primals");
  }
  for (size_t i = 0; i < primals.size(); ++i) {
    if (primals[i].shape() != tangents[i].shape()) {
      throw std::invalid_argument("[jvp] tangent " + std::to_string(i) + " has shape " +
                                  shape_to_string(tangents[i].shape()) + " but the primal has " +
                                  shape_to_string(primals[i].shape()));
    }
  }
  auto tracers = make_tracers(primals);
  auto outputs = fun(tracers);
  std::unordered_map<uintptr_t, array> tan;
  for (size_t i = 0; i < tracers.size(); ++i) {
    tan.emplace(tracers[i].id(), astype(tangents[i], primals[i].dtype()));
  }
  auto [tape, depends] = dependent_tape(outputs, tracers);
  for (auto& node : tape) {
    const auto& inputs = node.inputs();
    std::vector<int> argnums;
    std::vector<array> in_tans;
    for (size_t i = 0; i < inputs.size(); ++i) {
      auto t = tan.find(inputs[i].id());
      if (t != tan.end()) {
        argnums.push_back(int(i));
        in_tans.push_back(t->second);
      }
    }
    if (argnums.empty()) continue;
    auto outs = node.outputs();
    auto out_tans = node.primitive().jvp(inputs, in_tans, argnums);
    for (size_t k = 0; k < outs.size(); ++k) tan.emplace(outs[k].id(), out_tans[k]);
  }
  std::vector<array> result;
  for (auto& o : outputs) {
    auto t = tan.find(o.id());
    result.push_back(t != tan.end() ? t->second : zeros_like(o));
  }
  return {outputs, result};
}

std::pair<array, array> jvp(const std::function<array(const array&)>& fun, const array& primal,
                            const array& tangent) {
  auto [outs, tans] = jvp([&](const std::vector<array>& x) { return std::vector<array>{fun(x[0])}; },
                          {primal}, {tangent});
  return {outs[0], tans[0]};
}

ValueAndGradFn value_and_grad(const Fn& fun, std::vector<int> argnums) {
  if (argnums.empty()) throw std::invalid_argument("[value_and_grad] argnums is empty");
  return [fun, argnums](const std::vector<array>& args) {
    std::vector<array> diff_args;
    for (int a : argnums) {
      if (a < 0 || a >= int(args.size())) {
        throw std::invalid_argument("[value_and_grad] argnum " + std::to_string(a) +
                                    " is out of range for " + std::to_string(args.size()) +
                                    " arguments");
      }
      diff_args.push_back(args[a]);
    }
    std::vector<array> all_outputs;
    auto inner = [&](const std::vector<array>& d) {
      auto full_args = args;
      for (size_t k = 0; k < argnums.size(); ++k) full_args[argnums[k]] = d[k];
      all_outputs = fun(full_args);
      if (all_outputs.empty() || all_outputs[0].size() != 1 || all_outputs[0].ndim() != 0) {
        throw std::invalid_argument(
            "[value_and_grad] the function must return a scalar (0-d array) first; got shape " +
            (all_outputs.empty() ? std::string("nothing") : shape_to_string(all_outputs[0].shape())));
      }
      return std::vector<array>{all_outputs[0]};
    };
    auto [outs, grads] = vjp_impl(inner, diff_args, [](const std::vector<array>& o) {
      return std::vector<array>{ones_like(o[0])};
    });
    return std::make_pair(all_outputs, grads);
  };
}

ValueAndGradFn value_and_grad(const ScalarFn& fun, std::vector<int> argnums) {
  return value_and_grad(Fn([fun](const std::vector<array>& a) { return std::vector<array>{fun(a)}; }),
                        std::move(argnums));
}

std::function<std::pair<array, array>(const array&)> value_and_grad(
    const std::function<array(const array&)>& fun) {
  auto vg = value_and_grad(ScalarFn([fun](const std::vector<array>& a) { return fun(a[0]); }));
  return [vg](const array& x) {
    auto [v, g] = vg({x});
    return std::make_pair(v[0], g[0]);
  };
}

std::function<std::vector<array>(const std::vector<array>&)> grad(const ScalarFn& fun,
                                                                  std::vector<int> argnums) {
  auto vg = value_and_grad(fun, std::move(argnums));
  return [vg](const std::vector<array>& a) { return vg(a).second; };
}

std::function<array(const array&)> grad(const std::function<array(const array&)>& fun) {
  auto vg = value_and_grad(fun);
  return [vg](const array& x) { return vg(x).second; };
}

std::vector<array> depends(const std::vector<array>& xs, const std::vector<array>& deps) {
  if (xs.empty()) throw std::invalid_argument("[depends] needs at least one array");
  std::vector<Shape> shapes;
  std::vector<Dtype> dtypes;
  for (auto& x : xs) {
    shapes.push_back(x.shape());
    dtypes.push_back(x.dtype());
  }
  std::vector<array> inputs = xs;
  inputs.insert(inputs.end(), deps.begin(), deps.end());
  return array::make_arrays(std::move(shapes), dtypes, std::make_shared<Depends>(to_stream({}), int(xs.size())),
                            inputs);
}

Fn custom_vjp(Fn fun, VjpFunction vjp_fn) {
  return [fun = std::move(fun), vjp_fn = std::move(vjp_fn)](const std::vector<array>& inputs) {
    auto outs = fun(inputs);
    std::vector<Shape> shapes;
    std::vector<Dtype> dtypes;
    for (auto& o : outs) {
      shapes.push_back(o.shape());
      dtypes.push_back(o.dtype());
    }
    auto all_inputs = inputs;
    all_inputs.insert(all_inputs.end(), outs.begin(), outs.end());
    return array::make_arrays(std::move(shapes), dtypes,
                              std::make_shared<CustomVjp>(to_stream({}), int(outs.size()), vjp_fn),
                              all_inputs);
  };
}

}  // namespace alloy
