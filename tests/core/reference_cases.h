// Loads the NumPy reference cases written by tests/core/references.py (run once per test
// process) and builds arrays from them.
#pragma once

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "alloy/alloy.h"

namespace alloy::test {

// All cases, or an empty list when python3/NumPy is unavailable (then `skip_reason` says why).
const nlohmann::json& reference_cases();
const std::string& reference_skip_reason();

Dtype dtype_from_name(const std::string& name);
// Builds the array a JSON {"dtype", "shape", "data"} describes.
array array_from_json(const nlohmann::json& j);
std::vector<double> values_from_json(const nlohmann::json& j);

// Compares `actual` (any dtype) with expected values, with a tolerance for its dtype. Returns an
// empty string on success, else a description of the first mismatch.
std::string compare_to_expected(array actual, const nlohmann::json& expected);

}  // namespace alloy::test
