#include "libs/rpc/tensor_stream.h"

#include <cmath>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::rpc {
namespace {

using ::testing::HasSubstr;

std::vector<v1::TensorChunk> Chunks(const std::vector<double>& values, int64_t per_chunk) {
  v1::MessageHeader header;
  header.mutable_job_id()->set_value("job-1");
  header.set_step(4);
  std::vector<v1::TensorChunk> chunks;
  SendTensor(values, header, "model", 2.5,
             [&chunks](const v1::TensorChunk& c) {
               chunks.push_back(c);
               return true;
             },
             per_chunk);
  return chunks;
}

TEST(TensorStreamTest, RoundTripsInChunks) {
  std::vector<double> values(10);
  for (int i = 0; i < 10; ++i) values[i] = i * 0.5 - 1;
  const auto chunks = Chunks(values, 3);
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_TRUE(chunks.back().last());
  TensorAssembler assembler(100);
  for (const auto& c : chunks) ASSERT_TRUE(assembler.Add(c).ok());
  ASSERT_TRUE(assembler.complete());
  EXPECT_EQ(assembler.name(), "model");
  EXPECT_EQ(assembler.weight(), 2.5);
  EXPECT_EQ(assembler.header().step(), 4u);
  EXPECT_EQ(assembler.Take(), values);
}

TEST(TensorStreamTest, Float32HalvesTheBytesAndRoundTripsFloats) {
  const std::vector<double> values = {0.5, -1.25, 3e-8, 1e30};  // exactly representable floats
  v1::MessageHeader header;
  std::vector<v1::TensorChunk> chunks;
  ASSERT_TRUE(SendTensor(values, header, "model", 0,
                         [&chunks](const v1::TensorChunk& c) {
                           chunks.push_back(c);
                           return true;
                         },
                         3, v1::TENSOR_ENCODING_FLOAT32_LE));
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].data().size(), 3 * sizeof(float));
  TensorAssembler assembler(100);
  for (const auto& c : chunks) ASSERT_TRUE(assembler.Add(c).ok());
  std::vector<double> got = assembler.Take();
  ASSERT_EQ(got.size(), values.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], static_cast<float>(values[i]));
  // Chunks of one tensor may not switch encodings.
  TensorAssembler mixed(100);
  ASSERT_TRUE(mixed.Add(chunks[0]).ok());
  v1::TensorChunk wide = chunks[1];
  wide.set_encoding(v1::TENSOR_ENCODING_FLOAT64_LE);
  wide.set_data(std::string(sizeof(double), '\0'));
  EXPECT_THAT(mixed.Add(wide).message(), HasSubstr("disagree"));
}

TEST(TensorStreamTest, EmptyTensorIsOneLastChunk) {
  const auto chunks = Chunks({}, 3);
  ASSERT_EQ(chunks.size(), 1u);
  TensorAssembler assembler(100);
  ASSERT_TRUE(assembler.Add(chunks[0]).ok());
  EXPECT_TRUE(assembler.complete());
  EXPECT_TRUE(assembler.Take().empty());
}

TEST(TensorStreamTest, RefusesMalformedStreams) {
  const std::vector<double> values = {1, 2, 3, 4, 5};
  auto chunks = Chunks(values, 2);  // offsets 0, 2, 4
  {
    TensorAssembler a(4);
    EXPECT_THAT(a.Add(chunks[0]).message(), HasSubstr("exceeds the limit"));
  }
  {
    TensorAssembler a(100);
    ASSERT_TRUE(a.Add(chunks[0]).ok());
    EXPECT_THAT(a.Add(chunks[2]).message(), HasSubstr("offset 4, expected 2"));
  }
  {
    TensorAssembler a(100);
    ASSERT_TRUE(a.Add(chunks[0]).ok());
    v1::TensorChunk other = chunks[1];
    other.mutable_header()->set_step(5);
    EXPECT_THAT(a.Add(other).message(), HasSubstr("disagree"));
  }
  {
    TensorAssembler a(100);
    v1::TensorChunk odd = chunks[0];
    odd.mutable_data()->pop_back();
    EXPECT_THAT(a.Add(odd).message(), HasSubstr("whole float64"));
  }
  {
    TensorAssembler a(100);
    v1::TensorChunk nan = chunks[0];
    const double bad = std::nan("");
    nan.mutable_data()->replace(8, 8, reinterpret_cast<const char*>(&bad), 8);
    EXPECT_THAT(a.Add(nan).message(), HasSubstr("non-finite tensor element at index 1"));
  }
  {
    TensorAssembler a(100);
    v1::TensorChunk early = chunks[0];
    early.set_last(true);
    EXPECT_THAT(a.Add(early).message(), HasSubstr("ends at 2 of 5"));
  }
  {
    TensorAssembler a(100);
    v1::TensorChunk f32 = chunks[0];
    f32.set_encoding(v1::TENSOR_ENCODING_UINT32_LE);
    EXPECT_THAT(a.Add(f32).message(), HasSubstr("neither float64 nor float32"));
  }
  {
    TensorAssembler a(100);
    for (const auto& c : chunks) ASSERT_TRUE(a.Add(c).ok());
    EXPECT_THAT(a.Add(chunks[2]).message(), HasSubstr("after the last"));
  }
}

}  // namespace
}  // namespace flsailer::rpc
