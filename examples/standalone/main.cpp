// Least squares by gradient descent, built against an installed alloy (find_package(alloy)).
#include <alloy/alloy.h>

#include <cstdio>

using namespace alloy;

int main() {
  // Fit w in y = X w for a known w_true.
  array X = random::normal({256, 4}, float32, 0.0, 1.0, random::key(1));
  array w_true = array({1.0f, -2.0f, 0.5f, 3.0f}, {4, 1});
  array y = matmul(X, w_true);
  array w = zeros({4, 1});
  auto loss = [&](const array& w_) { return mean(square(subtract(matmul(X, w_), y))); };
  auto g = grad(loss);
  for (int i = 0; i < 200; ++i) {
    w = subtract(w, multiply(array(0.1f), g(w)));
    eval(w);
  }
  std::printf("fitted w: ");
  for (float v : w.to_vector<float>()) std::printf("%.4f ", v);
  std::printf("(true: 1 -2 0.5 3), loss %.2e\n", loss(w).item<float>());
  return allclose(w, w_true, 1e-3, 1e-3) ? 0 : 1;
}
