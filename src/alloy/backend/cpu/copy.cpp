// Copies, conversions, fills and views on the CPU.
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "alloy/backend/cpu/half_rows.h"
#include "alloy/backend/cpu/simd.h"
#include "alloy/backend/cpu/strided.h"
#include "alloy/core/primitives.h"

namespace alloy::cpu {

Flags view_flags(const Shape& shape, const Strides& strides) {
  Flags f{true, true, true};
  int64_t expect = 1;
  for (int d = int(shape.size()) - 1; d >= 0; --d) {
    if (shape[d] == 1) continue;
    if (strides[d] != expect) f.row_contiguous = false;
    expect *= shape[d];
  }
  expect = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (strides[d] != expect) f.col_contiguous = false;
    expect *= shape[d];
  }
  // Dense in some order: sorting dims by stride gives row-major strides.
  std::vector<size_t> order;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] != 1) order.push_back(d);
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return strides[a] > strides[b]; });
  expect = 1;
  f.contiguous = true;
  for (int i = int(order.size()) - 1; i >= 0; --i) {
    if (strides[order[i]] != expect) f.contiguous = false;
    expect *= shape[order[i]];
  }
  return f;
}

void allocate(array& out) {
  out.set_data(allocator::cpu_allocator().malloc(std::max<size_t>(out.nbytes(), 1)), Device::cpu);
}

namespace {

template <typename T>
inline auto float_value(T v) {
  if constexpr (std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>) return float(v);
  else return v;
}

// A float to an integer dtype as x86 (and so NumPy there) converts, where C++'s cast is
// undefined (values the destination cannot hold): truncation toward zero into int32 for
// destinations of up to 16 bits and int32, into int64 for uint32 and int64 (uint64 also takes
// [2^63, 2^64) directly), then wrapped to the destination's width; NaN and values outside the
// intermediate's range give its minimum (x86's "integer indefinite").
template <typename Dst>
inline Dst float_to_integer(double v) {
  if constexpr (std::is_same_v<Dst, uint64_t>) {
    if (v >= 9223372036854775808.0 && v < 18446744073709551616.0) return static_cast<Dst>(v);
  }
  if constexpr (sizeof(Dst) < 4 || std::is_same_v<Dst, int32_t>) {
    const bool fits = v > -2147483649.0 && v < 2147483648.0;  // false for NaN
    return static_cast<Dst>(fits ? static_cast<int32_t>(v) : std::numeric_limits<int32_t>::min());
  } else {
    const bool fits = v >= -9223372036854775808.0 && v < 9223372036854775808.0;
    return static_cast<Dst>(fits ? static_cast<int64_t>(v) : std::numeric_limits<int64_t>::min());
  }
}

template <typename Dst, typename Src>
inline Dst convert(Src v) {
  constexpr bool src_float = std::is_floating_point_v<Src> || std::is_same_v<Src, float16_t> ||
                             std::is_same_v<Src, bfloat16_t>;
  if constexpr (src_float && std::is_integral_v<Dst> && !std::is_same_v<Dst, bool>) {
    return float_to_integer<Dst>(double(float_value(v)));
  } else if constexpr (std::is_same_v<Src, float16_t> || std::is_same_v<Src, bfloat16_t>) {
    if constexpr (std::is_same_v<Dst, bool>) return float(v) != 0.0f;
    else return static_cast<Dst>(float(v));
  } else if constexpr (std::is_same_v<Dst, float16_t> || std::is_same_v<Dst, bfloat16_t>) {
    return Dst(float(v));
  } else if constexpr (std::is_same_v<Dst, bool>) {
    return v != Src(0);
  } else {
    return static_cast<Dst>(v);
  }
}

template <typename Dst, typename Src>
ALLOY_SIMD_CLONES void convert_row(const Src* in, int64_t in_stride, Dst* out, int64_t out_stride, int64_t n) {
  if (in_stride == 1 && out_stride == 1) {
    if constexpr (std::is_same_v<Src, float16_t> && std::is_same_v<Dst, float>)
      return half_to_float_row(reinterpret_cast<const uint16_t*>(in), out, n);
    if constexpr (std::is_same_v<Src, float> && std::is_same_v<Dst, float16_t>)
      return float_to_half_row(in, reinterpret_cast<uint16_t*>(out), n);
    for (int64_t i = 0; i < n; ++i) out[i] = convert<Dst>(in[i]);
  } else if (in_stride == 0 && out_stride == 1) {
    Dst v = convert<Dst>(in[0]);
    for (int64_t i = 0; i < n; ++i) out[i] = v;
  } else {
    for (int64_t i = 0; i < n; ++i) out[i * out_stride] = convert<Dst>(in[i * in_stride]);
  }
}

}  // namespace

void copy_into(const array& in, void* dst, Dtype dst_dtype, const Strides& dst_strides, const Shape& shape) {
  const void* src = const_cast<array&>(in).raw_data_ptr();
  dispatch_dtype(in.dtype(), [&](auto s) {
    using S = decltype(s);
    dispatch_dtype(dst_dtype, [&](auto d) {
      using D = decltype(d);
      const S* sp = static_cast<const S*>(src);
      D* dp = static_cast<D*>(dst);
      if constexpr (std::is_same_v<S, D>) {
        // Same type, both dense row-major: one memcpy (split across threads when large).
        if (in.flags().row_contiguous && dst_strides == row_major_strides(shape)) {
          int64_t n = int64_t(in.size());
          parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) {
            std::memcpy(dp + b, sp + b, size_t(e - b) * sizeof(S));
          });
          return;
        }
      }
      for_each_row<2>(shape, {in.strides(), dst_strides},
                      [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
                        convert_row<D, S>(sp + off[0], st[0], dp + off[1], st[1], n);
                      });
    });
  });
}

void copy_contiguous(const array& in, array& out) {
  // out may have another shape of the same size (a reshape): the bytes are in's, row-major.
  allocate(out);
  copy_into(in, out.raw_data_ptr(), out.dtype(), row_major_strides(in.shape()), in.shape());
}

array as_row_contiguous(const array& a, std::optional<Dtype> dtype) {
  Dtype t = dtype.value_or(a.dtype());
  if (a.flags().row_contiguous && a.dtype() == t) return a;
  array tmp(a.shape(), t, nullptr, {});
  copy_contiguous(a, tmp);
  return tmp;
}

void copy_or_donate(const array& in, array& out) {
  if (in.is_donatable() && in.flags().row_contiguous) {
    out.move_shared_buffer(in);
  } else {
    copy_contiguous(in, out);
  }
}

}  // namespace alloy::cpu

namespace alloy {
using cpu::allocate;
using cpu::copy_contiguous;

void Copy::eval_cpu(const std::vector<array>& inputs, array& out) { cpu::copy_or_donate(inputs[0], out); }

void AsType::eval_cpu(const std::vector<array>& inputs, array& out) { copy_contiguous(inputs[0], out); }

void Full::eval_cpu(const std::vector<array>& inputs, array& out) {
  allocate(out);
  // The input is a scalar of out's dtype (the op converted it).
  dispatch_dtype(out.dtype(), [&](auto v) {
    using T = decltype(v);
    T value = *static_cast<const T*>(const_cast<array&>(inputs[0]).raw_data_ptr());
    T* p = static_cast<T*>(out.raw_data_ptr());
    cpu::parallel_for(int64_t(out.size()), 1 << 16, [&](int64_t b, int64_t e) { std::fill(p + b, p + e, value); });
  });
}

void Arange::eval_cpu(const std::vector<array>&, array& out) {
  allocate(out);
  dispatch_dtype(out.dtype(), [&](auto v) {
    using T = decltype(v);
    T* p = static_cast<T*>(out.raw_data_ptr());
    int64_t n = int64_t(out.size());
    for (int64_t i = 0; i < n; ++i) {
      double x = start_ + double(i) * step_;
      if constexpr (std::is_same_v<T, float16_t> || std::is_same_v<T, bfloat16_t>) p[i] = T(float(x));
      else p[i] = static_cast<T>(x);
    }
  });
}

Strides Reshape::view_strides(const array& in, const Shape& shape) {
  // Walk both shapes in matching groups of equal element count; each input group must be
  // contiguous within itself for the output group to be a strided view of it.
  Strides out(shape.size(), 0);
  if (in.size() == 0) return row_major_strides(shape);
  const Shape& ish = in.shape();
  const Strides& ist = in.strides();
  size_t i = 0, o = 0;
  while (i < ish.size() || o < shape.size()) {
    // Skip unit dims.
    if (o < shape.size() && shape[o] == 1) { out[o++] = 0; continue; }
    if (i < ish.size() && ish[i] == 1) { ++i; continue; }
    if (i >= ish.size() || o >= shape.size()) return {};
    size_t i0 = i, o0 = o;
    int64_t ni = ish[i++], no = shape[o++];
    while (ni != no) {
      if (ni < no) {
        if (i >= ish.size()) return {};
        ni *= ish[i++];
      } else {
        if (o >= shape.size()) return {};
        no *= shape[o++];
      }
    }
    // Input dims i0..i-1 (ignoring unit dims) must be row-contiguous with each other.
    int64_t inner_stride = 0, expect = 0;
    bool first = true;
    for (size_t k = i; k-- > i0;) {
      if (ish[k] == 1) continue;
      if (first) {
        inner_stride = ist[k];
        first = false;
      } else if (ist[k] != expect) {
        return {};
      }
      expect = ist[k] * ish[k];
    }
    // Output dims o0..o-1 get row-major strides on top of the innermost input stride.
    int64_t s = inner_stride;
    for (size_t k = o; k-- > o0;) {
      out[k] = s;
      s *= shape[k];
    }
  }
  return out;
}

void Reshape::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  Strides st = view_strides(in, out.shape());
  if (st.empty()) {
    copy_contiguous(in, out);
    return;
  }
  Flags f = cpu::view_flags(out.shape(), st);
  out.copy_shared_buffer(in, st, f, f.contiguous ? out.size() : in.data_size(), in.offset());
}

void Transpose::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  Strides st;
  for (int a : axes_) st.push_back(in.strides()[a]);
  Flags f = cpu::view_flags(out.shape(), st);
  out.copy_shared_buffer(in, st, f, in.data_size(), in.offset());
}

void Slice::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  Strides st;
  int64_t off = in.offset();
  for (int d = 0; d < in.ndim(); ++d) {
    st.push_back(in.strides()[d] * step_[d]);
    if (out.size() > 0) off += start_[d] * in.strides()[d];
  }
  Flags f = cpu::view_flags(out.shape(), st);
  out.copy_shared_buffer(in, st, f, f.contiguous ? out.size() : in.data_size(), off);
}

void Broadcast::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];
  Strides st(out.ndim(), 0);
  int lead = out.ndim() - in.ndim();
  for (int d = 0; d < in.ndim(); ++d) {
    st[lead + d] = in.shape(d) == 1 ? 0 : in.strides()[d];
  }
  Flags f = cpu::view_flags(out.shape(), st);
  out.copy_shared_buffer(in, st, f, in.data_size(), in.offset());
}

void AsStrided::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& in = inputs[0];  // row-contiguous (the op makes it so)
  Flags f = cpu::view_flags(out.shape(), strides_);
  out.copy_shared_buffer(in, strides_, f, in.data_size(), in.offset() + offset_);
}

void SliceUpdate::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& upd = inputs[1];
  cpu::copy_or_donate(inputs[0], out);
  Strides st;
  int64_t off = 0;
  for (int d = 0; d < out.ndim(); ++d) {
    st.push_back(out.strides()[d] * step_[d]);
    if (upd.size() > 0) off += start_[d] * out.strides()[d];
  }
  char* base = static_cast<char*>(out.raw_data_ptr()) + off * int64_t(out.itemsize());
  cpu::copy_into(upd, base, out.dtype(), st, upd.shape());
}

void DynamicSliceUpdate::eval_cpu(const std::vector<array>& inputs, array& out) {
  const array& upd = inputs[1];
  cpu::copy_or_donate(inputs[0], out);
  if (upd.size() == 0) return;
  array start = cpu::as_row_contiguous(inputs[2]);
  int64_t off = element_offset(static_cast<const int32_t*>(start.raw_data_ptr()), out, upd);
  char* base = static_cast<char*>(out.raw_data_ptr()) + off * int64_t(out.itemsize());
  cpu::copy_into(upd, base, out.dtype(), out.strides(), upd.shape());
}

void Concatenate::eval_cpu(const std::vector<array>& inputs, array& out) {
  allocate(out);
  int64_t pos = 0;
  for (auto& in : inputs) {
    char* base = static_cast<char*>(out.raw_data_ptr()) + pos * out.strides()[axis_] * int64_t(out.itemsize());
    cpu::copy_into(in, base, out.dtype(), out.strides(), in.shape());
    pos += in.shape(axis_);
  }
}

void Depends::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(inputs[i]);
}

void CustomVjp::eval_cpu(const std::vector<array>& inputs, std::vector<array>& outputs) {
  size_t n_in = inputs.size() - outputs.size();
  for (size_t i = 0; i < outputs.size(); ++i) outputs[i].copy_shared_buffer(inputs[n_in + i]);
}

}  // namespace alloy
