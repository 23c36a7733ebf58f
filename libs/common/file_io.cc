#include "libs/common/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"

namespace flsailer {
namespace {

constexpr size_t kInitialBuffer = size_t{4} << 20;
// A line longer than this is malformed input, not something to buffer without bound.
constexpr size_t kMaxLineBytes = size_t{256} << 20;
constexpr size_t kOutputBuffer = size_t{1} << 20;

}  // namespace

class LineReader::Source {
 public:
  virtual ~Source() = default;
  // Reads up to n bytes; 0 means end of input.
  virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
};

namespace {

class GzipFileSource : public LineReader::Source {
 public:
  GzipFileSource(gzFile file, std::string name) : file_(file), name_(std::move(name)) {}
  ~GzipFileSource() override { gzclose_r(file_); }

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n, 1u << 30));
    const int got = gzread(file_, buf, chunk);
    int err = Z_OK;
    const char* message = gzerror(file_, &err);
    if (got < 0 || (err != Z_OK && err != Z_STREAM_END)) {
      // Z_BUF_ERROR at this point is zlib's report of a truncated gzip stream.
      return absl::DataLossError(absl::StrCat(
          name_, ": offset ", gzoffset(file_), ": corrupt or truncated gzip data (",
          err == Z_BUF_ERROR ? "unexpected end of file" : message, ")"));
    }
    return static_cast<size_t>(got);
  }

 private:
  gzFile file_;
  std::string name_;
};

class MemorySource : public LineReader::Source {
 public:
  explicit MemorySource(absl::string_view data) : data_(data) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    const size_t take = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, take);
    pos_ += take;
    return take;
  }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<LineReader>> LineReader::OpenFile(const std::string& path) {
  if (IsDirectory(path)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, expected a file"));
  }
  gzFile file = gzopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  gzbuffer(file, 1u << 20);
  return std::unique_ptr<LineReader>(
      new LineReader(std::make_unique<GzipFileSource>(file, path), path));
}

std::unique_ptr<LineReader> LineReader::FromString(absl::string_view data, std::string name) {
  std::unique_ptr<LineReader> reader(
      new LineReader(std::make_unique<MemorySource>(data), std::move(name)));
  // Small inputs (fuzzers, tests) need no 4 MiB buffer; +1 leaves room to detect the end.
  reader->initial_capacity_ = std::min(kInitialBuffer, std::max<size_t>(64, data.size() + 1));
  return reader;
}

LineReader::LineReader(std::unique_ptr<Source> source, std::string name)
    : source_(std::move(source)), name_(std::move(name)), initial_capacity_(kInitialBuffer) {}

LineReader::~LineReader() = default;

bool LineReader::Refill() {
  if (!buffer_) {
    capacity_ = initial_capacity_;
    buffer_.reset(new char[capacity_]);
  }
  if (begin_ > 0) {
    std::memmove(buffer_.get(), buffer_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (end_ == capacity_) {
    if (capacity_ >= kMaxLineBytes) {
      status_ = absl::InvalidArgumentError(absl::StrCat(
          name_, ":", line_number_ + 1, ": line longer than ", kMaxLineBytes, " bytes"));
      return false;
    }
    std::unique_ptr<char[]> bigger(new char[capacity_ * 2]);
    std::memcpy(bigger.get(), buffer_.get(), end_);
    buffer_ = std::move(bigger);
    capacity_ *= 2;
  }
  absl::StatusOr<size_t> got = source_->Read(buffer_.get() + end_, capacity_ - end_);
  if (!got.ok()) {
    status_ = got.status();
    return false;
  }
  if (*got == 0) eof_ = true;
  end_ += *got;
  return true;
}

bool LineReader::Next(absl::string_view* line) {
  if (!status_.ok()) return false;
  size_t scanned = begin_;
  while (true) {
    const char* start = buffer_ ? buffer_.get() : nullptr;
    const void* newline =
        end_ > scanned ? std::memchr(start + scanned, '\n', end_ - scanned) : nullptr;
    if (newline != nullptr) {
      const size_t nl = static_cast<const char*>(newline) - start;
      size_t stop = nl;
      if (stop > begin_ && start[stop - 1] == '\r') --stop;
      *line = absl::string_view(start + begin_, stop - begin_);
      bytes_consumed_ += static_cast<int64_t>(nl + 1 - begin_);
      begin_ = nl + 1;
      ++line_number_;
      return true;
    }
    if (eof_) {
      if (begin_ == end_) return false;
      size_t stop = end_;
      if (start[stop - 1] == '\r') --stop;
      *line = absl::string_view(start + begin_, stop - begin_);
      bytes_consumed_ += static_cast<int64_t>(end_ - begin_);
      begin_ = end_;
      ++line_number_;
      return true;
    }
    const size_t already_scanned = end_ - begin_;
    if (!Refill()) return false;
    scanned = already_scanned;  // Refill moved the unconsumed bytes to the buffer start.
  }
}

absl::Status LineReader::LineError(absl::string_view message) const {
  return absl::InvalidArgumentError(absl::StrCat(name_, ":", line_number_, ": ", message));
}

// ----------------------------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<AtomicOutputFile>> AtomicOutputFile::Create(const std::string& path,
                                                                           bool gzip,
                                                                           int gzip_level) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  void* handle = nullptr;
  if (gzip) {
    const std::string mode = absl::StrCat("wb", std::clamp(gzip_level, 1, 9));
    handle = gzopen(tmp.c_str(), mode.c_str());
    if (handle != nullptr) gzbuffer(static_cast<gzFile>(handle), 1u << 20);
  } else {
    handle = std::fopen(tmp.c_str(), "wb");
  }
  if (handle == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot create: ", std::strerror(errno)));
  }
  return std::unique_ptr<AtomicOutputFile>(
      new AtomicOutputFile(path, std::move(tmp), handle, gzip));
}

absl::StatusOr<std::unique_ptr<AtomicOutputFile>> AtomicOutputFile::CreateOwnerOnly(
    const std::string& path) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  // A leftover temporary file would keep its old mode through O_TRUNC; O_EXCL after removing it
  // guarantees the 0600 of a fresh file.
  std::remove(tmp.c_str());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  FILE* handle = fd < 0 ? nullptr : fdopen(fd, "wb");
  if (handle == nullptr) {
    const int error = errno;
    if (fd >= 0) {
      close(fd);
      std::remove(tmp.c_str());
    }
    return absl::PermissionDeniedError(
        absl::StrCat(path, ": cannot create: ", std::strerror(error)));
  }
  return std::unique_ptr<AtomicOutputFile>(
      new AtomicOutputFile(path, std::move(tmp), handle, /*gzip=*/false));
}

AtomicOutputFile::AtomicOutputFile(std::string path, std::string tmp_path, void* file, bool gzip)
    : path_(std::move(path)), tmp_path_(std::move(tmp_path)), file_(file), gzip_(gzip) {
  buffer_.reserve(kOutputBuffer);
}

AtomicOutputFile::~AtomicOutputFile() {
  if (closed_) return;
  if (gzip_) {
    gzclose_w(static_cast<gzFile>(file_));
  } else {
    std::fclose(static_cast<FILE*>(file_));
  }
  std::remove(tmp_path_.c_str());
}

absl::Status AtomicOutputFile::FlushBuffer() {
  if (buffer_.empty()) return absl::OkStatus();
  bool ok;
  if (gzip_) {
    ok = gzwrite(static_cast<gzFile>(file_), buffer_.data(), static_cast<unsigned>(buffer_.size())) ==
         static_cast<int>(buffer_.size());
  } else {
    ok = std::fwrite(buffer_.data(), 1, buffer_.size(), static_cast<FILE*>(file_)) ==
         buffer_.size();
  }
  buffer_.clear();
  if (!ok) return absl::DataLossError(absl::StrCat(path_, ": write failed (disk full?)"));
  return absl::OkStatus();
}

absl::Status AtomicOutputFile::Write(absl::string_view data) {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(path_, ": write after close"));
  if (buffer_.size() + data.size() > kOutputBuffer) {
    if (absl::Status s = FlushBuffer(); !s.ok()) return s;
  }
  if (data.size() >= kOutputBuffer) {
    buffer_.assign(data.data(), data.size());
    return FlushBuffer();
  }
  buffer_.append(data.data(), data.size());
  return absl::OkStatus();
}

absl::Status AtomicOutputFile::AppendRawFile(const std::string& path) {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(path_, ": write after close"));
  if (absl::Status s = FlushBuffer(); !s.ok()) return s;
  FILE* in = std::fopen(path.c_str(), "rb");
  if (in == nullptr) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  // gzip outputs: close the current member so that the raw bytes start a new one.
  FILE* out = nullptr;
  if (gzip_) {
    if (gzclose_w(static_cast<gzFile>(file_)) != Z_OK) {
      std::fclose(in);
      return absl::DataLossError(absl::StrCat(path_, ": gzip close failed"));
    }
    out = std::fopen(tmp_path_.c_str(), "ab");
    file_ = out;
    gzip_ = false;  // further output is raw
  } else {
    out = static_cast<FILE*>(file_);
  }
  if (out == nullptr) {
    std::fclose(in);
    return absl::DataLossError(absl::StrCat(path_, ": cannot reopen for append"));
  }
  std::string chunk(kOutputBuffer, '\0');
  size_t got;
  bool ok = true;
  while ((got = std::fread(chunk.data(), 1, chunk.size(), in)) > 0) {
    if (std::fwrite(chunk.data(), 1, got, out) != got) {
      ok = false;
      break;
    }
  }
  ok = ok && !std::ferror(in);
  std::fclose(in);
  if (!ok) return absl::DataLossError(absl::StrCat(path_, ": appending ", path, " failed"));
  return absl::OkStatus();
}

absl::Status AtomicOutputFile::Close() {
  if (closed_) return absl::FailedPreconditionError(absl::StrCat(path_, ": closed twice"));
  absl::Status flushed = FlushBuffer();
  bool ok = flushed.ok();
  if (gzip_) {
    ok = gzclose_w(static_cast<gzFile>(file_)) == Z_OK && ok;
  } else {
    FILE* f = static_cast<FILE*>(file_);
    ok = std::fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = std::fclose(f) == 0 && ok;
  }
  closed_ = true;
  if (!ok || std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_path_.c_str());
    return absl::DataLossError(absl::StrCat(path_, ": could not finish writing: ",
                                            flushed.ok() ? std::strerror(errno)
                                                         : std::string(flushed.message())));
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view data) {
  const bool gzip = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(path, gzip));
  FLS_RETURN_IF_ERROR(out->Write(data));
  return out->Close();
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  auto reader = LineReader::OpenFile(path);
  if (!reader.ok()) return reader.status();
  std::string out;
  absl::string_view line;
  while ((*reader)->Next(&line)) {
    out.append(line.data(), line.size());
    out.push_back('\n');
  }
  if (!(*reader)->status().ok()) return (*reader)->status();
  return out;
}

absl::StatusOr<std::string> ReadBinaryFile(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  }
  std::string out;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) out.append(buffer, n);
  if (std::ferror(file.get())) {
    return absl::DataLossError(absl::StrCat(path, ": read error: ", std::strerror(errno)));
  }
  return out;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

absl::Status MakeDirectories(const std::string& path) {
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string prefix = path.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0777) != 0 && errno != EEXIST) {
      return absl::PermissionDeniedError(
          absl::StrCat(prefix, ": cannot create directory: ", std::strerror(errno)));
    }
  }
  if (!IsDirectory(path)) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": exists and is not a directory"));
  }
  return absl::OkStatus();
}

bool IsDirectory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace flsailer
