// Command-line arguments of the alloy program: flags with values ("-n 64", "--temp=0.7") and
// switches ("--chat"), looked up by any of their names. Unknown or malformed flags are errors
// that name the flag.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace alloy::cli {

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  Args(int argc, char** argv, int first);
  // The value of a flag known by any of `names` ("-m", "--model").
  std::optional<std::string> value(std::initializer_list<const char*> names);
  std::string required(std::initializer_list<const char*> names, const char* what);
  int64_t integer(std::initializer_list<const char*> names, int64_t fallback);
  double real(std::initializer_list<const char*> names, double fallback);
  bool flag(std::initializer_list<const char*> names);
  // After every lookup: throws usage_error naming any flag that none asked for, and returns
  // the positional arguments (those no flag consumed).
  std::vector<std::string> finish() const;

 private:
  std::vector<std::string> raw_;
  std::vector<bool> used_;
};

}  // namespace alloy::cli
