#include <gtest/gtest.h>

#include "alloy/alloy.h"

using namespace alloy;

TEST(Smoke, AddAndSum) {
  array a = arange(6.0, float32);
  array b = reshape(a, {2, 3});
  array c = b * 2.0f + 1.0f;
  EXPECT_EQ(c.dtype(), float32);
  auto v = c.to_vector<float>();
  EXPECT_EQ(v, (std::vector<float>{1, 3, 5, 7, 9, 11}));
  EXPECT_FLOAT_EQ(sum(c).item<float>(), 36.0f);
  auto s = sum(c, 0).to_vector<float>();
  EXPECT_EQ(s, (std::vector<float>{8, 12, 16}));
}
