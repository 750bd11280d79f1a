#include "alloy/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/core/transforms.h"
#include "alloy/io/io.h"

namespace alloy::optim {

LearningRate::LearningRate(double value) : value_(value) {
  if (!(value >= 0) || std::isinf(value)) {
    throw std::invalid_argument("[optim] the learning rate must be finite and non-negative, got " +
                                std::to_string(value));
  }
}

double LearningRate::at(int64_t step) const {
  if (!schedule_) return value_;
  double v = schedule_(step);
  if (!(v >= 0) || std::isinf(v)) {
    throw std::invalid_argument("[optim] the learning-rate schedule gave " + std::to_string(v) +
                                " at step " + std::to_string(step) +
                                " (it must be finite and non-negative)");
  }
  return v;
}

Dtype state_dtype(Dtype param_dtype) {
  return param_dtype == float16 || param_dtype == bfloat16 ? float32 : param_dtype;
}

Optimizer::Optimizer(std::string name, std::optional<LearningRate> lr)
    : name_(std::move(name)), lr_(std::move(lr)) {}

void Optimizer::require(bool ok, const std::string& message) const {
  if (!ok) throw std::invalid_argument("[" + name_ + "] " + message);
}

double Optimizer::learning_rate() const {
  require(lr_.has_value(), "has no learning rate");
  return lr_->at(step_);
}

void Optimizer::update(nn::Module& model, const nn::NamedArrays& grads) {
  nn::NamedArrays updated = apply(model.parameters(), grads);
  nn::NamedArrays changed;
  for (const auto& item : grads) changed.insert(item.first, updated.at(item.first));
  model.update(changed);
}

nn::NamedArrays Optimizer::apply(const nn::NamedArrays& params, const nn::NamedArrays& grads) {
  // Every check comes before any change, so a bad call leaves the optimizer as it was.
  for (const auto& [name, g] : grads) {
    require(params.contains(name), "got a gradient for '" + name + "', which is not a parameter");
    const array& p = params.at(name);
    require(g.shape() == p.shape(), "the gradient of '" + name + "' has shape " +
                                        shape_to_string(g.shape()) + " but the parameter has " +
                                        shape_to_string(p.shape()));
    require(is_floating(g.dtype()), "the gradient of '" + name + "' must be floating, got " +
                                        dtype_name(g.dtype()));
  }
  if (loaded_) validate_loaded_state(params);

  const StepInfo info{step_ + 1, learning_rate(), false};
  std::vector<Update> updates;
  for (const auto& [name, g] : grads) {
    const array& p = params.at(name);
    Dtype dt = state_dtype(p.dtype());
    array p_state = p.dtype() == dt ? p : astype(p, dt);
    array g_state = g.dtype() == dt ? g : astype(g, dt);
    auto it = slots_.find(name);
    StepInfo step = info;
    if (it == slots_.end()) {
      it = slots_.emplace(name, init_state(p_state)).first;
      order_.push_back(name);
      step.fresh = true;
    }
    updates.push_back(Update{p_state, g_state, &it->second, step});
  }
  std::vector<array> next = update_all(updates);
  nn::NamedArrays out = params;
  std::vector<array> results;
  size_t i = 0;
  for (const auto& [name, g] : grads) {
    const array& p = params.at(name);
    array n = next[i].dtype() != p.dtype() ? astype(next[i], p.dtype()) : next[i];
    out.set(name, n);
    results.push_back(n);
    for (const auto& slot : *updates[i].slots) results.push_back(slot.second);
    ++i;
  }
  step_ = info.t;
  eval(results);
  return out;
}

std::vector<array> Optimizer::update_all(std::vector<Update>& updates) const {
  std::vector<array> next;
  for (auto& u : updates) next.push_back(update_one(u.param, u.grad, *u.slots, u.step));
  return next;
}

nn::NamedArrays Optimizer::state() const {
  nn::NamedArrays out;
  for (const auto& name : order_) {
    for (const auto& [slot, value] : slots_.at(name)) out.insert(name + "." + slot, value);
  }
  out.insert("step", array(step_, int64));
  return out;
}

void Optimizer::load_state(const nn::NamedArrays& state) {
  require(state.contains("step"), "the state has no 'step' entry (not an optimizer state?)");
  array step = state.at("step");
  require(step.size() == 1 && is_integral(step.dtype()),
          "the state's 'step' must be one integer, got shape " + shape_to_string(step.shape()) +
              " of " + dtype_name(step.dtype()));
  int64_t count = astype(step, int64).item<int64_t>();
  require(count >= 0, "the state's step must not be negative, got " + std::to_string(count));
  std::vector<std::string> order;
  std::unordered_map<std::string, nn::NamedArrays> slots;
  for (const auto& [key, value] : state) {
    if (key == "step") continue;
    size_t dot = key.rfind('.');
    require(dot != std::string::npos && dot > 0 && dot + 1 < key.size(),
            "the state entry '" + key + "' is not named '<parameter>.<slot>'");
    std::string param = key.substr(0, dot);
    if (!slots.count(param)) order.push_back(param);
    slots[param].insert(key.substr(dot + 1), value);
  }
  order_ = std::move(order);
  slots_ = std::move(slots);
  step_ = count;
  loaded_ = true;
}

void Optimizer::validate_loaded_state(const nn::NamedArrays& params) {
  for (const auto& name : order_) {
    require(params.contains(name), "the state holds '" + name + "', which is not a parameter");
    const array& p = params.at(name);
    Dtype dt = state_dtype(p.dtype());
    nn::NamedArrays expected = init_state(astype(p, dt));
    nn::NamedArrays& have = slots_.at(name);
    for (const auto& [slot, value] : have) {
      require(expected.contains(slot), "the state entry '" + name + "." + slot +
                                           "' is not a slot of this optimizer (expected " +
                                           std::to_string(expected.size()) + " slots for '" + name + "')");
    }
    nn::NamedArrays cast;
    for (const auto& [slot, init] : expected) {
      require(have.contains(slot), "the state lacks '" + name + "." + slot + "'");
      const array& v = have.at(slot);
      require(v.shape() == init.shape(), "the state entry '" + name + "." + slot + "' has shape " +
                                             shape_to_string(v.shape()) + " but the parameter needs " +
                                             shape_to_string(init.shape()));
      require(is_floating(v.dtype()), "the state entry '" + name + "." + slot + "' must be floating, got " +
                                          dtype_name(v.dtype()));
      cast.insert(slot, v.dtype() == dt ? v : astype(v, dt));
    }
    have = std::move(cast);
  }
  loaded_ = false;
}

void Optimizer::save_state(const std::string& path) const {
  io::save_safetensors(path, state().to_map(), {{"optimizer", name_}});
}

void Optimizer::load_state(const std::string& path) {
  io::SafetensorsFile file = io::load_safetensors(path);
  auto it = file.metadata.find("optimizer");
  if (it != file.metadata.end()) {
    require(it->second == name_, path + " holds the state of " + it->second + ", not of " + name_);
  }
  std::set<std::string> sorted;
  for (const auto& item : file.tensors) sorted.insert(item.first);
  nn::NamedArrays state;
  for (const auto& n : sorted) state.insert(n, file.tensors.at(n));
  try {
    load_state(state);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(e.what()) + " (in " + path + ")");
  }
}

}  // namespace alloy::optim
