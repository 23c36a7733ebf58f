#include "libs/rpc/tensor_stream.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"

namespace flsailer::rpc {

bool SendTensor(const std::vector<double>& values, const v1::MessageHeader& header,
                const std::string& name, double weight,
                const std::function<bool(const v1::TensorChunk&)>& send, int64_t chunk_elements,
                v1::TensorEncoding encoding) {
  const int64_t total = static_cast<int64_t>(values.size());
  const bool single = encoding == v1::TENSOR_ENCODING_FLOAT32_LE;
  std::vector<float> narrowed;
  v1::TensorChunk chunk;
  *chunk.mutable_header() = header;
  chunk.set_tensor_name(name);
  chunk.set_encoding(single ? v1::TENSOR_ENCODING_FLOAT32_LE : v1::TENSOR_ENCODING_FLOAT64_LE);
  chunk.set_total_elements(static_cast<uint64_t>(total));
  chunk.set_weight(weight);
  int64_t offset = 0;
  do {
    const int64_t n = std::min(chunk_elements, total - offset);
    chunk.set_offset_elements(static_cast<uint64_t>(offset));
    // Little-endian hosts (x86-64, arm64): the bytes of a double or float are its wire form.
    if (n == 0) {
      chunk.clear_data();
    } else if (single) {
      narrowed.assign(values.begin() + offset, values.begin() + offset + n);
      chunk.set_data(reinterpret_cast<const char*>(narrowed.data()),
                     static_cast<size_t>(n) * sizeof(float));
    } else {
      chunk.set_data(reinterpret_cast<const char*>(values.data() + offset),
                     static_cast<size_t>(n) * sizeof(double));
    }
    offset += n;
    chunk.set_last(offset == total);
    if (!send(chunk)) return false;
  } while (offset < total);
  return true;
}

absl::Status TensorAssembler::Add(const v1::TensorChunk& chunk) {
  if (complete_) return absl::InvalidArgumentError("tensor chunk after the last one");
  if (chunk.encoding() != v1::TENSOR_ENCODING_FLOAT64_LE &&
      chunk.encoding() != v1::TENSOR_ENCODING_FLOAT32_LE) {
    return absl::InvalidArgumentError("tensor chunk is neither float64 nor float32");
  }
  if (!started_) {
    if (chunk.total_elements() > static_cast<uint64_t>(max_elements_)) {
      return absl::InvalidArgumentError(absl::StrCat("tensor of ", chunk.total_elements(),
                                                     " elements exceeds the limit of ",
                                                     max_elements_));
    }
    first_ = chunk;
    first_.clear_data();
    values_.reserve(static_cast<size_t>(chunk.total_elements()));
    started_ = true;
  } else if (!google::protobuf::util::MessageDifferencer::Equals(chunk.header(),
                                                                 first_.header()) ||
             chunk.tensor_name() != first_.tensor_name() ||
             chunk.encoding() != first_.encoding() ||
             chunk.total_elements() != first_.total_elements() ||
             !(chunk.weight() == first_.weight())) {
    return absl::InvalidArgumentError("tensor chunks disagree on header, name, weight or total");
  }
  if (chunk.offset_elements() != values_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor chunk at offset ",
                                                   chunk.offset_elements(), ", expected ",
                                                   values_.size()));
  }
  const std::string& data = chunk.data();
  const bool single = chunk.encoding() == v1::TENSOR_ENCODING_FLOAT32_LE;
  const size_t width = single ? sizeof(float) : sizeof(double);
  if (data.size() % width != 0) {
    return absl::InvalidArgumentError(absl::StrCat("tensor chunk data is not whole ",
                                                   single ? "float32" : "float64", " elements"));
  }
  const size_t n = data.size() / width;
  if (values_.size() + n > first_.total_elements()) {
    return absl::InvalidArgumentError("tensor chunks exceed the announced total");
  }
  const size_t at = values_.size();
  values_.resize(at + n);
  bytes_ += static_cast<double>(data.size());
  if (single) {
    for (size_t i = 0; i < n; ++i) {
      float f;
      std::memcpy(&f, data.data() + i * sizeof(float), sizeof(float));
      values_[at + i] = f;
    }
  } else if (n > 0) {  // memcpy from or to a null pointer is undefined even for 0 bytes
    std::memcpy(values_.data() + at, data.data(), data.size());
  }
  for (size_t i = at; i < values_.size(); ++i) {
    if (!std::isfinite(values_[i])) {
      return absl::InvalidArgumentError(absl::StrCat("non-finite tensor element at index ", i));
    }
  }
  if (chunk.last()) {
    if (values_.size() != first_.total_elements()) {
      return absl::InvalidArgumentError(absl::StrCat("last tensor chunk ends at ", values_.size(),
                                                     " of ", first_.total_elements()));
    }
    complete_ = true;
  }
  return absl::OkStatus();
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

}  // namespace flsailer::rpc
