// RandomBits on the GPU, bit-identical to the CPU: the output is (n_keys, per_key) uint32 words
// with keys (..., 2) made row-contiguous uint32; word w of key k's stream is output (w % 2) of
// threefry2x32(key k, counter (w / 2 low 32 bits, w / 2 high 32 bits)). One thread per
// (key, block) pair in a grid-stride loop; an odd per_key writes only the first word of its last
// block.
#include "alloy/backend/cuda/kernel_utils.cuh"

namespace alloy {
namespace cuda {
namespace {

__device__ __forceinline__ uint32_t rotl(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

// Threefry-2x32, 20 rounds, as random::threefry2x32 in core/random.h.
__device__ __forceinline__ uint2 threefry2x32(uint32_t k0, uint32_t k1, uint32_t c0, uint32_t c1) {
  const uint32_t ks[3] = {k0, k1, k0 ^ k1 ^ 0x1BD11BDAu};
  constexpr int rot[2][4] = {{13, 15, 26, 6}, {17, 29, 16, 24}};
  uint32_t x0 = c0 + ks[0], x1 = c1 + ks[1];
#pragma unroll
  for (int i = 0; i < 5; ++i) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      x0 += x1;
      x1 = rotl(x1, rot[i % 2][j]);
      x1 ^= x0;
    }
    x0 += ks[(i + 1) % 3];
    x1 += ks[(i + 2) % 3] + uint32_t(i + 1);
  }
  return make_uint2(x0, x1);
}

// keys (n_keys, 2), out (n_keys, per_key).
__global__ void random_bits_kernel(const uint32_t* keys, uint32_t* out, int64_t n_keys, int64_t per_key) {
  int64_t blocks = (per_key + 1) / 2;
  ALLOY_GRID_STRIDE(t, n_keys * blocks) {
    int64_t key = t / blocks;
    uint64_t b = uint64_t(t % blocks);
    uint2 r = threefry2x32(keys[2 * key], keys[2 * key + 1], uint32_t(b), uint32_t(b >> 32));
    uint32_t* dst = out + key * per_key;
    dst[2 * b] = r.x;
    if (int64_t(2 * b + 1) < per_key) dst[2 * b + 1] = r.y;
  }
}

}  // namespace
}  // namespace cuda

void RandomBits::eval_gpu(const std::vector<array>& inputs, array& out) {
  if (out.dtype() != uint32) return cuda::fallback_to_cpu(*this, inputs, out);
  cuda::allocate(out);
  const array& keys = inputs[0];  // (..., 2) uint32, any layout
  const int64_t n_keys = int64_t(keys.size() / 2);
  const int64_t per_key = int64_t(shape_size(shape_));  // words per key
  if (n_keys == 0 || per_key == 0) return;
  array k = cuda::as_row_contiguous(keys, stream(), uint32);
  int64_t work = n_keys * ((per_key + 1) / 2);
  constexpr int threads = 256;
  cuda::random_bits_kernel<<<cuda::grid_blocks(work, threads), threads, 0, cuda::stream_of(stream())>>>(
      cuda::in_ptr<uint32_t>(k, stream()), cuda::out_ptr<uint32_t>(out), n_keys, per_key);
  ALLOY_CUDA_LAUNCH_CHECK("random_bits");
}

}  // namespace alloy
