#include "alloy/llm/convert/encode.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include <sys/mman.h>

#include "alloy/core/half.h"
#include "alloy/core/quant_formats.h"
#include "alloy/io/gguf.h"

namespace alloy::llm {

array encode_rows(const std::vector<float>& values, uint32_t type, int64_t row) {
  const io::GGMLTypeInfo* info = io::ggml_type_info(type);
  int64_t rows = int64_t(values.size()) / row;
  size_t rb = size_t(row) / info->block_size * info->type_size, bytes = rb * size_t(rows);
  uint8_t* buf = allocate_converted(bytes, "encoding a tensor");
  for_each_row_on_every_core(rows, [&](int64_t r) {
    const float* src = values.data() + r * row;
    uint8_t* dst = buf + size_t(r) * rb;
    if (type == uint32_t(io::GGMLType::F32)) {
      std::memcpy(dst, src, rb);
    } else if (type == uint32_t(io::GGMLType::F16) || type == uint32_t(io::GGMLType::BF16)) {
      auto* h = reinterpret_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < row; ++i)
        h[i] = type == uint32_t(io::GGMLType::F16) ? detail::float_to_half_bits(src[i]) : detail::float_to_bf16_bits(src[i]);
    } else {
      quant::quantize_row(quant::Type(type), src, dst, row);
    }
  });
  return array(buf, Shape{int64_t(bytes)}, uint8, [](void* p) { std::free(p); });
}

uint8_t* allocate_converted(size_t bytes, const std::string& what) {
  constexpr size_t huge_page = size_t(2) << 20;
  void* p = nullptr;
  if (bytes >= huge_page) {
    // aligned_alloc wants a multiple of the alignment; the tail past `bytes` goes unused.
    p = std::aligned_alloc(huge_page, (bytes + huge_page - 1) / huge_page * huge_page);
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: without huge pages it still works
#endif
  } else {
    p = std::malloc(std::max<size_t>(bytes, 1));
  }
  if (!p) throw std::runtime_error("out of memory " + what + " (" + std::to_string(bytes) + " bytes)");
  return static_cast<uint8_t*>(p);
}

void for_each_row_on_every_core(int64_t rows, const std::function<void(int64_t)>& fn) {
  const int threads = int(std::min<int64_t>(std::max(1u, std::thread::hardware_concurrency()), std::max<int64_t>(rows, 1)));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int64_t r = t; r < rows; r += threads) fn(r);
    });
  }
  for (auto& th : pool) th.join();
}

}  // namespace alloy::llm
