// The coordinator's jobs behind both of its front ends (gRPC and HTTPS/JSON): the admin API, the
// federation protocol's bookkeeping around JobRunner (identities, sequence numbers, payloads),
// and persistence of job and round state. Network-free: callers pass the authenticated identity
// of the peer (from its mTLS certificate) with each request.
//
// Authorisation: admin operations need an admin identity; protocol operations need an
// institution identity named in the job, whose id must equal the message's sender. Every protocol
// message carries (job id, step, sequence); sequence numbers must increase strictly per
// (job, institution), so a replayed message is refused even within its step.
//
// Persistence: jobs and rounds go to a JobStore in the state directory; after every completed
// round (and when a job ends) the job is checkpointed, and Open() resumes every stored job from
// its last checkpoint, so a coordinator killed at any moment loses no completed round.
//
// Thread safety: all methods are thread-safe.
#ifndef FLSAILER_SERVICES_COORDINATOR_JOB_REGISTRY_H_
#define FLSAILER_SERVICES_COORDINATOR_JOB_REGISTRY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "flsailer/v1/coordinator.pb.h"
#include "libs/federation/coordinator.h"
#include "libs/pki/pki.h"
#include "services/coordinator/coordinator_metrics.h"
#include "services/coordinator/job_store.h"
#include "services/coordinator/secure_aggregator.h"

namespace flsailer::coordinator {

struct RegistryOptions {
  // Where job state lives (SQLite database, checkpoints). Created if missing.
  std::string state_dir;
  // The secure-aggregation service every job's sums go through; without it, only jobs asking
  // for insecure plain aggregation can run.
  std::optional<SecureAggregationOptions> secure_aggregation;
  // Jobs may ask for insecure plain aggregation only when this is set (development, benchmarks).
  bool allow_insecure_plain_aggregation = false;
  // Clients asking for work while there is none are told to come back after this long.
  int32_t retry_after_ms = 200;
  // Where to publish job progress (not owned; may be null).
  CoordinatorMetrics* metrics = nullptr;
};

class JobRegistry {
 public:
  static absl::StatusOr<std::unique_ptr<JobRegistry>> Open(const RegistryOptions& options);
  ~JobRegistry();

  // Admin API.
  absl::StatusOr<v1::Job> SubmitJob(const pki::Identity& caller, const v1::SubmitJobRequest& req);
  absl::StatusOr<v1::Job> GetJob(const pki::Identity& caller, const v1::GetJobRequest& req);
  absl::StatusOr<v1::ListJobsResponse> ListJobs(const pki::Identity& caller,
                                                const v1::ListJobsRequest& req);
  absl::StatusOr<v1::Job> CancelJob(const pki::Identity& caller, const v1::CancelJobRequest& req);
  absl::StatusOr<v1::ListRoundsResponse> ListRounds(const pki::Identity& caller,
                                                    const v1::ListRoundsRequest& req);
  // The artifact's bytes: "model" (float32 little-endian parameters) or "selected_peaks.bed"
  // (BED with scores and ranks). NotFound until the job has produced it.
  absl::StatusOr<std::string> Artifact(const pki::Identity& caller,
                                       const v1::DownloadRequest& req);

  // Federation protocol.
  absl::StatusOr<v1::Task> GetTask(const pki::Identity& caller, const v1::TaskRequest& req);
  absl::StatusOr<std::shared_ptr<const std::vector<double>>> GetPayload(
      const pki::Identity& caller, const v1::PayloadRequest& req);
  // A whole contribution (the gRPC layer reassembles the chunks and checks their headers agree).
  absl::Status Submit(const pki::Identity& caller, const v1::MessageHeader& header,
                      std::vector<double> values, double weight);
  // The job's reference peaks as canonical BED text.
  absl::StatusOr<std::string> ReferencePeaks(const pki::Identity& caller,
                                             const v1::TaskRequest& req);

  // Applies step deadlines of every running job; the server calls it periodically.
  void Tick();

 private:
  struct Entry;
  explicit JobRegistry(const RegistryOptions& options);
  absl::StatusOr<Entry*> Find(const v1::JobId& id) ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Restarts every stored job from its last checkpoint.
  absl::Status ResumeJobs() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<Entry*> AuthoriseInstitution(const pki::Identity& caller,
                                              const v1::MessageHeader& header)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::Job Describe(const Entry& entry) const;
  // The aggregator for a job's sums: secure, or plain when the job asks and this coordinator
  // allows it. FailedPrecondition / PermissionDenied say which setting is missing.
  absl::StatusOr<std::unique_ptr<federation::Aggregator>> MakeAggregator(
      const std::string& job_id, const v1::JobSpec& spec) const;
  // Logs and publishes what changed in the job since the last call.
  void Observe(Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RegistryOptions options_;
  absl::Mutex mu_;
  std::unique_ptr<JobStore> store_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Entry>> jobs_ ABSL_GUARDED_BY(mu_);
  int64_t next_job_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace flsailer::coordinator

#endif  // FLSAILER_SERVICES_COORDINATOR_JOB_REGISTRY_H_
