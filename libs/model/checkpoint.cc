#include "libs/model/checkpoint.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"

namespace flsailer::model::internal {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the checkpoint format is little-endian and written with memcpy");

constexpr char kMagic[8] = {'F', 'L', 'S', 'V', 'A', 'E', '\r', '\n'};
constexpr size_t kChunkBytes = size_t{1} << 20;
// Header bounds: a corrupt header must not make the reader allocate or loop without limit.
constexpr uint32_t kMaxEntries = 4096;
constexpr uint32_t kMaxNameLength = 256;
constexpr uint32_t kMaxDims = 4;

// Serialises the header into a byte string.
class HeaderWriter {
 public:
  template <typename T>
  void Put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    out_.append(bytes, sizeof(T));
  }
  void PutString(const std::string& s) {
    Put<uint32_t>(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void PutSizes(const std::vector<int32_t>& v) {
    Put<uint32_t>(static_cast<uint32_t>(v.size()));
    for (int32_t x : v) Put<int32_t>(x);
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

std::string EncodeHeader(const CheckpointHeader& h) {
  HeaderWriter w;
  w.bytes().append(kMagic, sizeof(kMagic));
  w.Put<uint32_t>(kCheckpointFormatVersion);
  const VaeConfig& c = h.config;
  w.Put<int32_t>(c.input_dim);
  w.PutSizes(c.encoder_hidden);
  w.PutSizes(c.decoder_hidden);
  w.Put<int32_t>(c.latent_dim);
  w.Put<int32_t>(c.num_batches);
  w.Put<uint8_t>(c.depth_covariate ? 1 : 0);
  w.Put<float>(c.leaky_relu_slope);
  w.Put<float>(c.pos_weight);
  w.Put<float>(c.mi_lambda);
  w.Put<float>(c.kl_beta);
  w.Put<uint8_t>(static_cast<uint8_t>(c.input_weighting));
  w.Put<uint8_t>(static_cast<uint8_t>(c.mi_bound));
  w.Put<float>(c.shallow_cell_weight_cap);
  w.Put<int32_t>(h.layout.version);
  w.Put<uint32_t>(static_cast<uint32_t>(h.layout.entries.size()));
  for (const ParameterLayout::Entry& e : h.layout.entries) {
    w.PutString(e.name);
    w.Put<uint32_t>(static_cast<uint32_t>(e.shape.size()));
    for (int64_t d : e.shape) w.Put<int64_t>(d);
    w.Put<int64_t>(e.offset);
    w.Put<uint8_t>(e.buffer ? 1 : 0);
  }
  w.Put<int64_t>(h.layout.size);
  w.Put<int32_t>(h.epochs_trained);
  w.Put<uint8_t>(h.optimizer.empty() ? 0 : 1);
  for (const EntryOptimizerState& s : h.optimizer) {
    w.Put<uint8_t>(static_cast<uint8_t>(s.kind));
    w.Put<int64_t>(s.step);
  }
  return std::move(w.bytes());
}

// Reads a file front to back, keeping the running CRC and naming the offset of any failure.
class CheckedReader {
 public:
  CheckedReader(std::string path, FILE* file) : path_(std::move(path)), file_(file) {}
  ~CheckedReader() { std::fclose(file_); }

  absl::Status Read(void* dst, size_t n, absl::string_view what) {
    char* out = static_cast<char*>(dst);
    while (n > 0) {
      const size_t chunk = std::min(n, kChunkBytes);
      const size_t got = std::fread(out, 1, chunk, file_);
      crc_ = crc32(crc_, reinterpret_cast<const Bytef*>(out), static_cast<uInt>(got));
      offset_ += got;
      if (got != chunk) {
        return absl::DataLossError(absl::StrCat(path_, ": truncated at byte ", offset_,
                                                " while reading ", what));
      }
      out += chunk;
      n -= chunk;
    }
    return absl::OkStatus();
  }
  template <typename T>
  absl::StatusOr<T> Get(absl::string_view what) {
    T v;
    FLS_RETURN_IF_ERROR(Read(&v, sizeof(T), what));
    return v;
  }
  absl::StatusOr<std::vector<int32_t>> GetSizes(absl::string_view what) {
    FLS_ASSIGN_OR_RETURN(uint32_t n, Get<uint32_t>(what));
    if (n > 64) return Corrupt(absl::StrCat(what, " claims ", n, " layers"));
    std::vector<int32_t> v(n);
    if (n > 0) FLS_RETURN_IF_ERROR(Read(v.data(), n * sizeof(int32_t), what));
    return v;
  }
  absl::Status Corrupt(absl::string_view message) const {
    return absl::DataLossError(
        absl::StrCat(path_, ": corrupt checkpoint at byte ", offset_, ": ", message));
  }
  uint32_t crc() const { return static_cast<uint32_t>(crc_); }
  int64_t offset() const { return offset_; }

 private:
  std::string path_;
  FILE* file_;
  uLong crc_ = crc32(0, Z_NULL, 0);
  int64_t offset_ = 0;
};

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status CompareLayouts(const std::string& path, const ParameterLayout& stored,
                            const ParameterLayout& expected) {
  if (stored.version != expected.version) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": parameter layout version ",
                                                      stored.version, ", this build reads ",
                                                      expected.version));
  }
  if (stored.entries.size() != expected.entries.size()) {
    return absl::DataLossError(absl::StrCat(path, ": layout has ", stored.entries.size(),
                                            " entries but its configuration implies ",
                                            expected.entries.size()));
  }
  for (size_t k = 0; k < stored.entries.size(); ++k) {
    const ParameterLayout::Entry& a = stored.entries[k];
    const ParameterLayout::Entry& b = expected.entries[k];
    if (a.name != b.name || a.shape != b.shape || a.offset != b.offset || a.buffer != b.buffer) {
      return absl::DataLossError(absl::StrCat(
          path, ": layout entry ", k, " is '", a.name, "' ", ShapeString(a.shape), " at ",
          a.offset, " but the configuration implies '", b.name, "' ", ShapeString(b.shape),
          " at ", b.offset));
    }
  }
  if (stored.size != expected.size) {
    return absl::DataLossError(absl::StrCat(path, ": layout size ", stored.size,
                                            " but the configuration implies ", expected.size));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteCheckpoint(const std::string& path, const CheckpointHeader& header,
                             const CheckpointArrays& arrays) {
  FLS_ASSIGN_OR_RETURN(std::unique_ptr<AtomicOutputFile> out, AtomicOutputFile::Create(path));
  uLong crc = crc32(0, Z_NULL, 0);
  // Large arrays go out in chunks so that the writer's buffer never copies a whole array.
  auto write = [&](const void* data, size_t n) -> absl::Status {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      const size_t chunk = std::min(n, kChunkBytes);
      crc = crc32(crc, reinterpret_cast<const Bytef*>(p), static_cast<uInt>(chunk));
      FLS_RETURN_IF_ERROR(out->Write(absl::string_view(p, chunk)));
      p += chunk;
      n -= chunk;
    }
    return absl::OkStatus();
  };
  const std::string head = EncodeHeader(header);
  FLS_RETURN_IF_ERROR(write(head.data(), head.size()));
  const size_t bytes = static_cast<size_t>(header.layout.size) * sizeof(float);
  FLS_RETURN_IF_ERROR(write(arrays.params, bytes));
  if (!header.optimizer.empty()) {
    FLS_RETURN_IF_ERROR(write(arrays.first_moment, bytes));
    FLS_RETURN_IF_ERROR(write(arrays.second_moment, bytes));
  }
  const uint32_t final_crc = static_cast<uint32_t>(crc);
  FLS_RETURN_IF_ERROR(out->Write(
      absl::string_view(reinterpret_cast<const char*>(&final_crc), sizeof(final_crc))));
  return out->Close();
}

absl::StatusOr<CheckpointHeader> ReadCheckpoint(
    const std::string& path,
    const std::function<absl::StatusOr<CheckpointArrays>(const CheckpointHeader&)>& make_arrays) {
  FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  CheckedReader in(path, file);
  if (std::fseek(file, 0, SEEK_END) != 0) {
    return absl::DataLossError(absl::StrCat(path, ": cannot seek"));
  }
  const long file_size = std::ftell(file);  // NOLINT(runtime/int): ftell's type
  std::rewind(file);

  char magic[sizeof(kMagic)];
  FLS_RETURN_IF_ERROR(in.Read(magic, sizeof(magic), "the magic number"));
  if (std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not an FL-Sailer model checkpoint (bad magic number)"));
  }
  FLS_ASSIGN_OR_RETURN(uint32_t version, in.Get<uint32_t>("the format version"));
  if (version < 1 || version > kCheckpointFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": checkpoint format version ",
                                                      version, ", this build reads 1 to ",
                                                      kCheckpointFormatVersion));
  }

  CheckpointHeader h;
  VaeConfig& c = h.config;
  FLS_ASSIGN_OR_RETURN(c.input_dim, in.Get<int32_t>("the configuration"));
  FLS_ASSIGN_OR_RETURN(c.encoder_hidden, in.GetSizes("encoder sizes"));
  FLS_ASSIGN_OR_RETURN(c.decoder_hidden, in.GetSizes("decoder sizes"));
  FLS_ASSIGN_OR_RETURN(c.latent_dim, in.Get<int32_t>("the configuration"));
  FLS_ASSIGN_OR_RETURN(c.num_batches, in.Get<int32_t>("the configuration"));
  FLS_ASSIGN_OR_RETURN(uint8_t depth, in.Get<uint8_t>("the configuration"));
  if (depth > 1) return in.Corrupt("depth_covariate flag is not 0 or 1");
  c.depth_covariate = depth == 1;
  FLS_ASSIGN_OR_RETURN(c.leaky_relu_slope, in.Get<float>("the configuration"));
  FLS_ASSIGN_OR_RETURN(c.pos_weight, in.Get<float>("the configuration"));
  FLS_ASSIGN_OR_RETURN(c.mi_lambda, in.Get<float>("the configuration"));
  FLS_ASSIGN_OR_RETURN(c.kl_beta, in.Get<float>("the configuration"));
  FLS_ASSIGN_OR_RETURN(uint8_t weighting, in.Get<uint8_t>("the configuration"));
  if (weighting > static_cast<uint8_t>(InputWeighting::kTfIdf)) {
    return in.Corrupt("unknown input weighting");
  }
  c.input_weighting = static_cast<InputWeighting>(weighting);
  c.mi_bound = MiBound::kPairwiseKl;  // version 1 had no other
  if (version >= 2) {
    FLS_ASSIGN_OR_RETURN(uint8_t bound, in.Get<uint8_t>("the configuration"));
    if (bound > static_cast<uint8_t>(MiBound::kMinibatchMixture)) {
      return in.Corrupt("unknown mutual-information bound");
    }
    c.mi_bound = static_cast<MiBound>(bound);
  }
  c.shallow_cell_weight_cap = 1.0f;  // versions 1 and 2 had none
  if (version >= 3) {
    FLS_ASSIGN_OR_RETURN(c.shallow_cell_weight_cap, in.Get<float>("the configuration"));
  }
  if (absl::Status s = c.Validate(); !s.ok()) {
    return in.Corrupt(absl::StrCat("invalid configuration: ", s.message()));
  }

  ParameterLayout& layout = h.layout;
  FLS_ASSIGN_OR_RETURN(layout.version, in.Get<int32_t>("the layout"));
  FLS_ASSIGN_OR_RETURN(uint32_t entries, in.Get<uint32_t>("the layout"));
  if (entries > kMaxEntries) return in.Corrupt(absl::StrCat("layout claims ", entries, " entries"));
  layout.entries.resize(entries);
  for (ParameterLayout::Entry& e : layout.entries) {
    FLS_ASSIGN_OR_RETURN(uint32_t length, in.Get<uint32_t>("a layout entry"));
    if (length > kMaxNameLength) return in.Corrupt("layout entry name too long");
    e.name.resize(length);
    FLS_RETURN_IF_ERROR(in.Read(e.name.data(), length, "a layout entry"));
    FLS_ASSIGN_OR_RETURN(uint32_t ndim, in.Get<uint32_t>("a layout entry"));
    if (ndim > kMaxDims) return in.Corrupt(absl::StrCat("layout entry '", e.name, "' has ", ndim,
                                                        " dimensions"));
    e.shape.resize(ndim);
    for (int64_t& d : e.shape) {
      FLS_ASSIGN_OR_RETURN(d, in.Get<int64_t>("a layout entry"));
    }
    FLS_ASSIGN_OR_RETURN(e.offset, in.Get<int64_t>("a layout entry"));
    FLS_ASSIGN_OR_RETURN(uint8_t buffer, in.Get<uint8_t>("a layout entry"));
    e.buffer = buffer != 0;
  }
  FLS_ASSIGN_OR_RETURN(layout.size, in.Get<int64_t>("the layout"));
  FLS_RETURN_IF_ERROR(CompareLayouts(path, layout, LayoutForConfig(c)));

  FLS_ASSIGN_OR_RETURN(h.epochs_trained, in.Get<int32_t>("the training state"));
  if (h.epochs_trained < 0) return in.Corrupt("negative epoch count");
  FLS_ASSIGN_OR_RETURN(uint8_t has_optimizer, in.Get<uint8_t>("the training state"));
  if (has_optimizer > 1) return in.Corrupt("optimizer-state flag is not 0 or 1");
  if (has_optimizer == 1) {
    h.optimizer.resize(layout.entries.size());
    for (EntryOptimizerState& s : h.optimizer) {
      FLS_ASSIGN_OR_RETURN(uint8_t kind, in.Get<uint8_t>("the optimizer state"));
      if (kind > static_cast<uint8_t>(OptimizerKind::kMuon)) {
        return in.Corrupt("unknown optimizer kind");
      }
      s.kind = static_cast<OptimizerKind>(kind);
      FLS_ASSIGN_OR_RETURN(s.step, in.Get<int64_t>("the optimizer state"));
      if (s.step < 0) return in.Corrupt("negative optimizer step count");
    }
  }

  // The header is plausible; the data must fill the rest of the file exactly.
  const int64_t arrays = has_optimizer == 1 ? 3 : 1;
  const int64_t expected = in.offset() + arrays * layout.size * int64_t{sizeof(float)} +
                           int64_t{sizeof(uint32_t)};
  if (file_size != expected) {
    return absl::DataLossError(absl::StrCat(path, ": ", file_size < expected ? "truncated" :
                                                  "trailing data", ": file has ", file_size,
                                            " bytes, its header implies ", expected));
  }
  FLS_ASSIGN_OR_RETURN(CheckpointArrays dst, make_arrays(h));
  const size_t bytes = static_cast<size_t>(layout.size) * sizeof(float);
  FLS_RETURN_IF_ERROR(in.Read(dst.params, bytes, "the parameters"));
  if (has_optimizer == 1) {
    FLS_RETURN_IF_ERROR(in.Read(dst.first_moment, bytes, "the optimizer state"));
    FLS_RETURN_IF_ERROR(in.Read(dst.second_moment, bytes, "the optimizer state"));
  }
  const uint32_t computed = in.crc();
  FLS_ASSIGN_OR_RETURN(uint32_t stored, in.Get<uint32_t>("the checksum"));
  if (stored != computed) {
    return absl::DataLossError(absl::StrCat(path, ": checksum mismatch (stored ", stored,
                                            ", computed ", computed, "): the file is corrupt"));
  }
  for (int64_t k = 0; k < layout.size; ++k) {
    if (!std::isfinite(dst.params[k])) {
      return absl::DataLossError(absl::StrCat(path, ": parameter ", k, " is not finite"));
    }
  }
  return h;
}

}  // namespace flsailer::model::internal
