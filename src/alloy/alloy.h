// alloy: lazily evaluated arrays with autodiff on CPUs and GPUs. One include for everything.
#pragma once

#include "alloy/core/array.h"
#include "alloy/core/device.h"
#include "alloy/core/dtype.h"
#include "alloy/core/fast.h"
#include "alloy/core/memory.h"
#include "alloy/core/ops.h"
#include "alloy/core/random.h"
#include "alloy/core/transforms.h"
#include "alloy/io/io.h"
