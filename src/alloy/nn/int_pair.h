// IntPair: a 2-D layer argument (kernel size, stride, padding, ...) given as one int for both
// dimensions or as {h, w}, as PyTorch's int-or-tuple arguments: Conv2d(3, 16, 3) or
// Conv2d(3, 16, {3, 5}).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace alloy::nn {

struct IntPair {
  int first, second;
  IntPair(int both) : first(both), second(both) {}  // implicit on purpose: Conv2d(3, 16, 3)
  IntPair(int h, int w) : first(h), second(w) {}
  std::pair<int, int> pair() const { return {first, second}; }
  std::vector<int> vec() const { return {first, second}; }
};

}  // namespace alloy::nn
