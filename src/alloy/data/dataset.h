// Datasets: indexed collections of examples, read a batch at a time. An example is a tuple of
// fields (image, label, ...); a batch stacks the fields of several examples along a new first
// axis: one array per field.
#pragma once

#include <cstdint>
#include <vector>

#include "alloy/core/array.h"

namespace alloy::data {

using Batch = std::vector<array>;

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // The examples at `indices` (each in [0, size())). Called from the loader's thread: it must
  // not touch state another thread writes.
  virtual Batch get_batch(const std::vector<int64_t>& indices) const = 0;
};

// Arrays that share their first dimension; example i is row i of each. Batches are gathered
// by copying rows on the host, so they are ready (evaluated) when returned.
class TensorDataset : public Dataset {
 public:
  explicit TensorDataset(std::vector<array> fields);
  int64_t size() const override { return size_; }
  Batch get_batch(const std::vector<int64_t>& indices) const override;
  const std::vector<array>& fields() const { return fields_; }

 private:
  std::vector<array> fields_;  // each contiguous, evaluated
  int64_t size_ = 0;
};

// The first `n` examples of a dataset (n is clamped to its size), e.g. a quick subset for tests.
class Subset : public Dataset {
 public:
  Subset(const Dataset& base, int64_t n) : base_(base), size_(n < base.size() ? n : base.size()) {}
  int64_t size() const override { return size_; }
  Batch get_batch(const std::vector<int64_t>& indices) const override { return base_.get_batch(indices); }

 private:
  const Dataset& base_;
  int64_t size_;
};

}  // namespace alloy::data
