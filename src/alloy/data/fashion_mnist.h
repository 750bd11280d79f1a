// Fashion-MNIST (Zalando's 28x28 grey images of 10 clothing classes; 60,000 for training and
// 10,000 for testing) from its IDX files, as Debian's dataset-fashion-mnist installs them in
// /usr/share/datasets/fashion-mnist (or the folder $ALLOY_FASHION_MNIST names).
#pragma once

#include <array>
#include <string>

#include "alloy/core/array.h"

namespace alloy::data {

struct FashionMNIST {
  array train_images;  // (60000, 28, 28) uint8
  array train_labels;  // (60000,) uint8, 0..9
  array test_images;   // (10000, 28, 28) uint8
  array test_labels;   // (10000,) uint8
};

std::string fashion_mnist_dir();
// Reads the four files (<split>-images-idx3-ubyte and -labels-idx1-ubyte, .gz or not). A
// missing folder or file is an error that says how to install the data.
FashionMNIST load_fashion_mnist(const std::string& dir = fashion_mnist_dir());

inline constexpr std::array<const char*, 10> fashion_mnist_classes = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

}  // namespace alloy::data
