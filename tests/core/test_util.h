// Small assertion helpers shared by the op tests.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "alloy/alloy.h"

namespace alloy::test {

// How close a fused op must come to its composition from plain ops, by dtype.
inline double fused_tolerance(Dtype t) {
  switch (t) {
    case Dtype::float64: return 1e-12;
    case Dtype::float32: return 2e-5;
    case Dtype::float16: return 4e-3;
    case Dtype::bfloat16: return 3e-2;
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      return 0;
  }
  return 0;
}

// got (fused) against want (composed): same shape and dtype, within tol absolute and relative.
inline void expect_close_to_composition(const array& got, const array& want, double tol, const std::string& what) {
  ASSERT_EQ(got.shape(), want.shape()) << what;
  ASSERT_EQ(got.dtype(), want.dtype()) << what;
  EXPECT_TRUE(allclose(got, want, tol, tol)) << what << "\nfused " << got << "\ncomposed " << want;
}

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
