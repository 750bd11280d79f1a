// Random numbers from counter-based Threefry-2x32 (20 rounds), as JAX and MLX. A key is a uint32
// array of shape (2,); the bits drawn from a key depend only on the key and their position, so
// the same key gives the same numbers on every run and device. Functions take an optional key;
// without one they split the global key (thread-safe), seeded from the clock until seed().
//
// Bits: word w of the output of bits(shape, key) (row-major position) is output (w % 2) of
// threefry2x32(key, counter = (w / 2 low 32 bits, w / 2 high 32 bits)). split(key, n)[i] is
// block i: (threefry2x32(key, (i, 0))). Keys of shape (..., 2) give one stream per key.
//
// Bits to floats (computed in float32, or float64 for float64 outputs, then cast):
//   [0, 1)  float32: (b >> 8) * 2^-24          float64: (b64 >> 11) * 2^-53
//   (0, 1)  float32: ((b >> 9) + 0.5) * 2^-23  float64: ((b64 >> 12) + 0.5) * 2^-52
// where b64 = (word0 << 32) | word1 of two consecutive words. uniform uses [0, 1) and clamps
// results that round up to `high`; normal is sqrt(2) * erfinv(2u - 1) with u in (0, 1); gumbel is
// -log(-log(u)) with u in (0, 1); bernoulli is u < p with u in [0, 1).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "alloy/core/array.h"
#include "alloy/core/ops.h"

namespace alloy::random {

// One Threefry-2x32 block with 20 rounds (Salmon et al., SC 2011; JAX's threefry_2x32).
inline std::array<uint32_t, 2> threefry2x32(std::array<uint32_t, 2> key, std::array<uint32_t, 2> counter) {
  constexpr int rotations[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  const uint32_t ks[3] = {key[0], key[1], key[0] ^ key[1] ^ 0x1BD11BDAu};
  uint32_t x0 = counter[0] + ks[0], x1 = counter[1] + ks[1];
  for (int i = 0; i < 5; ++i) {
    for (int r : rotations[i % 2]) {
      x0 += x1;
      x1 = (x1 << r) | (x1 >> (32 - r));
      x1 ^= x0;
    }
    // Key injection after every 4 rounds.
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + uint32_t(i + 1);
  }
  return {x0, x1};
}

// uint32 (2,): (seed >> 32, seed & 0xffffffff).
array key(uint64_t seed);
// (num, 2) new keys from one key of shape (2,).
array split(const array& key, int num = 2, SD s = {});
// Reseeds the global key.
void seed(uint64_t seed);

// Raw bits: width 1, 2, 4 or 8 bytes gives uint8/uint16/uint32/uint64 (1 and 2 keep the low bits
// of a 32-bit word; 8 joins two words). key may be (..., 2): the output is (..., shape).
array bits(const Shape& shape, int width = 4, std::optional<array> key = std::nullopt, SD s = {});

// Uniform in [low, high).
array uniform(const Shape& shape, Dtype dtype = float32, double low = 0.0, double high = 1.0,
              std::optional<array> key = std::nullopt, SD s = {});
// low and high broadcast to shape; differentiable in low and high.
array uniform(const array& low, const array& high, const Shape& shape, Dtype dtype = float32,
              std::optional<array> key = std::nullopt, SD s = {});

array normal(const Shape& shape, Dtype dtype = float32, double loc = 0.0, double scale = 1.0,
             std::optional<array> key = std::nullopt, SD s = {});

// Standard normal restricted to [lower, upper] (inverse-CDF method, computed in float64).
// Without a shape, the broadcast shape of lower and upper.
array truncated_normal(const array& lower, const array& upper, const Shape& shape, Dtype dtype = float32,
                       std::optional<array> key = std::nullopt, SD s = {});
array truncated_normal(const array& lower, const array& upper, Dtype dtype = float32,
                       std::optional<array> key = std::nullopt, SD s = {});

// Integers in [low, high) (low and high broadcast to shape): low + ((b * (high - low)) >> 32)
// with b 32 random bits, so ranges up to 2^32 wide; an empty range gives low.
array randint(const array& low, const array& high, const Shape& shape, Dtype dtype = int32,
              std::optional<array> key = std::nullopt, SD s = {});

// bool: true with probability p (p broadcast to shape, or the shape of p).
array bernoulli(const array& p, const Shape& shape, std::optional<array> key = std::nullopt, SD s = {});
array bernoulli(const array& p = array(0.5f), std::optional<array> key = std::nullopt, SD s = {});

// Standard Gumbel samples.
array gumbel(const Shape& shape, Dtype dtype = float32, std::optional<array> key = std::nullopt, SD s = {});

// Samples class indices (uint32) from unnormalized log-probabilities along `axis` by the
// Gumbel-max trick. The output drops `axis`; with num_samples it appends a (num_samples,) axis.
array categorical(const array& logits, int axis = -1, std::optional<int> num_samples = std::nullopt,
                  std::optional<array> key = std::nullopt, SD s = {});

// A random permutation of 0..n-1 (int32 for n < 2^31, else int64), or of x along `axis`: the
// argsort of random bits.
array permutation(int64_t n, std::optional<array> key = std::nullopt, SD s = {});
array permutation(const array& x, int axis = 0, std::optional<array> key = std::nullopt, SD s = {});

}  // namespace alloy::random
