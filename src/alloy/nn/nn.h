// alloy::nn: modules, layers, activations, losses and initializers. One include for all of it.
#pragma once

#include "alloy/nn/activations.h"
#include "alloy/nn/attention.h"
#include "alloy/nn/checkpoint.h"
#include "alloy/nn/init.h"
#include "alloy/nn/linear.h"
#include "alloy/nn/losses.h"
#include "alloy/nn/mixed_precision.h"
#include "alloy/nn/module.h"
#include "alloy/nn/module_list.h"
#include "alloy/nn/named_arrays.h"
#include "alloy/nn/quantized.h"
#include "alloy/nn/rope.h"
#include "alloy/nn/sequential.h"
#include "alloy/nn/transformer.h"
#include "alloy/nn/value_and_grad.h"
