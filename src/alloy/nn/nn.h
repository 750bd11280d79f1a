// alloy::nn: modules, layers, activations, losses and initializers. One include for all of it.
#pragma once

#include "alloy/nn/activations.h"
#include "alloy/nn/conv.h"
#include "alloy/nn/dropout.h"
#include "alloy/nn/embedding.h"
#include "alloy/nn/init.h"
#include "alloy/nn/linear.h"
#include "alloy/nn/module.h"
#include "alloy/nn/named_arrays.h"
#include "alloy/nn/normalization.h"
#include "alloy/nn/pooling.h"
#include "alloy/nn/sequential.h"
#include "alloy/nn/value_and_grad.h"
