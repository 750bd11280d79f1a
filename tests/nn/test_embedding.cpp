// Embedding against PyTorch (lookup and as_linear, with repeated indices accumulating gradients),
// index dtypes and shapes, out-of-range indices, errors.
#include <gtest/gtest.h>

#include "alloy/nn/nn.h"
#include "torch_reference.h"

namespace alloy {
namespace {

TEST(Embedding, MatchesTorch) {
  ALLOY_REQUIRE_TORCH();
  nn::Embedding e(10, 4);
  test::expect_matches_torch(e, "embedding");
  nn::Embedding tied(10, 4);
  test::TorchCase c = test::torch_case("embedding_as_linear");
  test::expect_matches_torch(tied, c, [&](const std::vector<array>& in) { return tied.as_linear(in[0]); });
}

TEST(Embedding, AnyIntegerDtypeAndShape) {
  nn::Embedding e(6, 3);
  std::vector<int64_t> idx{5, 0, 2, 2, 1, 4};
  array ref = e(array(idx, Shape{2, 3}));
  EXPECT_EQ(ref.shape(), (Shape{2, 3, 3}));
  for (Dtype t : {int8, int16, int32, uint8, uint16, uint32, uint64}) {
    EXPECT_TRUE(array_equal(e(astype(array(idx, Shape{2, 3}), t)), ref)) << dtype_name(t);
  }
  // A scalar index gives one row; rows are the weight's.
  array row = e(array(int32_t(4)));
  EXPECT_EQ(row.shape(), (Shape{3}));
  EXPECT_TRUE(array_equal(row, reshape(slice(e.weight, {4, 0}, {5, 3}), {3})));
  EXPECT_EQ(e(zeros({2, 1, 4}, int32)).shape(), (Shape{2, 1, 4, 3}));
  EXPECT_EQ(e.as_linear(ones({2, 5, 3})).shape(), (Shape{2, 5, 6}));
  EXPECT_EQ(e.describe(), "Embedding(6, 3)");
  EXPECT_EQ(e.parameters().names(), (std::vector<std::string>{"weight"}));
  EXPECT_EQ(nn::Embedding(4, 2, bfloat16).weight.dtype(), bfloat16);
}

TEST(Embedding, OutOfRangeIndicesThrowAtEvalNotCrash) {
  nn::Embedding e(5, 2);
  // take's rule: negative indices count from the end.
  EXPECT_TRUE(array_equal(e(array(int32_t(-1))), e(array(int32_t(4)))));
  array bad = e(array(std::vector<int32_t>{1, 5}, {2}));  // lazy: checked when evaluated
  EXPECT_THROW(bad.eval(), std::out_of_range);
  EXPECT_THROW(e(array(std::vector<int64_t>{-6}, {1})).eval(), std::out_of_range);
  EXPECT_THROW(e(array(std::vector<uint8_t>{200}, {1})).eval(), std::out_of_range);
}

TEST(Embedding, Errors) {
  EXPECT_THROW(nn::Embedding(0, 3), std::invalid_argument);
  EXPECT_THROW(nn::Embedding(3, 0), std::invalid_argument);
  EXPECT_THROW(nn::Embedding(3, 2, int32), std::invalid_argument);
  nn::Embedding e(5, 2);
  EXPECT_THROW(e(ones({3})), std::invalid_argument);  // float indices
  EXPECT_THROW(e(array(true)), std::invalid_argument);
  EXPECT_THROW(e.as_linear(ones({2, 3})), std::invalid_argument);
  EXPECT_THROW(e.as_linear(array(1.0f)), std::invalid_argument);
}

}  // namespace
}  // namespace alloy
