// The unevaluated nodes behind some arrays in evaluation order (an iterative depth-first walk: a
// 200,000-node chain does not recurse), one array per primitive (siblings share theirs). eval
// schedules them; RecordedGraph keeps them to run again.
#pragma once

#include <vector>

#include "alloy/core/array.h"

namespace alloy {

std::vector<array> unevaluated_in_order(const std::vector<array>& outputs);

}  // namespace alloy
