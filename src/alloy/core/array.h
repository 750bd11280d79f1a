// array: a cheap-to-copy handle to a shared node. The node holds shape, strides (in elements),
// offset, dtype, a shared data buffer and, until evaluated, the primitive that makes it and the
// primitive's inputs. Views share the buffer of their source.
#pragma once

#include <atomic>
#include <exception>
#include <mutex>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "alloy/core/device.h"
#include "alloy/core/dtype.h"
#include "alloy/core/memory.h"

namespace alloy {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

class Primitive;
class array;

// A buffer and whoever frees it: the allocator, a user deleter, or an unmapping. `home` is the
// device whose memory holds `buffer`. Unified-memory semantics: the first use on the other device
// makes a copy there (`mirror`, owned by the backend that made it) that later uses reuse. Arrays
// are immutable once evaluated, so a mirror never goes stale; a buffer with a mirror is never
// donated (see array::is_donatable).
struct Data {
  allocator::Buffer buffer;
  std::function<void(allocator::Buffer)> deleter;
  Device::Type home = Device::cpu;
  std::mutex mirror_mutex;
  std::shared_ptr<void> mirror;
  Data(allocator::Buffer b, std::function<void(allocator::Buffer)> d, Device::Type h = Device::cpu)
      : buffer(b), deleter(std::move(d)), home(h) {}
  Data(const Data&) = delete;
  Data& operator=(const Data&) = delete;
  ~Data() {
    mirror.reset();
    if (deleter) deleter(buffer);
  }
};

// contiguous: the elements fill a dense block in some order (no holes, no repeats);
// row_contiguous / col_contiguous: that order is C / Fortran order.
struct Flags {
  bool contiguous = true;
  bool row_contiguous = true;
  bool col_contiguous = true;
};

Strides row_major_strides(const Shape& shape);
size_t shape_size(const Shape& shape);  // product; throws on overflow

class array {
 public:
  enum class Status : uint8_t { unscheduled, scheduled, available };

  // A C++ scalar. Its dtype is "weak": in a binary op it adapts to the other operand's dtype
  // of the same or a lower kind, so `x * 2.0f` keeps x float16.
  template <typename T>
    requires(std::is_arithmetic_v<T> || std::is_same_v<T, float16_t> ||
             std::is_same_v<T, bfloat16_t>)
  array(T value) : array(&value, Shape{}, dtype_of<T>, dtype_of<T>) {
    desc_->weak = true;
  }
  template <typename T>
  array(T value, Dtype dtype) : array(&value, Shape{}, dtype_of<T>, dtype) {}

  // 1-D from a list, or reshaped to `shape`; values are converted to `dtype`.
  template <typename T>
  array(std::initializer_list<T> values)
      : array(values.begin(), Shape{int64_t(values.size())}, dtype_of<T>, dtype_of<T>) {}
  template <typename T>
  array(std::initializer_list<T> values, Shape shape)
      : array(values.begin(), checked(shape, values.size()), dtype_of<T>, dtype_of<T>) {}
  template <typename T>
  array(std::initializer_list<T> values, Shape shape, Dtype dtype)
      : array(values.begin(), checked(shape, values.size()), dtype_of<T>, dtype) {}
  template <typename T>
  array(const std::vector<T>& values, Shape shape)
      : array(values.data(), checked(shape, values.size()), dtype_of<T>, dtype_of<T>) {}
  template <typename T>
  array(const std::vector<T>& values, Shape shape, Dtype dtype)
      : array(values.data(), checked(shape, values.size()), dtype_of<T>, dtype) {}
  // Copies `shape_size(shape)` elements from `ptr`.
  template <typename T>
  array(const T* ptr, Shape shape) : array(ptr, std::move(shape), dtype_of<T>, dtype_of<T>) {}

  // Wraps memory without copying; `deleter(ptr)` runs when the last user lets go.
  array(void* ptr, Shape shape, Dtype dtype, std::function<void(void*)> deleter);

  // A node computed by `primitive` from `inputs` (used by ops).
  array(Shape shape, Dtype dtype, std::shared_ptr<Primitive> primitive, std::vector<array> inputs);
  // Several outputs of one primitive; each knows the others as siblings.
  static std::vector<array> make_arrays(std::vector<Shape> shapes, const std::vector<Dtype>& dtypes,
                                        const std::shared_ptr<Primitive>& primitive,
                                        const std::vector<array>& inputs);

  array(const array&) = default;
  array(array&&) = default;
  array& operator=(const array&) = default;
  array& operator=(array&&) = default;
  // Assigning a scalar replaces the handle (`a = 0.0f` is `a = array(0.0f)`).

  Dtype dtype() const { return desc_->dtype; }
  bool is_weak() const { return desc_->weak; }
  const Shape& shape() const { return desc_->shape; }
  int64_t shape(int dim) const;  // negative dims count from the end
  const Strides& strides() const { return desc_->strides; }
  int64_t strides(int dim) const;
  int ndim() const { return int(desc_->shape.size()); }
  size_t size() const { return desc_->size; }
  size_t itemsize() const { return size_of(dtype()); }
  size_t nbytes() const { return size() * itemsize(); }
  int64_t offset() const { return desc_->offset; }
  // Number of elements the buffer region of this array spans (for contiguous arrays, what a
  // kernel loops over: 1 for a broadcast scalar).
  size_t data_size() const { return desc_->data_size; }
  const Flags& flags() const { return desc_->flags; }

  // Evaluates if needed and waits. item() needs a single element.
  void eval();
  template <typename T>
  T item();
  // Host pointer to the first element (after eval); follows strides(), not necessarily
  // contiguous. For an array made on the GPU this is a host copy made on first use: read it,
  // do not write it.
  template <typename T>
  T* data() {
    eval();
    return static_cast<T*>(raw_data_ptr());
  }
  template <typename T>
  const T* data() const {
    const_cast<array*>(this)->eval();
    return static_cast<const T*>(const_cast<array*>(this)->raw_data_ptr());
  }
  // Elements in row-major order as T, whatever the strides (evaluates).
  template <typename T>
  std::vector<T> to_vector() const {
    std::vector<T> out(size());
    copy_elements_to(out.data(), dtype_of<T>);
    return out;
  }
  // Writes the elements in row-major order, converted to `dst_dtype` (evaluates).
  void copy_elements_to(void* dst, Dtype dst_dtype) const;

  // --- graph and status (for ops, transforms and backends) ---
  uintptr_t id() const { return reinterpret_cast<uintptr_t>(desc_.get()); }
  bool has_primitive() const { return desc_->primitive != nullptr; }
  Primitive& primitive() const { return *desc_->primitive; }
  const std::shared_ptr<Primitive>& primitive_ptr() const { return desc_->primitive; }
  const std::vector<array>& inputs() const { return desc_->inputs; }
  std::vector<array>& inputs() { return desc_->inputs; }
  // The other outputs of this array's primitive, and all outputs in order.
  std::vector<array> siblings() const;
  std::vector<array> outputs() const;
  int sibling_position() const { return desc_->position; }
  Status status() const { return desc_->status.load(std::memory_order_acquire); }
  void set_status(Status s) { desc_->status.store(s, std::memory_order_release); }
  bool is_available() const { return status() == Status::available; }
  // Where and when it is produced: (stream index, that stream's event counter value).
  void set_event(int stream_index, uint64_t value) {
    desc_->event_stream = stream_index;
    desc_->event_value = value;
  }
  void wait();  // blocks until a scheduled array is available; rethrows a failed eval's error
  void wait_quiet() const;  // the same without rethrowing
  void set_error(std::exception_ptr e);  // keeps the first error; safe to read concurrently
  int event_stream() const { return desc_->event_stream; }
  std::exception_ptr error() const;
  // Drops primitive, inputs and siblings (done after eval so memory is freed early).
  void detach();

  // --- data (for backends) ---
  // Host pointer to the first element (a host copy for GPU-resident data).
  void* raw_data_ptr();
  const std::shared_ptr<Data>& data_shared_ptr() const { return desc_->data; }
  // The input's buffer can be reused by an output on device `on`: only this op holds the node
  // and the data, the data lives on that device, and no copy on another device exists.
  // A GPU output also held by its own pending completion counts as held once: stream order
  // puts its kernel before any reader's.
  bool is_donatable(Device::Type on = Device::cpu) const {
    long holders = desc_->completion_pending.load(std::memory_order_acquire) ? 2 : 1;
    return desc_.use_count() == holders && desc_->data && desc_->data.use_count() == 1 &&
           desc_->data->home == on && !desc_->data->mirror;
  }
  void set_completion_pending(bool p) { desc_->completion_pending.store(p, std::memory_order_release); }
  // The device whose memory holds the data (cpu for arrays not yet evaluated).
  Device::Type data_home() const { return desc_->data ? desc_->data->home : Device::cpu; }
  // Fresh row-contiguous buffer owned by `allocator(device)`.
  void set_data(allocator::Buffer buffer, Device device);
  void set_data(std::shared_ptr<Data> data, size_t data_size, Strides strides, Flags flags,
                int64_t offset = 0);
  // A view of `other`'s buffer with this array's shape.
  void copy_shared_buffer(const array& other, Strides strides, Flags flags, size_t data_size,
                          int64_t offset);
  void copy_shared_buffer(const array& other);  // same layout as other
  void move_shared_buffer(array other);         // steal a donated buffer, same layout

  int use_count() const { return int(desc_.use_count()); }

 private:
  template <typename T>
  array(const T* ptr, Shape shape, Dtype src_dtype, Dtype dtype) : desc_(make_desc(shape, dtype)) {
    init_from(ptr, src_dtype);
  }
  static Shape checked(Shape shape, size_t n);
  void init_from(const void* src, Dtype src_dtype);

  struct ArrayDesc {
    Shape shape;
    Strides strides;
    size_t size = 0;
    Dtype dtype = float32;
    bool weak = false;
    std::shared_ptr<Primitive> primitive;
    std::vector<array> inputs;
    std::vector<std::weak_ptr<ArrayDesc>> siblings;  // weak: no ownership cycle
    int position = 0;
    std::shared_ptr<Data> data;
    int64_t offset = 0;
    size_t data_size = 0;
    Flags flags;
    std::atomic<Status> status{Status::unscheduled};
    std::atomic<bool> completion_pending{false};  // held by a GPU completion not yet run
    int event_stream = -1;
    uint64_t event_value = 0;
    std::exception_ptr error;  // set when the primitive (or one it depends on) failed
    std::atomic<bool> has_error{false};  // published after `error`: set once, read from any thread
    ~ArrayDesc();  // iterative teardown: a 200,000-node chain must not recurse
  };
  static std::shared_ptr<ArrayDesc> make_desc(Shape shape, Dtype dtype);
  explicit array(std::shared_ptr<ArrayDesc> d) : desc_(std::move(d)) {}
  std::shared_ptr<ArrayDesc> desc_;

  friend struct ArrayDescAccess;
};

// Prints like NumPy: array([[1, 2], [3, 4]], dtype=int32). Evaluates.
std::ostream& operator<<(std::ostream& os, array a);

template <typename T>
T array::item() {
  if (size() != 1) {
    throw std::invalid_argument("[item] the array has " + std::to_string(size()) +
                                " elements; item() needs exactly one");
  }
  eval();
  T out{};
  dispatch_dtype(dtype(), [&](auto v) {
    using Src = decltype(v);
    Src s = *static_cast<Src*>(raw_data_ptr());
    if constexpr (std::is_same_v<Src, float16_t> || std::is_same_v<Src, bfloat16_t>) {
      out = static_cast<T>(float(s));
    } else {
      out = static_cast<T>(s);
    }
  });
  return out;
}

}  // namespace alloy
