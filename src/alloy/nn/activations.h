// Activation functions (as torch.nn.functional, same formulas and defaults) and, for
// Sequential, a module for each. Functions are compositions of core ops, so every one has
// gradients and runs on every device.
#pragma once

#include "alloy/core/array.h"
#include "alloy/core/ops.h"
#include "alloy/nn/module.h"

namespace alloy::nn {

array relu(const array& x);
array relu6(const array& x);
array leaky_relu(const array& x, double negative_slope = 0.01);
array elu(const array& x, double alpha = 1.0);
array selu(const array& x);
array celu(const array& x, double alpha = 1.0);
// approximate: "none" (exact, with erf) or "tanh".
array gelu(const array& x, const std::string& approximate = "none");
array silu(const array& x);
array mish(const array& x);
// log(1 + exp(beta x)) / beta, and x itself where beta x > threshold.
array softplus(const array& x, double beta = 1.0, double threshold = 20.0);
array softsign(const array& x);
array hardswish(const array& x);
array hard_tanh(const array& x, double min_val = -1.0, double max_val = 1.0);
array glu(const array& x, int axis = -1);  // first half * sigmoid(second half) along axis
// weight: (1,) or (C,) against the last axis (alloy keeps channels last).
array prelu(const array& x, const array& weight);
// tanh, sigmoid, softmax and log_softmax are the core ops alloy::tanh, ... .

// Modules. Each holds its arguments; PReLU holds a learnable weight initialized to `init`.
#define ALLOY_NN_ACTIVATION_MODULE(Name, call)             \
  class Name : public UnaryModule {                        \
   public:                                                 \
    array forward(const array& x) override { return call; } \
  };
ALLOY_NN_ACTIVATION_MODULE(ReLU, relu(x))
ALLOY_NN_ACTIVATION_MODULE(ReLU6, relu6(x))
ALLOY_NN_ACTIVATION_MODULE(SELU, selu(x))
ALLOY_NN_ACTIVATION_MODULE(SiLU, silu(x))
ALLOY_NN_ACTIVATION_MODULE(Mish, mish(x))
ALLOY_NN_ACTIVATION_MODULE(Softsign, softsign(x))
ALLOY_NN_ACTIVATION_MODULE(Hardswish, hardswish(x))
ALLOY_NN_ACTIVATION_MODULE(Tanh, alloy::tanh(x))
ALLOY_NN_ACTIVATION_MODULE(Sigmoid, alloy::sigmoid(x))
#undef ALLOY_NN_ACTIVATION_MODULE

class LeakyReLU : public UnaryModule {
 public:
  explicit LeakyReLU(double negative_slope = 0.01) : slope_(negative_slope) {}
  array forward(const array& x) override { return leaky_relu(x, slope_); }
 private:
  double slope_;
};

class ELU : public UnaryModule {
 public:
  explicit ELU(double alpha = 1.0) : alpha_(alpha) {}
  array forward(const array& x) override { return elu(x, alpha_); }
 private:
  double alpha_;
};

class CELU : public UnaryModule {
 public:
  explicit CELU(double alpha = 1.0) : alpha_(alpha) {}
  array forward(const array& x) override { return celu(x, alpha_); }
 private:
  double alpha_;
};

class GELU : public UnaryModule {
 public:
  explicit GELU(std::string approximate = "none");
  array forward(const array& x) override { return gelu(x, approximate_); }
 private:
  std::string approximate_;
};

class Softplus : public UnaryModule {
 public:
  explicit Softplus(double beta = 1.0, double threshold = 20.0) : beta_(beta), threshold_(threshold) {}
  array forward(const array& x) override { return softplus(x, beta_, threshold_); }
 private:
  double beta_, threshold_;
};

class Hardtanh : public UnaryModule {
 public:
  explicit Hardtanh(double min_val = -1.0, double max_val = 1.0) : min_(min_val), max_(max_val) {}
  array forward(const array& x) override { return hard_tanh(x, min_, max_); }
 private:
  double min_, max_;
};

class GLU : public UnaryModule {
 public:
  explicit GLU(int axis = -1) : axis_(axis) {}
  array forward(const array& x) override { return glu(x, axis_); }
 private:
  int axis_;
};

class Softmax : public UnaryModule {
 public:
  explicit Softmax(int axis = -1) : axis_(axis) {}
  array forward(const array& x) override { return alloy::softmax(x, axis_); }
 private:
  int axis_;
};

class LogSoftmax : public UnaryModule {
 public:
  explicit LogSoftmax(int axis = -1) : axis_(axis) {}
  array forward(const array& x) override { return alloy::log_softmax(x, axis_); }
 private:
  int axis_;
};

class PReLU : public UnaryModule {
 public:
  explicit PReLU(int64_t num_parameters = 1, double init = 0.25, Dtype dtype = float32);
  array forward(const array& x) override { return prelu(x, weight); }
  array weight;  // (num_parameters,)
};

}  // namespace alloy::nn
