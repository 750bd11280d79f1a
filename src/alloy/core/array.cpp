#include "alloy/core/array.h"

#include <cstring>
#include <limits>
#include <sstream>

#include "alloy/backend/gpu_api.h"
#include "alloy/core/primitives.h"
#include "alloy/core/scheduler.h"
#include "alloy/core/transforms.h"

namespace alloy {

Strides row_major_strides(const Shape& shape) {
  Strides s(shape.size(), 1);
  for (int i = int(shape.size()) - 2; i >= 0; --i) s[i] = s[i + 1] * std::max<int64_t>(shape[i + 1], 1);
  return s;
}

size_t shape_size(const Shape& shape) {
  size_t n = 1;
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("[array] negative dimension in shape " + std::to_string(d));
    if (d != 0 && n > std::numeric_limits<size_t>::max() / size_t(d)) {
      throw std::invalid_argument("[array] the shape's element count overflows");
    }
    n *= size_t(d);
  }
  return n;
}

Shape array::checked(Shape shape, size_t n) {
  if (shape_size(shape) != n) {
    std::ostringstream msg;
    msg << "[array] " << n << " values cannot fill shape (";
    for (size_t i = 0; i < shape.size(); ++i) msg << (i ? ", " : "") << shape[i];
    msg << ")";
    throw std::invalid_argument(msg.str());
  }
  return shape;
}

std::shared_ptr<array::ArrayDesc> array::make_desc(Shape shape, Dtype dtype) {
  auto d = std::make_shared<ArrayDesc>();
  d->size = shape_size(shape);
  d->strides = row_major_strides(shape);
  d->shape = std::move(shape);
  d->dtype = dtype;
  return d;
}

namespace {
template <typename Dst, typename Src>
inline Dst convert(Src v) {
  if constexpr (std::is_same_v<Src, float16_t> || std::is_same_v<Src, bfloat16_t>) {
    return static_cast<Dst>(float(v));
  } else if constexpr (std::is_same_v<Dst, float16_t> || std::is_same_v<Dst, bfloat16_t>) {
    return Dst(float(v));
  } else {
    return static_cast<Dst>(v);
  }
}

void convert_buffer(const void* src, Dtype src_dtype, void* dst, Dtype dst_dtype, size_t n) {
  if (n == 0) return;  // src may be null (an empty vector)
  if (src_dtype == dst_dtype) {
    std::memcpy(dst, src, n * size_of(src_dtype));
    return;
  }
  dispatch_dtype(src_dtype, [&](auto s) {
    using S = decltype(s);
    dispatch_dtype(dst_dtype, [&](auto d) {
      using D = decltype(d);
      auto* in = static_cast<const S*>(src);
      auto* out = static_cast<D*>(dst);
      for (size_t i = 0; i < n; ++i) out[i] = convert<D>(in[i]);
    });
  });
}
}  // namespace

void array::init_from(const void* src, Dtype src_dtype) {
  auto& alloc = allocator::cpu_allocator();
  auto buf = alloc.malloc(std::max<size_t>(nbytes(), 1));
  convert_buffer(src, src_dtype, buf.ptr, dtype(), size());
  set_data(buf, Device::cpu);
  set_status(Status::available);
}

array::array(void* ptr, Shape shape, Dtype dtype, std::function<void(void*)> deleter)
    : desc_(make_desc(std::move(shape), dtype)) {
  allocator::Buffer b{ptr, nbytes()};
  desc_->data = std::make_shared<Data>(b, [deleter = std::move(deleter)](allocator::Buffer b) {
    if (deleter) deleter(b.ptr);
  });
  desc_->data_size = size();
  desc_->status = Status::available;
}

array::array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive,
             std::vector<array> inputs)
    : desc_(make_desc(std::move(shape), dtype)) {
  desc_->primitive = std::move(primitive);
  desc_->inputs = std::move(inputs);
}

std::vector<array> array::make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                      const std::shared_ptr<Primitive>& primitive,
                                      const std::vector<array>& inputs) {
  std::vector<array> outs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    outs.emplace_back(std::move(shapes[i]), dtypes[i], primitive, inputs);
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    outs[i].desc_->position = int(i);
    for (size_t j = 0; j < outs.size(); ++j) {
      if (j != i) outs[i].desc_->siblings.push_back(outs[j].desc_);
    }
  }
  return outs;
}

array::ArrayDesc::~ArrayDesc() {
  // Tear down long chains without recursion: take over the inputs of any input that dies here.
  if (inputs.empty()) return;
  std::vector<array> pending = std::move(inputs);
  while (!pending.empty()) {
    array a = std::move(pending.back());
    pending.pop_back();
    if (a.desc_.use_count() == 1) {
      for (auto& in : a.desc_->inputs) pending.push_back(std::move(in));
      a.desc_->inputs.clear();
    }
  }
}

int64_t array::shape(int dim) const {
  int n = ndim();
  int d = dim < 0 ? dim + n : dim;
  if (d < 0 || d >= n) {
    throw std::invalid_argument("[array::shape] dimension " + std::to_string(dim) +
                                " is out of range for an array with " + std::to_string(n) +
                                " dimensions");
  }
  return desc_->shape[d];
}

int64_t array::strides(int dim) const {
  int n = ndim();
  int d = dim < 0 ? dim + n : dim;
  if (d < 0 || d >= n) {
    throw std::invalid_argument("[array::strides] dimension " + std::to_string(dim) +
                                " is out of range for an array with " + std::to_string(n) +
                                " dimensions");
  }
  return desc_->strides[d];
}

std::vector<array> array::siblings() const {
  std::vector<array> out;
  for (auto& w : desc_->siblings) {
    if (auto s = w.lock()) out.push_back(array(s));
  }
  return out;
}

std::vector<array> array::outputs() const {
  // Siblings the user dropped are recreated as placeholders so kernels can still write them.
  size_t n = desc_->siblings.size() + 1;
  std::vector<array> out;
  out.reserve(n);
  size_t k = 0;
  bool recreated = false;
  for (size_t i = 0; i < n; ++i) {
    if (int(i) == desc_->position) {
      out.push_back(*this);
      continue;
    }
    auto s = desc_->siblings[k++].lock();
    if (s) {
      out.push_back(array(s));
    } else {
      auto shapes = desc_->primitive->output_shapes(desc_->inputs);
      auto dtypes = desc_->primitive->output_dtypes(desc_->inputs);
      out.emplace_back(shapes[i], dtypes[i], desc_->primitive, desc_->inputs);
      recreated = true;
    }
  }
  if (recreated) {
    // Link the placeholders both ways, so that every output finds the same arrays while they
    // live: a gradient may hold a placeholder (attention's log-sum-exp), and the evaluation of
    // the node, reached through any of its outputs, must write that one.
    for (size_t i = 0; i < n; ++i) {
      auto& d = *out[i].desc_;
      d.position = int(i);
      d.siblings.clear();
      for (size_t j = 0; j < n; ++j) {
        if (j != i) d.siblings.push_back(out[j].desc_);
      }
    }
  }
  return out;
}

void array::eval() {
  if (status() == Status::unscheduled && has_primitive()) {
    alloy::eval({*this});
  } else {
    wait();
  }
  if (auto e = error()) std::rethrow_exception(e);
}

void array::wait_quiet() const {
  if (status() == Status::scheduled) {
    scheduler::wait_for(desc_->event_stream, desc_->event_value);
  }
}

void array::wait() {
  wait_quiet();
  if (auto e = error()) std::rethrow_exception(e);
}

void array::detach() {
  desc_->primitive = nullptr;
  desc_->inputs.clear();
  desc_->siblings.clear();
}

void* array::raw_data_ptr() {
  if (!desc_->data) {
    throw std::runtime_error("[array] the array has no data (was it evaluated?)");
  }
  void* base = desc_->data->home == Device::cpu ? desc_->data->buffer.ptr
                                                 : gpu::host_view(*desc_->data);
  return static_cast<char*>(base) + desc_->offset * int64_t(itemsize());
}

void array::set_data(allocator::Buffer buffer, Device device) {
  desc_->data = std::make_shared<Data>(
      buffer, [device](allocator::Buffer b) { allocator::allocator(device).free(b); },
      device.type);
  desc_->data_size = size();
  desc_->strides = row_major_strides(shape());
  // A shape with at most one non-unit dim is column-contiguous too.
  int non_unit = 0;
  for (auto d : shape()) non_unit += d != 1;
  desc_->flags = Flags{true, true, non_unit <= 1};
  desc_->offset = 0;
}

void array::set_data(std::shared_ptr<Data> data, size_t data_size, Strides strides, Flags flags,
                     int64_t offset) {
  desc_->data = std::move(data);
  desc_->data_size = data_size;
  desc_->strides = std::move(strides);
  desc_->flags = flags;
  desc_->offset = offset;
}

void array::copy_shared_buffer(const array& other, Strides strides, Flags flags, size_t data_size,
                               int64_t offset) {
  set_data(other.desc_->data, data_size, std::move(strides), flags, offset);
}

void array::copy_shared_buffer(const array& other) {
  copy_shared_buffer(other, other.strides(), other.flags(), other.data_size(), other.offset());
}

void array::move_shared_buffer(array other) {
  set_data(std::move(other.desc_->data), other.data_size(), other.strides(), other.flags(),
           other.offset());
}

void array::set_error(std::exception_ptr e) {
  if (desc_->has_error.load(std::memory_order_acquire)) return;  // the first error stays
  desc_->error = std::move(e);
  desc_->has_error.store(true, std::memory_order_release);
}
std::exception_ptr array::error() const {
  return desc_->has_error.load(std::memory_order_acquire) ? desc_->error : nullptr;
}

void array::copy_elements_to(void* dst, Dtype dst_dtype) const {
  array self = *this;
  self.eval();
  const char* base = static_cast<const char*>(self.raw_data_ptr());
  size_t item = itemsize();
  if (flags().row_contiguous) {
    convert_buffer(base, dtype(), dst, dst_dtype, size());
    return;
  }
  // Walk the strided layout in row-major order, one element at a time.
  size_t dst_item = size_of(dst_dtype);
  char* out = static_cast<char*>(dst);
  int nd = ndim();
  std::vector<int64_t> idx(nd, 0);
  int64_t pos = 0;
  for (size_t i = 0; i < size(); ++i) {
    convert_buffer(base + pos * int64_t(item), dtype(), out + i * dst_item, dst_dtype, 1);
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[d] < shape()[d]) {
        pos += strides()[d];
        break;
      }
      pos -= strides()[d] * (shape()[d] - 1);
      idx[d] = 0;
    }
  }
}

}  // namespace alloy
