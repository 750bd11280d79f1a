// alloy::optim: optimizers, learning-rate schedules and gradient clipping. One include for all.
#pragma once

#include "alloy/optim/adadelta.h"
#include "alloy/optim/adafactor.h"
#include "alloy/optim/adagrad.h"
#include "alloy/optim/adam.h"
#include "alloy/optim/adamax.h"
#include "alloy/optim/clip_grad_norm.h"
#include "alloy/optim/lion.h"
#include "alloy/optim/optimizer.h"
#include "alloy/optim/rmsprop.h"
#include "alloy/optim/schedules.h"
#include "alloy/optim/sgd.h"
