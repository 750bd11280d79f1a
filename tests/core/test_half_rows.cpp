// The CPU's row conversions between float16 and float32 (F16C where present) against the
// portable reference conversions of core/half.h, bit for bit.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "alloy/backend/cpu/half_rows.h"
#include "alloy/core/half.h"

namespace {

using alloy::detail::float_to_half_bits;
using alloy::detail::half_bits_to_float;

bool half_is_nan(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0; }

TEST(HalfRows, EveryHalfToFloat) {
  std::vector<uint16_t> in(65536 + 5);  // + 5: a tail past the 8-wide loop
  for (size_t i = 0; i < in.size(); ++i) in[i] = uint16_t(i);
  std::vector<float> out(in.size());
  alloy::cpu::half_to_float_row(in.data(), out.data(), int64_t(in.size()));
  for (size_t i = 0; i < in.size(); ++i) {
    float want = half_bits_to_float(in[i]);
    if (half_is_nan(in[i])) {
      ASSERT_TRUE(std::isnan(out[i])) << "half bits " << in[i];
      ASSERT_EQ(std::signbit(out[i]), std::signbit(want)) << "half bits " << in[i];
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(out[i]), std::bit_cast<uint32_t>(want)) << "half bits " << in[i];
    }
  }
}

TEST(HalfRows, FloatToHalfRoundsToNearestEven) {
  std::vector<float> in = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65519.99f, 65520.0f, -1e30f, INFINITY, -INFINITY,
                           NAN, 5.96e-8f, 2.98e-8f, 2.99e-8f, 1e-10f, 6.1e-5f, 1.00048828125f, 1.000732421875f};
  // Every half value and the midpoints around it (exact ties round to even), then random
  // floats over the whole exponent range.
  for (uint32_t h = 0; h < 0x7c00u; h += 7) {
    float v = half_bits_to_float(uint16_t(h)), next = half_bits_to_float(uint16_t(h + 1));
    in.push_back(v);
    in.push_back(-(v + next) / 2);
    in.push_back(std::nextafter((v + next) / 2, 0.0f));
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 100003; ++i) in.push_back(std::bit_cast<float>(bits(rng)));
  std::vector<uint16_t> out(in.size());
  alloy::cpu::float_to_half_row(in.data(), out.data(), int64_t(in.size()));
  for (size_t i = 0; i < in.size(); ++i) {
    uint16_t want = float_to_half_bits(in[i]);
    if (std::isnan(in[i])) {
      ASSERT_TRUE(half_is_nan(out[i])) << "float " << in[i];
    } else {
      ASSERT_EQ(out[i], want) << "float bits " << std::bit_cast<uint32_t>(in[i]);
    }
  }
}

}  // namespace
