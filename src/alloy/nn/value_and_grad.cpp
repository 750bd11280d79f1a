#include "alloy/nn/value_and_grad.h"

#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/core/transforms.h"

namespace alloy::nn {

std::pair<std::vector<array>, NamedArrays> value_and_grad_of(
    Module& model, const std::function<std::vector<array>()>& call, std::optional<Dtype> compute_dtype) {
  if (compute_dtype && !is_floating(*compute_dtype)) {
    throw std::invalid_argument("[nn::value_and_grad] the compute dtype must be floating, got " +
                                std::string(dtype_name(*compute_dtype)));
  }
  NamedArrays originals = model.trainable_parameters();
  if (originals.empty()) {
    throw std::invalid_argument("[nn::value_and_grad] the model has no trainable parameters");
  }
  std::vector<std::string> names = originals.names();
  std::vector<int> argnums(names.size());
  for (size_t i = 0; i < argnums.size(); ++i) argnums[i] = static_cast<int>(i);

  // Puts the traced parameters into the model for the call and the originals back afterwards,
  // also when the loss throws.
  auto traced = [&](const std::vector<array>& params) {
    NamedArrays in;
    for (size_t i = 0; i < names.size(); ++i) {
      bool cast = compute_dtype && params[i].dtype() != *compute_dtype;
      in.insert(names[i], cast ? astype(params[i], *compute_dtype) : params[i]);
    }
    model.update(in);
    struct Restore {
      Module& m;
      const NamedArrays& o;
      ~Restore() { m.update(o); }
    } restore{model, originals};
    std::vector<array> outs = call();
    if (outs.empty() || outs[0].size() != 1) {
      throw std::invalid_argument("[nn::value_and_grad] the loss must be a single value, got shape " +
                                  (outs.empty() ? std::string("(none)") : shape_to_string(outs[0].shape())));
    }
    return outs;
  };
  auto [outs, grads] = alloy::value_and_grad(Fn(traced), argnums)(originals.values());
  NamedArrays named;
  for (size_t i = 0; i < names.size(); ++i) named.insert(names[i], grads[i]);
  return {outs, named};
}

}  // namespace alloy::nn
