// Hopper warpgroup MMA (wgmma, sm_90a): shared-memory matrix descriptors for the 128-byte
// swizzled layout, the fence / commit / wait protocol, and m64nNk16 products with float32
// accumulators for bf16 and f16 inputs, A from shared memory (ss) or from registers (rs).
//
// The 128-byte swizzled layout of a tile of R rows of 16-bit elements (a K-major operand: a row
// is one M or N index, K contiguous; or an MN-major one: a row is one K index): the row's
// columns come in atoms of 64 elements (128 bytes), atoms stored one after the other, each
// R x 128 bytes; in an atom, row r's 16-byte chunk c lies at r * 128 + ((c ^ (r % 8)) * 16).
// Tiles start on 1024-byte boundaries (8 rows of an atom), as the hardware's swizzle assumes.
//
// Accumulator layout of m64nNk16 (per thread, N / 2 floats): warp w of the warpgroup holds rows
// 16 w .. 16 w + 15; d[4 j + e] is row 16 w + lane / 4 + 8 (e / 2), column 8 j + 2 (lane % 4) +
// (e % 2), as mma.sync's m16n8 tiles side by side. A from registers is laid out as mma.sync's
// m16n8k16 A fragment of the warp's 16 rows.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

namespace alloy::cuda::wgmma {

// The descriptor of a swizzled operand at shared address `addr`. K-major: sbo is the stride of
// 8-row groups (1024 when rows are packed), lbo unused; a K step of 16 elements inside an atom
// advances addr by 32 bytes. MN-major: lbo is the stride of 64-element atoms along M or N, sbo
// that of 8-row groups along K.
__device__ __forceinline__ uint64_t descriptor(uint32_t addr, uint32_t lbo, uint32_t sbo) {
  return uint64_t((addr & 0x3FFFF) >> 4) | (uint64_t((lbo >> 4) & 0x3FFF) << 16) |
         (uint64_t((sbo >> 4) & 0x3FFF) << 32) | (uint64_t(1) << 62);
}

// Orders this thread's earlier register and shared-memory accesses before the wgmma that follow.
__device__ __forceinline__ void fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
// Waits until at most N committed groups are pending.
template <int N>
__device__ __forceinline__ void wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Pins accumulator registers at this point: the compiler may not move their reads or writes
// across it (wgmma writes them asynchronously, between the issue and the wait).
template <int N>
__device__ __forceinline__ void pin(float (&d)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

// The accumulators of m64n64k16 (32 floats a thread) and m64n128k16 (64): asm operands, and
// the instruction's register list.
#define ALLOY_WGMMA_ACC32 \
  "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), \
  "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), \
  "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), \
  "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
#define ALLOY_WGMMA_ACC64 \
  ALLOY_WGMMA_ACC32, \
  "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), \
  "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), \
  "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), \
  "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
#define ALLOY_WGMMA_REGS32 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define ALLOY_WGMMA_REGS64 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
  "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
  "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
  "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"

// One product of SHAPE (m64nNk16) and TYPE (bf16 or f16) into the accumulators (REGS, ACC);
// SCALE, AB and TRANS are the asm operands (after the accumulators) of scale_d, of A and B, and
// of B's transpose flag. A and B from shared memory, both K-major:
#define ALLOY_WGMMA_SS(SHAPE, TYPE, REGS, ACC, SCALE, AB)                                   \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " SCALE ", 0;\n"                             \
               "wgmma.mma_async.sync.aligned." SHAPE ".f32." TYPE "." TYPE " " REGS ", " AB \
               ", p, 1, 1, 0, 0;\n}\n"                                                      \
               : ACC                                                                       \
               : "l"(desc_a), "l"(desc_b), "r"(scale_d))
// A from registers (a[0..3]), B from shared memory:
#define ALLOY_WGMMA_RS(SHAPE, TYPE, REGS, ACC, SCALE, AB, TRANS)                            \
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " SCALE ", 0;\n"                             \
               "wgmma.mma_async.sync.aligned." SHAPE ".f32." TYPE "." TYPE " " REGS ", " AB \
               ", p, 1, 1, " TRANS ";\n}\n"                                                 \
               : ACC                                                                       \
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d), "n"(TransB))

// d (+)= A B, m64n64k16; A and B from shared memory, both K-major; scale_d 0 overwrites d.
template <typename T>
__device__ __forceinline__ void mma_ss(float (&d)[32], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  static_assert(std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>, "wgmma: 16-bit inputs");
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    ALLOY_WGMMA_SS("m64n64k16", "bf16", ALLOY_WGMMA_REGS32, ALLOY_WGMMA_ACC32, "%34", "%32, %33");
  } else {
    ALLOY_WGMMA_SS("m64n64k16", "f16", ALLOY_WGMMA_REGS32, ALLOY_WGMMA_ACC32, "%34", "%32, %33");
  }
}

// d (+)= A B, m64n64k16; A from registers (mma.sync's A fragment), B from shared memory,
// MN-major (TransB = 1) or K-major (0).
template <typename T, int TransB>
__device__ __forceinline__ void mma_rs(float (&d)[32], const uint32_t (&a)[4], uint64_t desc_b, int scale_d) {
  static_assert(std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>, "wgmma: 16-bit inputs");
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    ALLOY_WGMMA_RS("m64n64k16", "bf16", ALLOY_WGMMA_REGS32, ALLOY_WGMMA_ACC32,
                   "%37", "{%32, %33, %34, %35}, %36", "%38");
  } else {
    ALLOY_WGMMA_RS("m64n64k16", "f16", ALLOY_WGMMA_REGS32, ALLOY_WGMMA_ACC32,
                   "%37", "{%32, %33, %34, %35}, %36", "%38");
  }
}

// d (+)= A B, m64n128k16; A and B from shared memory, both K-major; scale_d 0 overwrites d.
template <typename T>
__device__ __forceinline__ void mma_ss(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  static_assert(std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>, "wgmma: 16-bit inputs");
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    ALLOY_WGMMA_SS("m64n128k16", "bf16", ALLOY_WGMMA_REGS64, ALLOY_WGMMA_ACC64, "%66", "%64, %65");
  } else {
    ALLOY_WGMMA_SS("m64n128k16", "f16", ALLOY_WGMMA_REGS64, ALLOY_WGMMA_ACC64, "%66", "%64, %65");
  }
}

// d (+)= A B, m64n128k16; A from registers (mma.sync's A fragment), B from shared memory,
// MN-major (TransB = 1) or K-major (0).
template <typename T, int TransB>
__device__ __forceinline__ void mma_rs(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b, int scale_d) {
  static_assert(std::is_same_v<T, __nv_bfloat16> || std::is_same_v<T, __half>, "wgmma: 16-bit inputs");
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    ALLOY_WGMMA_RS("m64n128k16", "bf16", ALLOY_WGMMA_REGS64, ALLOY_WGMMA_ACC64,
                   "%69", "{%64, %65, %66, %67}, %68", "%70");
  } else {
    ALLOY_WGMMA_RS("m64n128k16", "f16", ALLOY_WGMMA_REGS64, ALLOY_WGMMA_ACC64,
                   "%69", "{%64, %65, %66, %67}, %68", "%70");
  }
}

#undef ALLOY_WGMMA_SS
#undef ALLOY_WGMMA_RS
#undef ALLOY_WGMMA_ACC32
#undef ALLOY_WGMMA_ACC64
#undef ALLOY_WGMMA_REGS32
#undef ALLOY_WGMMA_REGS64

}  // namespace alloy::cuda::wgmma
