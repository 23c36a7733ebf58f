#include "libs/data/isolated_reader.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"

namespace flsailer::data {
namespace {

constexpr uint64_t kMagic = 0x464c53444154410aULL;  // "FLSDATA\n"

// Buffered binary writer/reader over a stdio stream. Formats are private to this file: the
// writer and reader are the same binary, so no versioning is needed.
class Writer {
 public:
  explicit Writer(FILE* f) : f_(f) {}
  template <typename T>
  void Pod(const T& v) { ok_ = ok_ && std::fwrite(&v, sizeof(T), 1, f_) == 1; }
  template <typename T>
  void Array(const std::vector<T>& v) {
    Pod<uint64_t>(v.size());
    ok_ = ok_ && (v.empty() || std::fwrite(v.data(), sizeof(T), v.size(), f_) == v.size());
  }
  void String(const std::string& s) {
    Pod<uint64_t>(s.size());
    ok_ = ok_ && (s.empty() || std::fwrite(s.data(), 1, s.size(), f_) == s.size());
  }
  void Strings(const std::vector<std::string>& v) {
    Pod<uint64_t>(v.size());
    for (const std::string& s : v) String(s);
  }
  bool ok() const { return ok_; }

 private:
  FILE* f_;
  bool ok_ = true;
};

class Reader {
 public:
  explicit Reader(FILE* f) : f_(f) {}
  template <typename T>
  T Pod() {
    T v{};
    ok_ = ok_ && std::fread(&v, sizeof(T), 1, f_) == 1;
    return v;
  }
  template <typename T>
  void Array(std::vector<T>* v) {
    const uint64_t n = Pod<uint64_t>();
    if (!ok_) return;
    v->resize(n);
    ok_ = n == 0 || std::fread(v->data(), sizeof(T), n, f_) == n;
  }
  std::string String() {
    const uint64_t n = Pod<uint64_t>();
    std::string s(ok_ ? n : 0, '\0');
    ok_ = ok_ && (n == 0 || std::fread(s.data(), 1, n, f_) == n);
    return s;
  }
  void Strings(std::vector<std::string>* v) {
    const uint64_t n = Pod<uint64_t>();
    v->clear();
    for (uint64_t i = 0; ok_ && i < n; ++i) v->push_back(String());
  }
  bool ok() const { return ok_; }

 private:
  FILE* f_;
  bool ok_ = true;
};

void WriteDataset(const Dataset& ds, Writer& w) {
  w.Pod(ds.matrix.rows);
  w.Pod(ds.matrix.cols);
  w.Array(ds.matrix.indptr);
  w.Array(ds.matrix.indices);
  w.Array(ds.matrix.values);
  w.Strings(ds.barcodes);
  w.Pod<uint64_t>(ds.peaks.size());
  for (const Peak& p : ds.peaks) {
    w.String(p.chrom);
    w.Pod(p.start);
    w.Pod(p.end);
  }
  w.Strings(ds.metadata.names);
  for (const auto& column : ds.metadata.columns) w.Strings(column);
  w.Pod<uint64_t>(ds.obsm.size());
  for (const auto& [key, m] : ds.obsm) {
    w.String(key);
    w.Pod(m.rows);
    w.Pod(m.cols);
    w.Array(m.data);
  }
}

bool ReadDataset(Reader& r, Dataset* ds) {
  ds->matrix.rows = r.Pod<int64_t>();
  ds->matrix.cols = r.Pod<int64_t>();
  r.Array(&ds->matrix.indptr);
  r.Array(&ds->matrix.indices);
  r.Array(&ds->matrix.values);
  r.Strings(&ds->barcodes);
  const uint64_t peaks = r.Pod<uint64_t>();
  for (uint64_t i = 0; r.ok() && i < peaks; ++i) {
    Peak p;
    p.chrom = r.String();
    p.start = r.Pod<int64_t>();
    p.end = r.Pod<int64_t>();
    ds->peaks.push_back(std::move(p));
  }
  r.Strings(&ds->metadata.names);
  ds->metadata.columns.resize(ds->metadata.names.size());
  for (auto& column : ds->metadata.columns) r.Strings(&column);
  const uint64_t matrices = r.Pod<uint64_t>();
  for (uint64_t i = 0; r.ok() && i < matrices; ++i) {
    const std::string key = r.String();
    DenseMatrix& m = ds->obsm[key];
    m.rows = r.Pod<int64_t>();
    m.cols = r.Pod<int64_t>();
    r.Array(&m.data);
  }
  return r.ok();
}

}  // namespace

absl::StatusOr<Dataset> ReadInChildProcess(
    const std::string& path,
    const std::function<absl::StatusOr<Dataset>(const std::string&)>& read) {
  const char* tmpdir = std::getenv("TMPDIR");
  std::string name = absl::StrCat(tmpdir != nullptr ? tmpdir : "/tmp", "/flsailer-read-XXXXXX");
  const int fd = mkstemp(name.data());
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot create a temporary file in ",
                                            tmpdir != nullptr ? tmpdir : "/tmp", ": ",
                                            std::strerror(errno)));
  }
  ::unlink(name.c_str());  // the open descriptor keeps it alive; nothing to clean up later
  std::fflush(nullptr);    // do not let the child flush the parent's buffered output again
  const pid_t pid = fork();
  if (pid < 0) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("fork failed: ", std::strerror(errno)));
  }
  if (pid == 0) {
    FILE* out = fdopen(fd, "wb");
    if (out == nullptr) _exit(2);
    Writer w(out);
    absl::StatusOr<Dataset> ds = read(path);
    w.Pod(kMagic);
    w.Pod<int32_t>(static_cast<int32_t>(ds.status().code()));
    w.String(std::string(ds.status().message()));
    if (ds.ok()) WriteDataset(*ds, w);
    const bool ok = w.ok() && std::fflush(out) == 0;
    _exit(ok ? 0 : 2);  // no atexit handlers, no destructors of the parent's objects
  }

  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      ::close(fd);
      return absl::InternalError(absl::StrCat("waitpid failed: ", std::strerror(errno)));
    }
  }
  if (WIFSIGNALED(wstatus)) {
    ::close(fd);
    return absl::DataLossError(absl::StrCat(path, ": the reader crashed (signal ",
                                            WTERMSIG(wstatus),
                                            "): the file is corrupt or not what it claims"));
  }
  FILE* in = fdopen(fd, "rb");
  if (in == nullptr) {
    ::close(fd);
    return absl::InternalError("fdopen failed on the reader's temporary file");
  }
  std::rewind(in);
  Reader r(in);
  Dataset ds;
  const bool header_ok = r.Pod<uint64_t>() == kMagic && r.ok();
  const auto code = static_cast<absl::StatusCode>(r.Pod<int32_t>());
  const std::string message = r.String();
  const bool body_ok = header_ok && r.ok() && (code != absl::StatusCode::kOk || ReadDataset(r, &ds));
  std::fclose(in);
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || !body_ok) {
    return absl::InternalError(absl::StrCat(path, ": the reader process failed (exit status ",
                                            WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1,
                                            "; temporary disk full?)"));
  }
  if (code != absl::StatusCode::kOk) return absl::Status(code, message);
  return ds;
}

}  // namespace flsailer::data
