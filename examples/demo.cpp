// The alloy demo: lazy evaluation, gradients of a function, and training a small network on
// data it generates (y = sin(3x) * x), all on the default device, with no files or downloads.
#include <alloy/alloy.h>

#include <chrono>
#include <cmath>
#include <cstdio>

using namespace alloy;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A 1 -> 64 -> 64 -> 1 perceptron with tanh; params = {w1, b1, w2, b2, w3, b3}.
array mlp(const std::vector<array>& p, const array& x) {
  array h = tanh(add(matmul(x, p[0]), p[1]));
  h = tanh(add(matmul(h, p[2]), p[3]));
  return add(matmul(h, p[4]), p[5]);
}

}  // namespace

int main() {
  std::printf("alloy demo on %s\n\n", default_device().type == Device::cpu ? "the CPU" : "the GPU");

  // 1. Lazy evaluation: ops build a graph; eval runs it.
  array a = random::normal({1000, 1000}, float32, 0.0, 1.0, random::key(0));
  array b = sum(square(matmul(a, a)), Axes{1});
  std::printf("1. built a graph for sum((a @ a)^2, axis=1): evaluated yet? %s\n", b.is_available() ? "yes" : "no");
  auto t0 = Clock::now();
  eval(b);
  std::printf("   eval() ran it in %.1f ms: evaluated now? %s; b[0] = %.1f\n\n", ms_since(t0),
              b.is_available() ? "yes" : "no", slice(b, {0}, {1}).item<float>());

  // 2. Gradients: d/dx sum(sin(x) * x) = cos(x) * x + sin(x), and the second derivative.
  auto f = [](const array& x) { return sum(multiply(sin(x), x)); };
  auto df = grad(f);
  auto d2f = grad([&](const array& x) { return sum(df(x)); });
  array x = array({0.5f, 1.0f, 2.0f});
  array expected = add(multiply(cos(x), x), sin(x));
  std::printf("2. grad of sum(sin(x) * x) at [0.5, 1, 2]: ");
  for (float v : df(x).to_vector<float>()) std::printf("%.5f ", v);
  std::printf("(analytic: ");
  for (float v : expected.to_vector<float>()) std::printf("%.5f ", v);
  std::printf(")\n   second derivative: ");
  for (float v : d2f(x).to_vector<float>()) std::printf("%.5f ", v);
  std::printf("\n\n");

  // 3. Train an MLP on generated data with Adam.
  array key = random::key(42);
  auto keys = random::split(key, 8);
  auto k = [&](int i) { return slice(keys, {i, 0}, {i + 1, 2}); };
  auto init = [&](int64_t fan_in, int64_t fan_out, int i) {
    double scale = std::sqrt(1.0 / double(fan_in));
    return random::uniform({fan_in, fan_out}, float32, -scale, scale, reshape(k(i), {2}));
  };
  std::vector<array> params = {init(1, 64, 0), zeros({64}), init(64, 64, 1), zeros({64}), init(64, 1, 2), zeros({1})};
  std::vector<array> m, v;
  for (auto& p : params) {
    m.push_back(zeros_like(p));
    v.push_back(zeros_like(p));
  }
  auto loss_fn = [](const std::vector<array>& args) {
    std::vector<array> p(args.begin(), args.end() - 2);
    array pred = mlp(p, args[args.size() - 2]);
    return mean(square(subtract(pred, args.back())));
  };
  std::vector<int> argnums = {0, 1, 2, 3, 4, 5};
  auto step_fn = value_and_grad(ScalarFn(loss_fn), argnums);
  const float lr = 1e-2f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  const int steps = 400, batch = 256;
  std::printf("3. training a 1-64-64-1 MLP on y = sin(3x) * x (batch %d, Adam, lr %.0e)\n", batch, lr);
  float first_loss = 0, last_loss = 0;
  double total_ms = 0;
  for (int step = 1; step <= steps; ++step) {
    auto t = Clock::now();
    array xb = random::uniform({batch, 1}, float32, -1.0, 1.0);
    array yb = multiply(sin(multiply(xb, array(3.0f))), xb);
    std::vector<array> args = params;
    args.push_back(xb);
    args.push_back(yb);
    auto [loss, grads] = step_fn(args);
    float c1 = 1.0f - std::pow(beta1, float(step)), c2 = 1.0f - std::pow(beta2, float(step));
    for (size_t i = 0; i < params.size(); ++i) {
      m[i] = add(multiply(array(beta1), m[i]), multiply(array(1 - beta1), grads[i]));
      v[i] = add(multiply(array(beta2), v[i]), multiply(array(1 - beta2), square(grads[i])));
      array update = divide(divide(m[i], array(c1)), add(sqrt(divide(v[i], array(c2))), array(eps)));
      params[i] = subtract(params[i], multiply(array(lr), update));
    }
    std::vector<array> to_eval = params;
    to_eval.insert(to_eval.end(), m.begin(), m.end());
    to_eval.insert(to_eval.end(), v.begin(), v.end());
    to_eval.push_back(loss[0]);
    eval(to_eval);
    double dt = ms_since(t);
    total_ms += dt;
    last_loss = loss[0].item<float>();
    if (step == 1) first_loss = last_loss;
    if (step == 1 || step % 50 == 0) std::printf("   step %4d  loss %.6f  %.2f ms/step\n", step, last_loss, dt);
  }
  std::printf("\nsummary: lazy graph evaluated, gradients match analytic values, loss %.4f -> %.5f in %d steps "
              "(%.2f ms/step)\n",
              first_loss, last_loss, steps, total_ms / steps);
  return last_loss < first_loss / 10 ? 0 : 1;
}
