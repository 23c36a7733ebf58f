#include "libs/data/isolated_reader.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/common/status_macros.h"

extern char** environ;

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

bool WriteReaderResult(const absl::StatusOr<Dataset>& result, FILE* out) {
  Writer w(out);
  w.Pod(kMagic);
  w.Pod<int32_t>(static_cast<int32_t>(result.status().code()));
  w.String(std::string(result.status().message()));
  if (result.ok()) WriteDataset(*result, w);
  return w.ok() && std::fflush(out) == 0;
}

absl::StatusOr<std::string> HelperReaderPath() {
  if (const char* path = std::getenv("FLSAILER_READ_DATASET"); path != nullptr && *path != '\0') {
    return std::string(path);
  }
  std::vector<std::string> candidates;
  std::string self(4096, '\0');
  const ssize_t n = ::readlink("/proc/self/exe", self.data(), self.size());
  if (n > 0) {
    self.resize(static_cast<size_t>(n));
    candidates.push_back(self.substr(0, self.rfind('/') + 1) + kHelperReaderName);
  }
  candidates.push_back(FLSAILER_READ_DATASET_BUILD_PATH);
  for (const std::string& candidate : candidates) {
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(absl::StrCat(
      "cannot find the HDF5 reader helper ", kHelperReaderName, " (looked in ",
      absl::StrJoin(candidates, ", "),
      "): install it next to flsailer or set FLSAILER_READ_DATASET to its path"));
}

absl::StatusOr<Dataset> ReadInHelperProcess(const std::vector<std::string>& command,
                                            const std::string& path) {
  if (command.empty()) return absl::InvalidArgumentError("no reader command");
  const char* tmpdir = std::getenv("TMPDIR");
  const std::string dir = tmpdir != nullptr ? tmpdir : "/tmp";
  std::string name = dir + "/flsailer-read-XXXXXX";
  // Close-on-exec, so that processes other threads start meanwhile do not inherit it; the dup2
  // below gives the helper its own copy as descriptor 3.
  const int fd = mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("cannot create a temporary file in ", dir, ": ", std::strerror(errno)));
  }
  ::unlink(name.c_str());  // the open descriptor keeps it alive; nothing to clean up later

  std::vector<std::string> argv = command;
  argv.push_back(path);
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fd, kHelperOutputFd);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    ::close(fd);
    return absl::InternalError(absl::StrCat("cannot start the reader ", argv[0], ": ",
                                            std::strerror(error)));
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
