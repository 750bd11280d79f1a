// Sort, argsort, partition and argpartition along one axis on the GPU.
//
// Design: the sort axis is made last with dense rows (a row-contiguous input with inner == 1 is
// used in place; otherwise a transposing copy into a temporary), every row is sorted by CUB's
// LSD radix sort (cub::DeviceSegmentedRadixSort over row segments, whose offsets a small kernel
// writes; cub::DeviceRadixSort for a single row), and a result in a temporary is copied back to
// `out` in the original axis order. Radix sort is stable, so argsort (keys paired with the
// in-row index 0..n-1) is stable as on the CPU. partition/argpartition are a full sort, which
// is a valid partition (the CPU's nth_element gives another valid arrangement; callers and the
// tests rely only on the partition property).
// Keys: every dtype is mapped to the unsigned integer of its width that orders like the CPU's
// comparison: bool and unsigned integers as they are, signed integers with the sign bit
// flipped, floats (float16, bfloat16, float32, float64) with negative values' bits all flipped
// and non-negative ones' sign bit set; -0 and +0 share one key (they compare equal, so
// stability keeps their input order), and every NaN maps to the all-ones key: NaNs sort after
// +inf, in input order, as on the CPU (NumPy's NaN-last order).
// Every sort is one pairs sort of (key, in-row position): argsort returns the positions, sort
// gathers the input's values through them (so -0 and NaN payloads are kept). One CUB
// instantiation per key width (16, 32, 64 bits; device-wide and segmented) keeps this file's
// compile time in bounds: CUB's radix sort is the slowest code in the build to compile (311 s
// for both architectures with a sort per dtype, 90 s like this).
// Rows are processed in groups of at most INT_MAX elements (CUB's item count is an int); a row
// longer than that falls back to the CPU.
#include <cub/cub.cuh>

#include <algorithm>
#include <cstring>
#include <limits>

#include "alloy/backend/cuda/kernel_utils.cuh"

namespace alloy {
namespace cuda {
namespace {

// Radix key type of a storage type: the unsigned integer of its width, 1-byte types widened to
// 16 bits (one CUB instantiation fewer; the sort still looks at their 8 bits only).
template <typename T>
using radix_key_t =
    std::conditional_t<sizeof(T) <= 2, uint16_t, std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>>;

// Bits of +inf of a float type.
template <typename T>
constexpr uint64_t inf_bits() {
  if constexpr (std::is_same_v<T, __half>) return 0x7C00u;
  else if constexpr (std::is_same_v<T, __nv_bfloat16>) return 0x7F80u;
  else if constexpr (std::is_same_v<T, float>) return 0x7F800000u;
  else return 0x7FF0000000000000ull;
}

// Whether T's bits are already its order-preserving unsigned key.
template <typename T>
inline constexpr bool bits_are_keys_v =
    (std::is_same_v<T, bool> || std::is_unsigned_v<T>) && sizeof(T) == sizeof(radix_key_t<T>);

// keys[i] = the order-preserving unsigned key of x[i], in its low sizeof(T) * 8 bits.
template <typename T, typename K>
__global__ void order_keys(const T* x, K* keys, int64_t n) {
  using U = std::conditional_t<sizeof(T) == 1, uint8_t, K>;  // T's bits
  constexpr U sign = U(U(1) << (sizeof(U) * 8 - 1));
  ALLOY_GRID_STRIDE(i, n) {
    U b;
    memcpy(&b, x + i, sizeof(U));
    if constexpr (std::is_same_v<T, bool> || std::is_unsigned_v<T>) {
      // as it is
    } else if constexpr (is_float_v<T>) {
      constexpr U inf = U(inf_bits<T>());
      U mag = U(b & U(~sign));
      if (mag > inf) b = U(~U(0));      // NaN: after everything, all NaNs equal
      else if (mag == 0) b = sign;      // -0 == +0
      else b = (b & sign) ? U(~b) : U(b | sign);
    } else {
      b = U(b ^ sign);  // two's complement: flipping the sign bit orders as unsigned
    }
    keys[i] = K(b);
  }
}

// y[i] = x[row start + pos[i]]: the sorted values through the sorted positions.
template <typename T>
__global__ void gather_in_rows(const T* x, const uint32_t* pos, T* y, int64_t total, int64_t n) {
  ALLOY_GRID_STRIDE(i, total) { y[i] = x[i - i % n + pos[i]]; }
}

// offsets[i] = i * n for i in [0, count].
__global__ void row_offsets(int* offsets, int64_t count, int n) {
  ALLOY_GRID_STRIDE(i, count + 1) { offsets[i] = int(i * n); }
}

// idx[i] = i % n: each element's position in its row.
__global__ void row_positions(uint32_t* idx, int64_t total, int64_t n) {
  ALLOY_GRID_STRIDE(i, total) { idx[i] = uint32_t(i % n); }
}

// One CUB radix sort of (key, position) pairs; a size query when tmp is null. offsets ==
// nullptr: one row, sorted device-wide; else `segments` rows of one segmented sort.
// Only the key's low `bits` bits are sorted on.
template <typename K>
void radix_sort_pairs(void* tmp, size_t& bytes, const K* kin, K* kout, const uint32_t* vin, uint32_t* vout,
                      int items, int segments, const int* offsets, int bits, cudaStream_t st) {
  cudaError_t err =
      offsets ? cub::DeviceSegmentedRadixSort::SortPairs(tmp, bytes, kin, kout, vin, vout, items, segments,
                                                         offsets, offsets + 1, 0, bits, st)
              : cub::DeviceRadixSort::SortPairs(tmp, bytes, kin, kout, vin, vout, items, 0, bits, st);
  check(err, "radix sort");
}

// Sorts `rows` dense rows of length n from x into y: values of T, or uint32 positions when arg.
template <typename T>
void sort_rows(const T* x, void* y, int64_t rows, int64_t n, bool arg, const Stream& s) {
  using K = radix_key_t<T>;
  cudaStream_t st = stream_of(s);
  constexpr int threads = 256;
  int64_t total = rows * n;
  const K* keys = reinterpret_cast<const K*>(x);
  if constexpr (!bits_are_keys_v<T>) {
    K* k = static_cast<K*>(scratch(s, size_t(total) * sizeof(K)));
    order_keys<T, K><<<grid_blocks(total, threads), threads, 0, st>>>(x, k, total);
    ALLOY_CUDA_LAUNCH_CHECK("sort_order_keys");
    keys = k;
  }
  // Groups of whole rows, each within CUB's int item count.
  int64_t group = std::max<int64_t>(1, std::min<int64_t>(rows, std::numeric_limits<int>::max() / n));
  int64_t group_items = group * n;
  K* keys_out = static_cast<K*>(scratch(s, size_t(group_items) * sizeof(K)));
  int* offsets = nullptr;
  if (group > 1) {
    offsets = static_cast<int*>(scratch(s, size_t(group + 1) * sizeof(int)));
    row_offsets<<<grid_blocks(group + 1, threads), threads, 0, st>>>(offsets, group, int(n));
    ALLOY_CUDA_LAUNCH_CHECK("sort_row_offsets");
  }
  // The same for every group: positions restart at 0 in each row.
  uint32_t* positions = static_cast<uint32_t*>(scratch(s, size_t(group_items) * sizeof(uint32_t)));
  row_positions<<<grid_blocks(group_items, threads), threads, 0, st>>>(positions, group_items, n);
  ALLOY_CUDA_LAUNCH_CHECK("sort_row_positions");
  // argsort writes the sorted positions into y; sort into a temporary, gathered afterwards.
  uint32_t* sorted_positions = arg ? static_cast<uint32_t*>(y)
                                   : static_cast<uint32_t*>(scratch(s, size_t(total) * sizeof(uint32_t)));
  // Sizes the temp storage for a full group (a smaller last group, sorted the same way, needs no
  // more) and runs one group.
  auto call = [&](void* tmp, size_t& bytes, int64_t first_row, int64_t count) {
    int64_t off = first_row * n;
    radix_sort_pairs<K>(tmp, bytes, keys + off, keys_out, positions, sorted_positions + off, int(count * n),
                        int(count), offsets, int(sizeof(T) * 8), st);
  };
  size_t bytes = 0;
  call(nullptr, bytes, 0, group);
  void* tmp = scratch(s, bytes);
  for (int64_t r = 0; r < rows; r += group) {
    size_t b = bytes;
    call(tmp, b, r, std::min(group, rows - r));
  }
  if (!arg) {
    gather_in_rows<T><<<grid_blocks(total, threads), threads, 0, st>>>(x, sorted_positions,
                                                                        static_cast<T*>(y), total, n);
    ALLOY_CUDA_LAUNCH_CHECK("sort_gather_in_rows");
  }
}

}  // namespace
}  // namespace cuda

void Sort::eval_gpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  int nd = in.ndim();
  int64_t n = nd == 0 ? 1 : in.shape(axis_);
  bool arg = kind_ == SortKind::argsort || kind_ == SortKind::argpartition;
  if (nd == 0 || n > int64_t(std::numeric_limits<int>::max()) || out.dtype() != (arg ? uint32 : in.dtype())) {
    return cuda::fallback_to_cpu(*this, inputs, out);
  }
  cuda::allocate(out);
  if (out.size() == 0) return;
  const Stream& s = stream();
  int64_t inner = 1;
  for (int d = axis_ + 1; d < nd; ++d) inner *= in.shape(d);
  int64_t rows = int64_t(in.size()) / n;
  auto run = [&](const array& src, void* dst) {
    cuda::dispatch(in.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      cuda::sort_rows<T>(cuda::in_ptr<T>(src, s), dst, rows, n, arg, s);
    });
  };
  if (inner == 1) {
    run(cuda::as_row_contiguous(in, s), cuda::device_out_ptr(out));
    return;
  }
  cuda::along_last_axis(in, out, axis_, s, run);
}

}  // namespace alloy
