#include "alloy/data/dataset.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "alloy/core/ops.h"

namespace alloy::data {

TensorDataset::TensorDataset(std::vector<array> fields) {
  if (fields.empty()) throw std::invalid_argument("[TensorDataset] needs at least one array");
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].ndim() == 0) throw std::invalid_argument("[TensorDataset] field " + std::to_string(i) + " is a scalar");
    if (fields[i].shape(0) != fields[0].shape(0)) {
      throw std::invalid_argument("[TensorDataset] field " + std::to_string(i) + " has " +
                                  std::to_string(fields[i].shape(0)) + " rows, field 0 has " +
                                  std::to_string(fields[0].shape(0)));
    }
    fields[i] = contiguous(fields[i]);
    fields[i].eval();
  }
  size_ = fields[0].shape(0);
  fields_ = std::move(fields);
}

Batch TensorDataset::get_batch(const std::vector<int64_t>& indices) const {
  Batch out;
  out.reserve(fields_.size());
  for (const array& f : fields_) {
    Shape shape = f.shape();
    shape[0] = int64_t(indices.size());
    const size_t row_bytes = f.nbytes() / size_t(size_);
    std::vector<uint8_t> bytes(row_bytes * indices.size());
    // The fields are contiguous and evaluated: rows are plain byte ranges.
    const uint8_t* src = static_cast<const uint8_t*>(const_cast<array&>(f).raw_data_ptr());
    for (size_t i = 0; i < indices.size(); ++i) {
      if (indices[i] < 0 || indices[i] >= size_) {
        throw std::out_of_range("[TensorDataset] index " + std::to_string(indices[i]) + " is outside [0, " +
                                std::to_string(size_) + ")");
      }
      std::memcpy(bytes.data() + i * row_bytes, src + size_t(indices[i]) * row_bytes, row_bytes);
    }
    auto* owned = new std::vector<uint8_t>(std::move(bytes));
    out.push_back(array(owned->data(), shape, f.dtype(), [owned](void*) { delete owned; }));
  }
  return out;
}

}  // namespace alloy::data
