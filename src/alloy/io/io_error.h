// io_error: what every loader and saver in alloy::io throws. The message always starts with
// the function name in brackets and names the file (or the buffer's name) and the problem:
// "[load_npy] model.npy: header length 4000000 exceeds the file size 120".
#pragma once

#include <stdexcept>
#include <string>

namespace alloy::io {

class io_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  io_error(const char* function, const std::string& file, const std::string& problem)
      : std::runtime_error(std::string("[") + function + "] " + file + ": " + problem) {}
};

}  // namespace alloy::io
