// optim::Optimizer: the base of every optimizer, as torch.optim.Optimizer and
// mlx.optimizers.Optimizer. A subclass holds its hyperparameters and writes its rule once, in
// update_one (the math for one parameter); the base keeps the step count, the per-parameter
// state and the checks.
//
//   optim::AdamW opt({.lr = 1e-3});
//   auto step = nn::value_and_grad(model, loss_fn);
//   for (...) { auto [loss, grads] = step(x, y); opt.update(model, grads); }
//
// Contracts:
// - The learning rate is a constant or a Schedule of the step (schedules.h); an update uses
//   lr(step()) and then increments step(), so the first update uses lr(0). Bias corrections
//   use t = step() + 1, PyTorch's post-increment count. The step is one count for the whole
//   optimizer, as MLX's (PyTorch counts per parameter; they differ only for a parameter that
//   starts receiving gradients late).
// - State is created on a parameter's first update, slot by slot with its shape (or Adafactor's
//   factored shapes). Its dtype is the parameter's, except float32 for float16 / bfloat16
//   parameters: the update runs in that dtype and the new parameter is cast back, so low-
//   precision weights keep full-precision moments.
// - update and apply evaluate the new parameters and the state before they return (alloy::eval),
//   so graphs do not grow across steps; the caller need not eval them.
// - state(): "<parameter>.<slot>" (e.g. "fc1.weight.exp_avg") and "step" (an int64 scalar).
//   load_state checks the form at once and the names and shapes against the parameters at the
//   next update; a mismatch there is an error naming the entry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "alloy/core/array.h"
#include "alloy/nn/module.h"
#include "alloy/nn/named_arrays.h"
#include "alloy/optim/schedules.h"

namespace alloy::optim {

// A learning rate: a number or a Schedule (any callable double(int64_t)).
class LearningRate {
 public:
  LearningRate(double value);
  template <typename F>
    requires(!std::is_arithmetic_v<F> && std::is_invocable_r_v<double, const F&, int64_t>)
  LearningRate(F schedule) : schedule_(Schedule(std::move(schedule))) {}

  double at(int64_t step) const;
  bool is_constant() const { return !schedule_; }

 private:
  double value_ = 0;
  Schedule schedule_;
};

class Optimizer {
 public:
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  virtual ~Optimizer() = default;

  // Updates the model's parameters named in grads (any parameter, frozen or not). A gradient
  // whose name is not a parameter, or whose shape differs from it, is an error.
  void update(nn::Module& model, const nn::NamedArrays& grads);
  // The pure form: params with the entries named in grads updated (the others as given).
  nn::NamedArrays apply(const nn::NamedArrays& params, const nn::NamedArrays& grads);

  // Updates done so far.
  int64_t step() const { return step_; }
  // The learning rate the next update uses: lr(step()).
  virtual double learning_rate() const;
  const std::string& name() const { return name_; }

  nn::NamedArrays state() const;
  void load_state(const nn::NamedArrays& state);
  // safetensors, with the optimizer's name in the metadata (a file of another optimizer is an
  // error naming both).
  void save_state(const std::string& path) const;
  void load_state(const std::string& path);

 protected:
  // lr: empty only for Adafactor's relative step size.
  Optimizer(std::string name, std::optional<LearningRate> lr);

  struct StepInfo {
    int64_t t;   // this update's count, from 1
    double lr;   // lr(t - 1)
    bool fresh;  // the parameter's state was created for this update
  };
  // The initial state of a parameter: slot name -> value.
  virtual nn::NamedArrays init_state(const array& param) const = 0;
  // The rule: the new parameter, from param and grad (both in the state dtype); sets the slots.
  virtual array update_one(const array& param, const array& grad, nn::NamedArrays& slots,
                           const StepInfo& step) const = 0;
  // One parameter of a step, as update_all sees it (param and grad in the state dtype).
  struct Update {
    array param, grad;
    nn::NamedArrays* slots;
    StepInfo step;
  };
  // Every parameter of a step: the new parameters, in order. The default applies update_one to
  // each; a rule with a multi-tensor kernel (Adam) runs a group per dtype instead.
  virtual std::vector<array> update_all(std::vector<Update>& updates) const;

  const std::optional<LearningRate>& lr() const { return lr_; }
  // Throws "[Name] <message>" as std::invalid_argument unless ok.
  void require(bool ok, const std::string& message) const;

 private:
  void validate_loaded_state(const nn::NamedArrays& params);

  std::string name_;
  std::optional<LearningRate> lr_;
  int64_t step_ = 0;
  std::vector<std::string> order_;  // parameters in the order their state was created
  std::unordered_map<std::string, nn::NamedArrays> slots_;
  bool loaded_ = false;  // state came from load_state and is not yet checked
};

// float32 for float16 / bfloat16, else dtype: the dtype an optimizer's state and math use.
Dtype state_dtype(Dtype param_dtype);

}  // namespace alloy::optim
