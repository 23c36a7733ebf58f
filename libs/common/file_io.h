// Streaming text input and atomic output for plain and gzip-compressed files.
//
// LineReader reads a file (plain or gzip, detected by content, not by name) or an in-memory buffer
// line by line without copying: lines are string_views into an internal buffer, valid until the
// next call to Next(). Every error names the source and the line, so parsers built on it report
// "matrix.mtx.gz:1042: ..." without bookkeeping of their own. Corrupt or truncated gzip data is an
// error, never a silent end of file.
//
// AtomicOutputFile writes to a temporary file beside the target and renames it into place on
// Close(), so an interrupted writer never leaves a partial file under the final name.
//
// Thread safety: neither class is thread-safe; use one instance per thread.
#ifndef FLSAILER_LIBS_COMMON_FILE_IO_H_
#define FLSAILER_LIBS_COMMON_FILE_IO_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace flsailer {

class LineReader {
 public:
  // Opens `path`; gzip input (any number of concatenated members) is decompressed transparently.
  static absl::StatusOr<std::unique_ptr<LineReader>> OpenFile(const std::string& path);
  // Reads lines from `data`, which must outlive the reader. `name` is used in error messages.
  static std::unique_ptr<LineReader> FromString(absl::string_view data, std::string name);

  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Sets *line to the next line without its terminator ("\n" or "\r\n") and returns true.
  // Returns false at the end of input or on error; then status() tells which.
  bool Next(absl::string_view* line);

  // OK at a clean end of input; the I/O or decompression error otherwise.
  const absl::Status& status() const { return status_; }
  // 1-based number of the line last returned by Next() (0 before the first call).
  int64_t line_number() const { return line_number_; }
  const std::string& name() const { return name_; }
  // Uncompressed bytes consumed so far (for progress reporting and throughput figures).
  int64_t bytes_read() const { return bytes_consumed_; }

  // InvalidArgument "<name>:<line>: <message>" for the current line.
  absl::Status LineError(absl::string_view message) const;

  class Source;  // where the bytes come from (file, gzip, memory); defined in file_io.cc

 private:
  LineReader(std::unique_ptr<Source> source, std::string name);
  bool Refill();

  std::unique_ptr<Source> source_;
  std::string name_;
  std::unique_ptr<char[]> buffer_;
  size_t initial_capacity_;  // first buffer size: 4 MiB for files, input-sized for memory
  size_t capacity_ = 0;
  size_t begin_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // one past the last valid byte
  bool eof_ = false;
  int64_t line_number_ = 0;
  int64_t bytes_consumed_ = 0;
  absl::Status status_;
};

class AtomicOutputFile {
 public:
  // Creates "<path>.tmp.<pid>" for writing. With `gzip` the content is gzip-compressed at
  // `gzip_level` (1 = fastest). The target directory must exist.
  static absl::StatusOr<std::unique_ptr<AtomicOutputFile>> Create(const std::string& path,
                                                                  bool gzip = false,
                                                                  int gzip_level = 1);
  // Like Create (plain output), but the file is readable and writable by its owner only (0600)
  // from the moment it exists, so a private key is never briefly visible to other users.
  static absl::StatusOr<std::unique_ptr<AtomicOutputFile>> CreateOwnerOnly(const std::string& path);
  // Removes the temporary file unless Close() succeeded.
  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;

  absl::Status Write(absl::string_view data);
  // Appends the raw bytes of another file to the output. On a gzip output, what was written so
  // far is finished as one gzip member and the file's bytes (a gzip stream themselves) follow as
  // further members; output after this call is raw. Used to put a header before a streamed body.
  absl::Status AppendRawFile(const std::string& path);
  // Flushes, fsyncs and renames into place. Calling anything after Close() is an error.
  absl::Status Close();
  const std::string& path() const { return path_; }

 private:
  AtomicOutputFile(std::string path, std::string tmp_path, void* file, bool gzip);
  absl::Status FlushBuffer();

  std::string path_;
  std::string tmp_path_;
  void* file_;  // FILE* or gzFile
  bool gzip_;
  bool closed_ = false;
  std::string buffer_;
};

// Writes `data` to `path` with an AtomicOutputFile, gzip-compressed when the path ends in ".gz".
absl::Status WriteFileAtomically(const std::string& path, absl::string_view data);

// Reads a whole (small) file, transparently gunzipping it. For headers, BED files and fixtures.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);
// Reads a whole file's bytes exactly as stored (binary; no decompression, no line handling).
absl::StatusOr<std::string> ReadBinaryFile(const std::string& path);
bool FileExists(const std::string& path);
// mkdir -p: creates `path` and missing parents; OK if it already exists as a directory.
absl::Status MakeDirectories(const std::string& path);
bool IsDirectory(const std::string& path);

}  // namespace flsailer

#endif  // FLSAILER_LIBS_COMMON_FILE_IO_H_
