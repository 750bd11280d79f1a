#include "alloy/nn/checkpoint.h"

#include <memory>

namespace alloy::nn {

Fn checkpoint(Fn fn) {
  auto shared = std::make_shared<Fn>(std::move(fn));
  return custom_vjp(
      [shared](const std::vector<array>& inputs) { return (*shared)(inputs); },
      [shared](const std::vector<array>& primals, const std::vector<array>& cotangents,
               const std::vector<array>& /*outputs*/) {
        // The recomputation waits for the cotangents, so it runs just before its own backward
        // step instead of all checkpoints recomputing up front.
        std::vector<array> grads = vjp(*shared, depends(primals, cotangents), cotangents).second;
        // Released together: whatever reads one cotangent (the earlier layers' backward) runs
        // after all of them, so the recomputed activations are freed before the next
        // checkpoint recomputes its own.
        return depends(grads, grads);
      });
}

std::function<array(const array&)> checkpoint(UnaryModule& module) {
  return [&module](const array& x) {
    NamedArrays params = module.trainable_parameters();
    std::vector<std::string> names = params.names();
    // inputs: x, then the parameters in `names` order.
    Fn forward = [&module, names](const std::vector<array>& in) {
      NamedArrays current = module.trainable_parameters();
      NamedArrays given;
      for (size_t i = 0; i < names.size(); ++i) given.insert(names[i], in[i + 1]);
      module.update(given);
      struct Restore {
        Module& m;
        const NamedArrays& p;
        ~Restore() { m.update(p); }
      } restore{module, current};
      return std::vector<array>{module.forward(in[0])};
    };
    std::vector<array> inputs{x};
    for (const auto& item : params) inputs.push_back(item.second);
    return checkpoint(forward)(inputs)[0];
  };
}

}  // namespace alloy::nn
