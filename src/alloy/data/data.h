// alloy::data: datasets, the batching loader and the Fashion-MNIST reader.
#pragma once

#include "alloy/data/dataset.h"
#include "alloy/data/fashion_mnist.h"
#include "alloy/data/loader.h"
