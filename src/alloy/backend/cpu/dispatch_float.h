// Dtype dispatch over the floating dtypes for the CPU kernels: fn(T{}) with T the storage type.
#pragma once

#include <stdexcept>
#include <string>

#include "alloy/core/dtype.h"

namespace alloy::cpu {

template <typename Fn>
void dispatch_float(Dtype t, const char* op, Fn&& fn) {
  switch (t) {
    case Dtype::float16: return fn(float16_t{});
    case Dtype::bfloat16: return fn(bfloat16_t{});
    case Dtype::float32: return fn(float{});
    case Dtype::float64: return fn(double{});
    case Dtype::bool_: case Dtype::uint8: case Dtype::uint16: case Dtype::uint32: case Dtype::uint64:
    case Dtype::int8: case Dtype::int16: case Dtype::int32: case Dtype::int64:
      throw std::invalid_argument(std::string("[") + op + "] needs a floating-point input, got " + dtype_name(t));
  }
}

}  // namespace alloy::cpu
