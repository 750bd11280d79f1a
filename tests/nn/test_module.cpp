// nn::Module: naming, update, freeze, modes, dtype, save/load, summary and value_and_grad.
#include <gtest/gtest.h>

#include <cstdio>

#include "alloy/nn/nn.h"
#include "torch_reference.h"

namespace alloy {
namespace {

using test::all_close;

struct MLP : nn::Module {
  nn::Linear fc1{4, 8}, fc2{8, 3};
  MLP() {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  array forward(const array& x) { return fc2(nn::relu(fc1(x))); }
};

TEST(Module, NamesFollowPyTorchStateDict) {
  MLP m;
  EXPECT_EQ(m.parameters().names(), (std::vector<std::string>{"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  EXPECT_EQ(m.parameters().at("fc1.weight").shape(), (Shape{8, 4}));
  EXPECT_EQ(nn::element_count(m.parameters()), size_t(8 * 4 + 8 + 3 * 8 + 3));
  nn::Sequential seq(std::make_unique<nn::Linear>(4, 8), std::make_unique<nn::ReLU>(),
                     std::make_unique<nn::Linear>(8, 3, false));
  EXPECT_EQ(seq.parameters().names(), (std::vector<std::string>{"0.weight", "0.bias", "2.weight"}));
  EXPECT_EQ(&seq.module_at("2"), &seq[2]);
  EXPECT_THROW(seq.module_at("5"), std::invalid_argument);
}

TEST(Module, UpdateChecksNamesAndShapes) {
  MLP m;
  array w = ones({8, 4});
  m.update({{"fc1.weight", w}});
  EXPECT_TRUE(array_equal(m.fc1.weight, w));
  EXPECT_THROW(m.update({{"fc1.weights", w}}), std::invalid_argument);
  EXPECT_THROW(m.update({{"fc1.weight", ones({4, 8})}}), std::invalid_argument);
  EXPECT_THROW(m.update({{"fc1.weight", ones({8, 4}, int32)}}), std::invalid_argument);
}

TEST(Module, FreezeByPattern) {
  MLP m;
  m.freeze({"*.bias"});
  EXPECT_EQ(m.trainable_parameters().names(), (std::vector<std::string>{"fc1.weight", "fc2.weight"}));
  m.unfreeze();
  m.freeze({"fc1.*"});
  EXPECT_EQ(m.trainable_parameters().names(), (std::vector<std::string>{"fc2.weight", "fc2.bias"}));
  EXPECT_EQ(m.parameters().size(), 4u);
  EXPECT_THROW(m.freeze({"fc3.*"}), std::invalid_argument);  // a typo is not silently ignored
  m.freeze();
  EXPECT_THROW(nn::value_and_grad(m, [&](const array& x) { return sum(m.forward(x)); })(ones({1, 4})),
               std::invalid_argument);
}

TEST(Module, TrainEvalAndDtype) {
  MLP m;
  EXPECT_TRUE(m.training() && m.fc1.training());
  m.eval();
  EXPECT_FALSE(m.training() || m.fc2.training());
  m.set_dtype(bfloat16);
  EXPECT_EQ(m.fc2.bias->dtype(), bfloat16);
  EXPECT_EQ(m.forward(ones({2, 4}, bfloat16)).dtype(), bfloat16);
  EXPECT_THROW(m.set_dtype(int32), std::invalid_argument);
}

TEST(Module, SaveLoadRoundTrip) {
  for (const char* ext : {".safetensors", ".npz"}) {
    std::string path = testing::TempDir() + "alloy_module_roundtrip" + ext;
    MLP a, b;
    a.save_weights(path);
    EXPECT_FALSE(array_equal(a.fc1.weight, b.fc1.weight));
    b.load_weights(path);
    for (const auto& [name, value] : a.state()) EXPECT_TRUE(array_equal(value, b.state().at(name))) << name;
    // A model of another shape names the entry that disagrees.
    nn::Linear other(4, 8);
    try {
      other.load_weights(path);
      ADD_FAILURE() << "expected an error";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("'fc1.bias', which this model does not have"), std::string::npos)
          << e.what();
    }
    std::remove(path.c_str());
  }
  // Loading casts to the model's dtype; strict loading wants every entry.
  MLP c;
  c.set_dtype(float16);
  c.load_weights(MLP().state());
  EXPECT_EQ(c.fc1.weight.dtype(), float16);
  nn::NamedArrays partial{{"fc1.weight", zeros({8, 4})}};
  EXPECT_THROW(c.load_weights(partial), std::invalid_argument);
  c.load_weights(partial, /*strict=*/false);
  EXPECT_TRUE(array_equal(c.fc1.weight, zeros({8, 4}, float16)));
}

TEST(Module, Summary) {
  MLP m;
  std::string s = m.summary();
  EXPECT_NE(s.find("MLP: 67 parameters"), std::string::npos) << s;
  EXPECT_NE(s.find("fc1: Linear(4, 8, bias=true)  40"), std::string::npos) << s;
  m.freeze({"fc2.*"});
  EXPECT_NE(m.summary().find("(40 trainable)"), std::string::npos) << m.summary();
}

TEST(Module, ValueAndGradMatchesFiniteDifferences) {
  MLP m;
  m.set_dtype(float64);
  array x = random::normal({5, 4}, float64, 0, 1, random::key(7));
  array y = random::normal({5, 3}, float64, 0, 1, random::key(8));
  auto loss_fn = [&](const array& in, const array& target) { return mean(square(m.forward(in) - target)); };
  const uintptr_t weight_id = m.fc1.weight.id();
  auto [loss, grads] = nn::value_and_grad(m, loss_fn)(x, y);
  EXPECT_EQ(grads.names(), m.trainable_parameters().names());
  // The model holds its own parameters again, not the traced ones.
  EXPECT_EQ(m.fc1.weight.id(), weight_id);
  const double h = 1e-6;
  for (const auto& [name, g] : grads) {
    array p = m.parameters().at(name);
    std::vector<double> base = p.to_vector<double>(), gv = g.to_vector<double>();
    for (size_t i = 0; i < base.size(); i += 3) {
      std::vector<double> plus = base, minus = base;
      plus[i] += h, minus[i] -= h;
      m.update({{name, array(plus, p.shape())}});
      double lp = loss_fn(x, y).item<double>();
      m.update({{name, array(minus, p.shape())}});
      double lm = loss_fn(x, y).item<double>();
      m.update({{name, p}});
      EXPECT_NEAR(gv[i], (lp - lm) / (2 * h), 1e-7) << name << "[" << i << "]";
    }
  }
  EXPECT_NEAR(loss.item<double>(), loss_fn(x, y).item<double>(), 1e-12);
  // Auxiliary outputs come back undifferentiated.
  auto [outs, g2] = nn::value_and_grad(m, [&](const array& in) {
    array out = m.forward(in);
    return std::vector<array>{sum(out), argmax(out, 1)};
  })(x);
  EXPECT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[1].shape(), (Shape{5}));
  EXPECT_THROW(nn::value_and_grad(m, [&](const array& in) { return m.forward(in); })(x),
               std::invalid_argument);  // not a scalar
}

TEST(Module, RegistrationErrors) {
  struct Bad : nn::Module {
    array w = zeros({2});
    array idx = zeros({2}, int32);
    void twice() { register_parameter("w", w); register_parameter("w", w); }
    void dotted() { register_parameter("a.b", w); }
    void integer() { register_parameter("idx", idx); }
  };
  EXPECT_THROW(Bad().twice(), std::invalid_argument);
  EXPECT_THROW(Bad().dotted(), std::invalid_argument);
  EXPECT_THROW(Bad().integer(), std::invalid_argument);
}

TEST(Linear, MatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  nn::Linear a(5, 3);
  test::expect_matches_torch(a, "linear");
  nn::Linear b(6, 2, false);
  test::expect_matches_torch(b, "linear_nobias_3d");
  nn::Sequential seq(std::make_unique<nn::Linear>(4, 8), std::make_unique<nn::ReLU>(),
                     std::make_unique<nn::Linear>(8, 3));
  test::expect_matches_torch(seq, "sequential_mlp");
  EXPECT_THROW(a.forward(ones({2, 4})), std::invalid_argument);
  EXPECT_THROW(nn::Linear(0, 3), std::invalid_argument);
}

}  // namespace
}  // namespace alloy
