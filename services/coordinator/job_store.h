// Durable job state of the coordinator: a SQLite database in WAL mode (jobs, their rounds) and one
// checkpoint file per job (model, optimizer and selection after its last completed round).
//
// Crash safety: a checkpoint file is written under a new name and renamed into place
// (AtomicOutputFile) before the transaction that records it commits; the file it replaces is
// removed only after that commit. Whenever the process dies, the database names a complete
// checkpoint that exists, so a restarted coordinator loses no completed round and repeats none.
//
// Thread safety: not thread-safe; JobRegistry serialises calls under its mutex.
#ifndef FLSAILER_SERVICES_COORDINATOR_JOB_STORE_H_
#define FLSAILER_SERVICES_COORDINATOR_JOB_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "flsailer/v1/checkpoint.pb.h"
#include "flsailer/v1/coordinator.pb.h"

struct sqlite3;

namespace flsailer::coordinator {

struct StoredJob {
  v1::Job meta;                 // as submitted: id, spec, created, submitted_by
  std::string reference_bed;    // canonical BED text
  uint32_t generation = 0;      // how many times the coordinator has (re)started the job
  std::optional<v1::JobCheckpoint> checkpoint;
};

class JobStore {
 public:
  // Opens or creates DIR/coordinator.db. Errors name the file and SQLite's message.
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& dir);
  ~JobStore();

  // Every stored job with its latest checkpoint; each job's generation is incremented and saved
  // first, so a resumed run's step ids never repeat an earlier run's.
  absl::StatusOr<std::vector<StoredJob>> LoadForResume();
  // The number for the next job id (one more than any stored).
  absl::StatusOr<int64_t> NextJobNumber();
  absl::Status AddJob(int64_t number, const v1::Job& meta, const std::string& reference_bed);
  // Records the job after a completed round (or at its end): checkpoint file, state, new rounds.
  absl::Status SaveCheckpoint(const std::string& job_id, const v1::JobCheckpoint& checkpoint,
                              v1::JobState state);

 private:
  JobStore(std::string dir, sqlite3* db) : dir_(std::move(dir)), db_(db) {}
  absl::Status Exec(const std::string& sql);

  std::string dir_;
  sqlite3* db_;
};

}  // namespace flsailer::coordinator

#endif  // FLSAILER_SERVICES_COORDINATOR_JOB_STORE_H_
