// alloy::optim: every optimizer stepped with a fixed sequence of gradients against torch.optim
// (Lion and Adafactor, which torch 1.13 lacks, against NumPy versions of their published rules
// in torch_cases.py), state names, save/load, error paths, schedules, clip_grad_norm, and a
// small regression fit with Adam.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <memory>

#include "alloy/core/random.h"
#include "alloy/io/io_error.h"
#include "alloy/nn/nn.h"
#include "alloy/optim/optim.h"
#include "torch_reference.h"

namespace alloy {
namespace {

using test::all_close;
constexpr int kSteps = 6;  // OPTIM_STEPS in torch_cases.py

// The three parameters of optim_data: w (3, 4), b (4,), k (2, 3, 2).
struct Params : nn::Module {
  array w = zeros({3, 4}, float64), b = zeros({4}, float64), k = zeros({2, 3, 2}, float64);
  Params() {
    register_parameter("w", w);
    register_parameter("b", b);
    register_parameter("k", k);
  }
};

using Factory = std::function<std::unique_ptr<optim::Optimizer>()>;

// The hyperparameters of optimizer_cases() in torch_cases.py, case by case.
const std::map<std::string, Factory>& factories() {
  using namespace optim;
  static const std::map<std::string, Factory> f = {
      {"sgd_plain", [] { return std::make_unique<SGD>(SGDOptions{.lr = 0.1}); }},
      {"sgd_nesterov_wd",
       [] { return std::make_unique<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true}); }},
      {"sgd_dampening", [] { return std::make_unique<SGD>(SGDOptions{.lr = 0.05, .momentum = 0.8, .dampening = 0.3}); }},
      {"adam", [] { return std::make_unique<Adam>(AdamOptions{.lr = 0.01}); }},
      {"adam_wd_amsgrad",
       [] {
         return std::make_unique<Adam>(
             AdamOptions{.lr = 0.02, .betas = {0.8, 0.95}, .eps = 1e-6, .weight_decay = 0.1, .amsgrad = true});
       }},
      {"adamw", [] { return std::make_unique<AdamW>(AdamWOptions{.lr = 0.01, .weight_decay = 0.1}); }},
      {"adamw_amsgrad", [] { return std::make_unique<AdamW>(AdamWOptions{.lr = 0.01, .amsgrad = true}); }},
      {"adamax", [] { return std::make_unique<Adamax>(); }},
      {"adamax_wd",
       [] { return std::make_unique<Adamax>(AdamaxOptions{.lr = 0.01, .betas = {0.8, 0.9}, .weight_decay = 0.05}); }},
      {"rmsprop", [] { return std::make_unique<RMSprop>(); }},
      {"rmsprop_centered_momentum",
       [] {
         return std::make_unique<RMSprop>(RMSpropOptions{
             .lr = 0.01, .alpha = 0.9, .eps = 1e-6, .weight_decay = 0.02, .momentum = 0.5, .centered = true});
       }},
      {"rmsprop_centered", [] { return std::make_unique<RMSprop>(RMSpropOptions{.lr = 0.01, .centered = true}); }},
      {"adagrad", [] { return std::make_unique<Adagrad>(AdagradOptions{.lr = 0.1}); }},
      {"adagrad_all",
       [] {
         return std::make_unique<Adagrad>(AdagradOptions{
             .lr = 0.1, .lr_decay = 0.05, .weight_decay = 0.1, .initial_accumulator_value = 0.2, .eps = 1e-8});
       }},
      {"adadelta", [] { return std::make_unique<Adadelta>(); }},
      {"adadelta_all",
       [] { return std::make_unique<Adadelta>(AdadeltaOptions{.lr = 0.5, .rho = 0.8, .eps = 1e-5, .weight_decay = 0.1}); }},
      {"lion", [] { return std::make_unique<Lion>(LionOptions{.lr = 0.01}); }},
      {"lion_wd",
       [] { return std::make_unique<Lion>(LionOptions{.lr = 0.01, .betas = {0.8, 0.95}, .weight_decay = 0.1}); }},
      {"adafactor", [] { return std::make_unique<Adafactor>(); }},
      {"adafactor_fixed",
       [] {
         return std::make_unique<Adafactor>(AdafactorOptions{.lr = 0.01,
                                                             .clip_threshold = 0.5,
                                                             .beta1 = 0.9,
                                                             .weight_decay = 0.1,
                                                             .scale_parameter = false,
                                                             .relative_step = false});
       }},
      {"adafactor_warmup",
       [] {
         return std::make_unique<Adafactor>(AdafactorOptions{.decay_rate = -0.5, .beta1 = 0.5, .warmup_init = true});
       }},
  };
  return f;
}

struct OptimData {
  nn::NamedArrays params;
  std::vector<nn::NamedArrays> grads;
};

OptimData optim_data() {
  test::TorchCase c = test::torch_case("optim_data");
  OptimData d{c.with_prefix("param/"), {}};
  for (int k = 0; k < kSteps; ++k) d.grads.push_back(c.with_prefix("grad" + std::to_string(k) + "/"));
  return d;
}

TEST(Optimizers, MatchTorchAndReferenceRules) {
  ALLOY_REQUIRE_TORCH();
  OptimData data = optim_data();
  ASSERT_EQ(data.params.size(), 3u);
  for (const auto& [name, make] : factories()) {
    SCOPED_TRACE(name);
    test::TorchCase c = test::torch_case("optim_" + name);
    Params model;
    model.load_weights(data.params);
    auto opt = make();
    for (int k = 0; k < kSteps; ++k) {
      opt->update(model, data.grads[k]);
      EXPECT_EQ(opt->step(), k + 1);
      nn::NamedArrays expected = c.with_prefix("step" + std::to_string(k + 1) + "/");
      ASSERT_EQ(expected.size(), 3u);
      for (const auto& [pname, value] : expected) {
        EXPECT_TRUE(all_close(model.parameters().at(pname), value, 1e-9, 1e-12))
            << name << " step " << k + 1 << " " << pname;
      }
    }
    // The parameters really moved (a reference equal to the start would prove nothing).
    EXPECT_FALSE(allclose(model.w, data.params.at("w"), 0, 1e-6)) << name;
  }
}

TEST(Optimizers, ApplyIsPureAndChecksGradients) {
  nn::NamedArrays params{{"a", array({1.0, 2.0}, {2})}, {"b", array({3.0}, {1})}};
  optim::SGD opt({.lr = 0.5});
  nn::NamedArrays out = opt.apply(params, {{"a", array({1.0, -1.0}, {2})}});
  EXPECT_EQ(out.names(), params.names());
  EXPECT_EQ(out.at("a").to_vector<double>(), (std::vector<double>{0.5, 2.5}));
  EXPECT_EQ(out.at("b").to_vector<double>(), (std::vector<double>{3.0}));  // no gradient, unchanged
  EXPECT_EQ(params.at("a").to_vector<double>(), (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(opt.step(), 1);
  EXPECT_THROW(opt.apply(params, {{"c", array({1.0}, {1})}}), std::invalid_argument);      // not a parameter
  EXPECT_THROW(opt.apply(params, {{"a", array({1.0, 2.0, 3.0}, {3})}}), std::invalid_argument);  // shape
  EXPECT_THROW(opt.apply(params, {{"a", array({1, 2}, {2})}}), std::invalid_argument);     // integer gradient
  EXPECT_EQ(opt.step(), 1);  // failed calls change nothing
  Params model;
  EXPECT_THROW(opt.update(model, {{"fc.weight", zeros({3, 4}, float64)}}), std::invalid_argument);
}

TEST(Optimizers, StateNamesAndLazyCreation) {
  Params model;
  optim::Adam adam({.amsgrad = true});
  EXPECT_EQ(adam.state().names(), (std::vector<std::string>{"step"}));
  adam.update(model, {{"w", ones({3, 4}, float64)}, {"k", ones({2, 3, 2}, float64)}});
  nn::NamedArrays st = adam.state();
  EXPECT_EQ(st.names(), (std::vector<std::string>{"w.exp_avg", "w.exp_avg_sq", "w.max_exp_avg_sq", "k.exp_avg",
                                                  "k.exp_avg_sq", "k.max_exp_avg_sq", "step"}));
  EXPECT_EQ(st.at("step").item<int64_t>(), 1);
  EXPECT_EQ(st.at("k.exp_avg").shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(st.at("w.exp_avg").dtype(), float64);
  // b got a gradient only now: its state starts here.
  adam.update(model, {{"b", ones({4}, float64)}});
  EXPECT_TRUE(adam.state().contains("b.exp_avg_sq"));

  optim::Adafactor ada({.beta1 = 0.9});
  ada.update(model, {{"w", ones({3, 4}, float64)}, {"b", ones({4}, float64)}, {"k", ones({2, 3, 2}, float64)}});
  st = ada.state();
  EXPECT_EQ(st.at("w.exp_avg_sq_row").shape(), (Shape{3}));
  EXPECT_EQ(st.at("w.exp_avg_sq_col").shape(), (Shape{4}));
  EXPECT_EQ(st.at("k.exp_avg_sq_row").shape(), (Shape{2, 3}));
  EXPECT_EQ(st.at("k.exp_avg_sq_col").shape(), (Shape{2, 2}));
  EXPECT_EQ(st.at("b.exp_avg_sq").shape(), (Shape{4}));
  EXPECT_EQ(st.at("w.exp_avg").shape(), (Shape{3, 4}));
  EXPECT_FALSE(st.contains("w.exp_avg_sq"));
}

TEST(Optimizers, HalfPrecisionParametersKeepFloat32State) {
  nn::Linear lin(4, 3);
  lin.set_dtype(bfloat16);
  nn::NamedArrays start = lin.parameters();
  nn::NamedArrays grads{{"weight", full({3, 4}, array(0.5), bfloat16)}, {"bias", full({3}, array(-0.25), bfloat16)}};
  optim::Adam opt({.lr = 0.1});
  opt.update(lin, grads);
  EXPECT_EQ(lin.weight.dtype(), bfloat16);
  EXPECT_EQ(opt.state().at("weight.exp_avg").dtype(), float32);
  // Adam's first step moves every element by lr * sign(g) (up to eps).
  EXPECT_TRUE(all_close(lin.weight, astype(start.at("weight"), float32) - 0.1f, 1e-2, 1e-2));
  EXPECT_TRUE(all_close(*lin.bias, astype(start.at("bias"), float32) + 0.1f, 1e-2, 1e-2));
  EXPECT_EQ(optim::state_dtype(float16), float32);
  EXPECT_EQ(optim::state_dtype(float64), float64);
}

// Runs `steps` updates of the optim_data gradients (cycled) from step `from`.
void run_steps(optim::Optimizer& opt, nn::Module& model, const OptimData& data, int from, int steps) {
  for (int k = from; k < from + steps; ++k) opt.update(model, data.grads[k % kSteps]);
}

TEST(Optimizers, SaveAndLoadStateContinuesTraining) {
  ALLOY_REQUIRE_TORCH();
  OptimData data = optim_data();
  for (const char* name : {"sgd_nesterov_wd", "adam_wd_amsgrad", "rmsprop_centered_momentum", "adafactor_fixed",
                           "adafactor", "lion", "adadelta_all", "adagrad_all", "adamax"}) {
    SCOPED_TRACE(name);
    const Factory& make = factories().at(name);
    Params straight;
    straight.load_weights(data.params);
    auto opt = make();
    run_steps(*opt, straight, data, 0, 6);

    Params first;
    first.load_weights(data.params);
    auto before = make();
    run_steps(*before, first, data, 0, 3);
    std::string path = testing::TempDir() + "alloy_optim_state_" + name + ".safetensors";
    before->save_state(path);
    Params resumed;
    resumed.load_weights(first.parameters());
    auto after = make();
    after->load_state(path);
    EXPECT_EQ(after->step(), 3);
    run_steps(*after, resumed, data, 3, 3);
    for (const auto& [pname, value] : straight.parameters()) {
      EXPECT_TRUE(array_equal(resumed.parameters().at(pname), value)) << pname;
    }
    for (const auto& [sname, value] : opt->state()) {
      EXPECT_TRUE(array_equal(after->state().at(sname), value)) << sname;
    }
    std::remove(path.c_str());
  }
}

// Expects std::invalid_argument whose message contains `part`.
template <typename F>
void expect_error_containing(const std::string& part, F&& f) {
  try {
    f();
    ADD_FAILURE() << "no exception (expected one mentioning '" << part << "')";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(Optimizers, BadStateIsAClearError) {
  Params model;
  nn::NamedArrays grads{{"w", ones({3, 4}, float64)}, {"b", ones({4}, float64)}};
  optim::Adam adam;
  adam.update(model, grads);
  nn::NamedArrays good = adam.state();

  optim::Adam other;
  expect_error_containing("'step'", [&] { other.load_state(nn::NamedArrays{{"w.exp_avg", zeros({3, 4})}}); });
  expect_error_containing("'step'", [&] { other.load_state(nn::NamedArrays{{"step", zeros({2}, int64)}}); });
  expect_error_containing("<parameter>.<slot>", [&] {
    other.load_state(nn::NamedArrays{{"step", array(int64_t(1))}, {"weights", zeros({3, 4})}});
  });
  // Names and shapes are checked against the parameters at the next update.
  auto with = [&](const std::string& key, const array& value) {
    nn::NamedArrays s = good;
    s.set(key, value);
    return s;
  };
  auto update_with = [&](const nn::NamedArrays& state, const std::string& part) {
    optim::Adam o;
    o.load_state(state);
    Params m;
    expect_error_containing(part, [&] { o.update(m, grads); });
    EXPECT_EQ(o.step(), 1);
  };
  update_with(with("w.exp_avg", zeros({4, 3}, float64)), "has shape (4, 3)");
  update_with(with("fc3.weight.exp_avg", zeros({3}, float64)), "'fc3.weight', which is not a parameter");
  update_with(with("w.momentum_buffer", zeros({3, 4}, float64)), "'w.momentum_buffer' is not a slot");
  nn::NamedArrays missing;
  for (const auto& [n, v] : good) {
    if (n != "b.exp_avg_sq") missing.insert(n, v);
  }
  update_with(missing, "lacks 'b.exp_avg_sq'");
  // SGD with momentum has other slots than Adam.
  optim::SGD sgd({.lr = 0.1, .momentum = 0.9});
  sgd.load_state(good);
  expect_error_containing("is not a slot", [&] { sgd.update(model, grads); });

  // Files: another optimizer's file names both; a missing or corrupt file is an io_error.
  std::string path = testing::TempDir() + "alloy_optim_adam_state.safetensors";
  adam.save_state(path);
  optim::RMSprop rms;
  expect_error_containing("holds the state of Adam, not of RMSprop", [&] { rms.load_state(path); });
  EXPECT_THROW(rms.load_state(testing::TempDir() + "no_such_optimizer_state.safetensors"), io::io_error);
  std::string junk = testing::TempDir() + "alloy_optim_junk.safetensors";
  std::ofstream(junk) << "not a safetensors file";
  EXPECT_THROW(rms.load_state(junk), io::io_error);
  // Weights saved by a module are not an optimizer state.
  model.save_weights(junk);
  expect_error_containing("no 'step' entry", [&] { adam.load_state(junk); });
  std::remove(path.c_str());
  std::remove(junk.c_str());
}

TEST(Optimizers, HyperparameterErrors) {
  using namespace optim;
  expect_error_containing("learning rate", [] { SGD({.lr = -1.0}); });
  expect_error_containing("[SGD] nesterov", [] { SGD({.lr = 0.1, .nesterov = true}); });
  expect_error_containing("[SGD] nesterov", [] { SGD({.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); });
  expect_error_containing("[Adam] beta1", [] { Adam({.betas = {1.0, 0.999}}); });
  expect_error_containing("[AdamW] beta2", [] { AdamW({.betas = {0.9, -0.1}}); });
  expect_error_containing("[Adam] eps", [] { Adam({.eps = -1.0}); });
  expect_error_containing("[RMSprop] momentum", [] { RMSprop({.momentum = -0.5}); });
  expect_error_containing("[Adagrad] lr_decay", [] { Adagrad({.lr_decay = -0.5}); });
  expect_error_containing("[Adadelta] rho", [] { Adadelta({.rho = 1.5}); });
  expect_error_containing("[Lion] weight_decay", [] { Lion({.weight_decay = -0.5}); });
  expect_error_containing("[Adamax] beta2", [] { Adamax({.betas = {0.9, 1.0}}); });
  expect_error_containing("[Adafactor] takes no lr", [] { Adafactor({.lr = 0.1}); });
  expect_error_containing("[Adafactor] needs an lr", [] { Adafactor({.relative_step = false}); });
  expect_error_containing("[Adafactor] warmup_init", [] { Adafactor({.lr = 0.1, .relative_step = false, .warmup_init = true}); });
  // A schedule that turns negative is an error when it is reached.
  SGD sgd({.lr = [](int64_t step) { return 0.1 - 0.1 * double(step); }});
  nn::NamedArrays p{{"x", array({1.0}, {1})}};
  p = sgd.apply(p, {{"x", array({1.0}, {1})}});
  p = sgd.apply(p, {{"x", array({1.0}, {1})}});  // lr 0 at step 1
  expect_error_containing("schedule", [&] { sgd.apply(p, {{"x", array({1.0}, {1})}}); });
}

TEST(Optimizers, ScheduledLearningRateUsesTheStepCount) {
  // lr(step) = 0.1 * 0.5^step: the first update uses lr(0).
  optim::SGD sgd({.lr = optim::exponential_decay(0.1, 0.5)});
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.1);
  nn::NamedArrays p{{"x", array({1.0}, {1})}};
  for (int k = 0; k < 3; ++k) p = sgd.apply(p, {{"x", array({1.0}, {1})}});
  EXPECT_DOUBLE_EQ(p.at("x").to_vector<double>()[0], 1.0 - 0.1 - 0.05 - 0.025);
  EXPECT_DOUBLE_EQ(sgd.learning_rate(), 0.0125);
  // Adafactor reports its relative step size min(1e-2, 1 / sqrt(t)).
  optim::Adafactor ada;
  EXPECT_DOUBLE_EQ(ada.learning_rate(), 1e-2);
  optim::Adafactor warm({.warmup_init = true});
  EXPECT_DOUBLE_EQ(warm.learning_rate(), 1e-6);
}

TEST(Schedules, ValuesAtSteps) {
  using namespace optim;
  Schedule cosine = cosine_decay(0.1, 10, 0.01);
  EXPECT_DOUBLE_EQ(cosine(0), 0.1);
  EXPECT_NEAR(cosine(5), 0.01 + 0.5 * 0.09, 1e-15);                               // half way: cos(pi / 2) = 0
  EXPECT_NEAR(cosine(2), 0.01 + 0.09 * 0.5 * (1 + std::cos(M_PI * 0.2)), 1e-15);
  EXPECT_NEAR(cosine(2), 0.09140576474687263, 1e-15);
  EXPECT_DOUBLE_EQ(cosine(10), 0.01);
  EXPECT_DOUBLE_EQ(cosine(25), 0.01);  // stays at end
  EXPECT_DOUBLE_EQ(cosine_decay(1.0, 4)(4), 0.0);

  Schedule expo = exponential_decay(0.5, 0.9);
  EXPECT_DOUBLE_EQ(expo(0), 0.5);
  EXPECT_NEAR(expo(3), 0.3645, 1e-15);

  Schedule stepped = step_decay(1.0, 0.5, 3);
  EXPECT_EQ((std::vector<double>{stepped(0), stepped(2), stepped(3), stepped(5), stepped(6), stepped(9)}),
            (std::vector<double>{1.0, 1.0, 0.5, 0.5, 0.25, 0.125}));

  Schedule linear = linear_schedule(0.0, 1e-3, 4);
  EXPECT_DOUBLE_EQ(linear(0), 0.0);
  EXPECT_DOUBLE_EQ(linear(1), 2.5e-4);
  EXPECT_DOUBLE_EQ(linear(3), 7.5e-4);
  EXPECT_DOUBLE_EQ(linear(4), 1e-3);
  EXPECT_DOUBLE_EQ(linear(100), 1e-3);
  EXPECT_DOUBLE_EQ(linear_schedule(1.0, 0.5, 2)(1), 0.75);

  // Warmup for 4 steps, then a cosine decay that starts at its own step 0 at the boundary,
  // then a constant.
  Schedule joined = join_schedules({linear, cosine_decay(1e-3, 10), [](int64_t) { return 7.0; }}, {4, 14});
  EXPECT_DOUBLE_EQ(joined(0), 0.0);
  EXPECT_DOUBLE_EQ(joined(3), 7.5e-4);
  EXPECT_DOUBLE_EQ(joined(4), 1e-3);                          // cosine(0)
  EXPECT_NEAR(joined(9), 5e-4, 1e-18);                        // cosine(5)
  EXPECT_NEAR(joined(13), cosine_decay(1e-3, 10)(9), 1e-18);  // cosine(9)
  EXPECT_DOUBLE_EQ(joined(14), 7.0);
  EXPECT_DOUBLE_EQ(joined(1000), 7.0);

  EXPECT_THROW(cosine_decay(0.1, 0), std::invalid_argument);
  EXPECT_THROW(step_decay(0.1, 0.5, 0), std::invalid_argument);
  EXPECT_THROW(linear_schedule(0.1, 0.5, 0), std::invalid_argument);
  EXPECT_THROW(join_schedules({}, {}), std::invalid_argument);
  EXPECT_THROW(join_schedules({linear, linear}, {}), std::invalid_argument);
  EXPECT_THROW(join_schedules({linear, linear, linear}, {5, 5}), std::invalid_argument);
}

TEST(ClipGradNorm, MatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  OptimData data = optim_data();
  for (auto [name, max_norm] : {std::pair{"clip_grad_norm", 1.5}, std::pair{"clip_grad_norm_noop", 100.0}}) {
    SCOPED_TRACE(name);
    test::TorchCase c = test::torch_case(name);
    auto [clipped, total] = optim::clip_grad_norm(data.grads[0], max_norm);
    EXPECT_TRUE(all_close(total, c["total"], 1e-12, 0));
    EXPECT_EQ(total.dtype(), float64);
    nn::NamedArrays expected = c.with_prefix("clipped/");
    ASSERT_EQ(clipped.names(), data.grads[0].names());
    for (const auto& [n, v] : clipped) EXPECT_TRUE(all_close(v, expected.at(n), 1e-12, 1e-15)) << n;
  }
  // Clipping to 1.5 scales the global norm to 1.5 (up to the 1e-6).
  auto [clipped, total] = optim::clip_grad_norm(data.grads[0], 1.5);
  EXPECT_GT(total.item<double>(), 1.5);
  double sq = 0;
  for (const auto& item : clipped) {
    for (double x : item.second.to_vector<double>()) sq += x * x;
  }
  EXPECT_NEAR(std::sqrt(sq), 1.5, 1e-5);
  EXPECT_THROW(optim::clip_grad_norm(data.grads[0], -1.0), std::invalid_argument);
  EXPECT_THROW(optim::clip_grad_norm({{"i", array({1, 2}, {2})}}, 1.0), std::invalid_argument);
  EXPECT_EQ(optim::clip_grad_norm({}, 1.0).second.item<float>(), 0.0f);
}

TEST(Optimizers, AdamFitsASmallRegression) {
  // y = sin(2 x0) + 0.5 x1^2 on 64 fixed points, a 2-32-1 tanh MLP, full-batch Adam: the loss
  // falls at every one of 1000 steps, to below 1e-2 from above 1.
  struct MLP : nn::Module {
    nn::Linear fc1{2, 32}, fc2{32, 1};
    MLP() {
      register_module("fc1", fc1);
      register_module("fc2", fc2);
    }
    array forward(const array& x) { return fc2(tanh(fc1(x))); }
  } model;
  model.update({{"fc1.weight", nn::init::uniform({32, 2}, -0.7, 0.7, float32, random::key(1))},
                {"fc1.bias", nn::init::uniform({32}, -0.7, 0.7, float32, random::key(2))},
                {"fc2.weight", nn::init::uniform({1, 32}, -0.17, 0.17, float32, random::key(3))},
                {"fc2.bias", zeros({1})}});
  array x = random::uniform({64, 2}, float32, -1.5, 1.5, random::key(4));
  auto cols = split(x, 2, 1);
  array y = sin(2.0f * cols[0]) + 0.5f * square(cols[1]);  // (64, 1)
  auto step = nn::value_and_grad(model, [&](const array& in, const array& target) {
    return nn::losses::mse_loss(model.forward(in), target);
  });
  optim::Adam opt({.lr = 3e-3});
  std::vector<float> losses;
  for (int i = 0; i < 1000; ++i) {
    auto [loss, grads] = step(x, y);
    losses.push_back(loss.item<float>());
    opt.update(model, grads);
  }
  const float initial = losses.front();
  EXPECT_GT(initial, 1.0f);
  int rises = 0;
  for (size_t i = 1; i < losses.size(); ++i) rises += losses[i] >= losses[i - 1];
  EXPECT_EQ(rises, 0) << "the loss rose at some step";
  // 0.0053 here: far below the variance of y (what predicting the mean would cost).
  EXPECT_LT(losses.back(), 1e-2f) << "from " << initial;
  EXPECT_LT(losses.back(), 0.05f * var(y).item<float>());
}

}  // namespace
}  // namespace alloy
