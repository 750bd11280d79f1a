#include "alloy/nn/sequential.h"

namespace alloy::nn {

array Sequential::forward(const array& x) {
  array y = x;
  for (UnaryModule* layer : layers_) y = layer->forward(y);
  return y;
}

}  // namespace alloy::nn
