// Small assertion helpers shared by the op tests.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "alloy/alloy.h"

namespace alloy::test {

// fn must throw std::invalid_argument whose message starts with "[op]" and contains `text`.
inline void expect_error(const std::function<void()>& fn, const std::string& op, const std::string& text) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing: " << text;
  } catch (const std::invalid_argument& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind("[" + op + "]", 0), 0u) << msg;
    EXPECT_NE(msg.find(text), std::string::npos) << msg;
  }
}

// a has `shape` and, read as T, exactly `expected`.
template <typename T>
inline void expect_array(array a, const Shape& shape, const std::vector<T>& expected) {
  ASSERT_EQ(a.shape(), shape);
  EXPECT_EQ(a.to_vector<T>(), expected);
}

}  // namespace alloy::test
