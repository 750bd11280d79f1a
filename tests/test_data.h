// Where the shared test data lives and how tests read it: $ALLOY_TEST_DATA, else the
// ../shared/data beside the sources (ALLOY_TEST_DATA_DIR, set by CMake).
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace alloy::test {

inline std::string test_data_dir() {
  if (const char* env = std::getenv("ALLOY_TEST_DATA")) return env;
#ifdef ALLOY_TEST_DATA_DIR
  return ALLOY_TEST_DATA_DIR;
#else
  return "";
#endif
}

// The whole file as bytes ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace alloy::test
