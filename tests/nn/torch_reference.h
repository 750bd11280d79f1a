// PyTorch reference cases for the nn tests (tests/nn/torch_cases.py, run once per process with
// Debian's python3-torch) and the checks that compare a module against them.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "alloy/alloy.h"
#include "alloy/nn/module.h"

namespace alloy::test {

// The case's arrays by their key without the "<case>/" prefix ("input", "param/weight", ...).
// Empty when PyTorch is unavailable: then torch_skip_reason() says why.
struct TorchCase {
  std::string name;
  nn::NamedArrays arrays;
  const array& operator[](const std::string& key) const { return arrays.at(key); }
  bool has(const std::string& key) const { return arrays.contains(key); }
  // Entries under a prefix ("param/"), with the prefix removed.
  nn::NamedArrays with_prefix(const std::string& prefix) const;
  // input, or input0, input1, ...
  std::vector<array> inputs() const;
};

const std::string& torch_skip_reason();
// The named case; a missing case fails the test that asks for it.
TorchCase torch_case(const std::string& name);
// Whether the installed PyTorch produced the case (a few exist for some versions only).
bool has_torch_case(const std::string& name);

#define ALLOY_REQUIRE_TORCH()                                                  \
  do {                                                                         \
    if (!::alloy::test::torch_skip_reason().empty())                          \
      GTEST_SKIP() << ::alloy::test::torch_skip_reason();                     \
  } while (0)

// Max |a - b| / (atol + rtol * |b|) <= 1 elementwise; on failure the message names the worst
// element. a is cast to float64.
::testing::AssertionResult all_close(const array& actual, const array& expected, double rtol = 1e-5,
                                     double atol = 1e-6);

// Loads the case's parameters (and buffers) into `module`, runs forward(inputs) and the vjp with
// the case's cotangent, and compares output, input gradients and parameter gradients. The
// module runs in float64 (set_dtype) so the comparison is tight.
using Forward = std::function<array(const std::vector<array>&)>;
void expect_matches_torch(nn::Module& module, const TorchCase& c, const Forward& forward,
                          double rtol = 1e-7, double atol = 1e-9);
void expect_matches_torch(nn::UnaryModule& module, const std::string& case_name, double rtol = 1e-7,
                          double atol = 1e-9);

}  // namespace alloy::test
