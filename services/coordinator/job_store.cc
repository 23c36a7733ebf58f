#include "services/coordinator/job_store.h"

#include <sqlite3.h>

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"

namespace flsailer::coordinator {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  number INTEGER NOT NULL,
  meta BLOB NOT NULL,              -- v1.Job as submitted
  reference_bed TEXT NOT NULL,
  state INTEGER NOT NULL,          -- v1.JobState
  generation INTEGER NOT NULL,
  checkpoint TEXT,                 -- file name under jobs/<id>/, NULL before the first round
  rounds_done INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS rounds (
  job TEXT NOT NULL,
  round INTEGER NOT NULL,
  loss REAL NOT NULL,
  contributors TEXT NOT NULL,      -- comma-separated institution ids
  selection_version INTEGER NOT NULL,
  seconds REAL NOT NULL,
  PRIMARY KEY (job, round)
);
)sql";

// A prepared statement, finalised on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    status_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  absl::Status ok() const { return Check(status_); }
  Statement& Bind(int i, int64_t v) { return Track(sqlite3_bind_int64(stmt_, i, v)); }
  Statement& Bind(int i, double v) { return Track(sqlite3_bind_double(stmt_, i, v)); }
  Statement& Bind(int i, const std::string& v) {
    return Track(sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()),
                                   SQLITE_TRANSIENT));
  }
  Statement& BindBlob(int i, const std::string& v) {
    return Track(sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()),
                                   SQLITE_TRANSIENT));
  }
  // SQLITE_ROW -> true, SQLITE_DONE -> false, else an error.
  absl::StatusOr<bool> Step() {
    FLS_RETURN_IF_ERROR(Check(status_));
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return Check(rc);
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) const {
    const void* data = sqlite3_column_blob(stmt_, col);
    return data == nullptr ? std::string()
                           : std::string(static_cast<const char*>(data),
                                         static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  Statement& Track(int rc) {
    if (status_ == SQLITE_OK) status_ = rc;
    return *this;
  }
  absl::Status Check(int rc) const {
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return absl::OkStatus();
    return absl::InternalError(absl::StrCat("job database: ", sqlite3_errmsg(db_)));
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int status_ = SQLITE_OK;
};

std::string JobDir(const std::string& dir, const std::string& job) {
  return absl::StrCat(dir, "/jobs/", job);
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& dir) {
  FLS_RETURN_IF_ERROR(MakeDirectories(dir + "/jobs"));
  const std::string path = dir + "/coordinator.db";
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) !=
      SQLITE_OK) {
    const std::string message = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return absl::UnavailableError(absl::StrCat(path, ": ", message));
  }
  std::unique_ptr<JobStore> store(new JobStore(dir, db));
  FLS_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  FLS_RETURN_IF_ERROR(store->Exec(kSchema));
  return store;
}

JobStore::~JobStore() { sqlite3_close(db_); }

absl::Status JobStore::Exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error != nullptr ? error : sqlite3_errmsg(db_);
    sqlite3_free(error);
    return absl::InternalError(absl::StrCat(dir_, "/coordinator.db: ", message));
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> JobStore::NextJobNumber() {
  Statement q(db_, "SELECT COALESCE(MAX(number), 0) + 1 FROM jobs");
  FLS_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 1;
}

absl::Status JobStore::AddJob(int64_t number, const v1::Job& meta,
                              const std::string& reference_bed) {
  FLS_RETURN_IF_ERROR(MakeDirectories(JobDir(dir_, meta.id().value())));
  Statement insert(db_,
                   "INSERT INTO jobs (id, number, meta, reference_bed, state, generation) "
                   "VALUES (?, ?, ?, ?, ?, 0)");
  insert.Bind(1, meta.id().value())
      .Bind(2, number)
      .BindBlob(3, meta.SerializeAsString())
      .Bind(4, reference_bed)
      .Bind(5, static_cast<int64_t>(v1::JOB_STATE_RUNNING));
  return insert.Step().status();
}

absl::Status JobStore::SaveCheckpoint(const std::string& job_id,
                                      const v1::JobCheckpoint& checkpoint, v1::JobState state) {
  const std::string dir = JobDir(dir_, job_id);
  std::string previous;
  {
    Statement q(db_, "SELECT checkpoint FROM jobs WHERE id = ?");
    q.Bind(1, job_id);
    FLS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return absl::NotFoundError(absl::StrCat("job database: no job '", job_id, "'"));
    if (!q.IsNull(0)) previous = q.Text(0);
  }
  const std::string name = absl::StrCat("checkpoint-", checkpoint.rounds_done(), "-",
                                        v1::JobState_Name(state), ".pb");
  {
    FLS_ASSIGN_OR_RETURN(auto out, AtomicOutputFile::Create(dir + "/" + name));
    FLS_RETURN_IF_ERROR(out->Write(checkpoint.SerializeAsString()));
    FLS_RETURN_IF_ERROR(out->Close());
  }
  FLS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  absl::Status s = [&]() -> absl::Status {
    Statement update(db_,
                     "UPDATE jobs SET checkpoint = ?, state = ?, rounds_done = ? WHERE id = ?");
    update.Bind(1, name)
        .Bind(2, static_cast<int64_t>(state))
        .Bind(3, static_cast<int64_t>(checkpoint.rounds_done()))
        .Bind(4, job_id);
    FLS_RETURN_IF_ERROR(update.Step().status());
    // Only the rounds finished since the last checkpoint: earlier ones are stored already.
    Statement last(db_, "SELECT COALESCE(MAX(round), 0) FROM rounds WHERE job = ?");
    last.Bind(1, job_id);
    FLS_RETURN_IF_ERROR(last.Step().status());
    const int64_t stored = last.Int(0);
    for (const v1::Round& r : checkpoint.history()) {
      if (static_cast<int64_t>(r.round()) <= stored) continue;
      std::string contributors;
      for (const std::string& c : r.contributors()) {
        absl::StrAppend(&contributors, contributors.empty() ? "" : ",", c);
      }
      Statement insert(db_,
                       "INSERT OR IGNORE INTO rounds (job, round, loss, contributors, "
                       "selection_version, seconds) VALUES (?, ?, ?, ?, ?, ?)");
      insert.Bind(1, job_id)
          .Bind(2, static_cast<int64_t>(r.round()))
          .Bind(3, r.loss())
          .Bind(4, contributors)
          .Bind(5, static_cast<int64_t>(r.selection_version()))
          .Bind(6, r.seconds());
      FLS_RETURN_IF_ERROR(insert.Step().status());
    }
    return Exec("COMMIT");
  }();
  if (!s.ok()) {
    (void)Exec("ROLLBACK");
    return s;
  }
  if (!previous.empty() && previous != name) std::remove((dir + "/" + previous).c_str());
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StoredJob>> JobStore::LoadForResume() {
  FLS_RETURN_IF_ERROR(Exec("UPDATE jobs SET generation = generation + 1"));
  std::vector<StoredJob> jobs;
  Statement q(db_,
              "SELECT id, meta, reference_bed, generation, checkpoint FROM jobs ORDER BY number");
  for (;;) {
    FLS_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    StoredJob job;
    const std::string id = q.Text(0);
    if (!job.meta.ParseFromString(q.Text(1))) {
      return absl::DataLossError(absl::StrCat("job database: job '", id, "' is corrupt"));
    }
    job.reference_bed = q.Text(2);
    job.generation = static_cast<uint32_t>(q.Int(3));
    if (!q.IsNull(4)) {
      const std::string path = absl::StrCat(JobDir(dir_, id), "/", q.Text(4));
      FLS_ASSIGN_OR_RETURN(std::string bytes, ReadBinaryFile(path));
      v1::JobCheckpoint checkpoint;
      if (!checkpoint.ParseFromString(bytes)) {
        return absl::DataLossError(absl::StrCat(path, ": not a job checkpoint"));
      }
      job.checkpoint = std::move(checkpoint);
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace flsailer::coordinator
