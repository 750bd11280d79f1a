#include "alloy/data/fashion_mnist.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "alloy/core/ops.h"
#include "alloy/io/io.h"

namespace alloy::data {
namespace {

array read_split_file(const std::string& dir, const std::string& stem, int ndim, int64_t count) {
  namespace fs = std::filesystem;
  std::string path = dir + "/" + stem;
  if (!fs::exists(path)) path += ".gz";
  if (!fs::exists(path)) {
    throw std::runtime_error("[load_fashion_mnist] " + dir + "/" + stem +
                             "(.gz) not found; install the data with `apt-get install dataset-fashion-mnist` "
                             "or set ALLOY_FASHION_MNIST to the folder holding it");
  }
  array a = io::load_idx(path);
  if (a.dtype() != uint8 || a.ndim() != ndim || a.shape(0) != count ||
      (ndim == 3 && (a.shape(1) != 28 || a.shape(2) != 28))) {
    throw std::runtime_error("[load_fashion_mnist] " + path + " holds " + std::string(dtype_name(a.dtype())) +
                             " of shape " + shape_to_string(a.shape()) + ", not Fashion-MNIST's " +
                             (ndim == 3 ? "(" + std::to_string(count) + ", 28, 28)" : "(" + std::to_string(count) + ",)") +
                             " uint8");
  }
  return a;
}

}  // namespace

std::string fashion_mnist_dir() {
  if (const char* env = std::getenv("ALLOY_FASHION_MNIST")) return env;
  return "/usr/share/datasets/fashion-mnist";
}

FashionMNIST load_fashion_mnist(const std::string& dir) {
  return FashionMNIST{read_split_file(dir, "train-images-idx3-ubyte", 3, 60000),
                      read_split_file(dir, "train-labels-idx1-ubyte", 1, 60000),
                      read_split_file(dir, "t10k-images-idx3-ubyte", 3, 10000),
                      read_split_file(dir, "t10k-labels-idx1-ubyte", 1, 10000)};
}

}  // namespace alloy::data
