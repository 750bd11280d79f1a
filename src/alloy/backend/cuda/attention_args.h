// The arguments of the attention kernels (attention.cu, attention_grad.cu, and the Hopper
// kernel in hopper/attention_wgmma.cu, built apart for sm_90a), shared across their files.
#pragma once

#include <cstdint>

namespace alloy::cuda {

enum class MaskKind { none, boolean, additive };

// Everything the kernels need about one call. Pointers are row-contiguous (B, H, T, D) except
// the mask, read as mask[b*ms[0] + h*ms[1] + qi*ms[2] + kj*ms[3]].
struct AttnArgs {
  const void* q;
  const void* k;
  const void* v;
  void* out;
  float* lse;  // (B, Hq, Tq): each row's log-sum-exp of its scaled, masked scores; -inf: no key
  const void* mask;
  int64_t ms[4];
  int B, Hq, Hkv, Tq, Tk, D, Dv, groups;
  float scale;
  bool causal;
  bool nan_empty;  // value of a row that sees no key: NaN, else 0
};

}  // namespace alloy::cuda
