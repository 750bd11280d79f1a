// Helpers shared by the ops files (not part of the public API).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

#include "alloy/core/ops.h"
#include "alloy/core/primitives.h"

namespace alloy::detail {

template <typename... Parts>
[[noreturn]] void fail(const char* op, const Parts&... parts) {
  std::ostringstream msg;
  msg << "[" << op << "] ";
  (msg << ... << parts);
  throw std::invalid_argument(msg.str());
}

// The dtype of a binary op's operands after promotion, honoring weak (C++ scalar) operands.
Dtype result_type(const array& a, const array& b);

// Both operands cast to `dtype` and broadcast to their common shape.
std::pair<array, array> broadcast_pair(const array& a, const array& b, Dtype dtype, Stream s,
                                       const char* op);

std::vector<int> normalize_axes(const Axes& axes, int ndim, const char* op);

// Every axis of an n-d array.
std::vector<int> all_axes(int ndim);

}  // namespace alloy::detail
