#include "services/coordinator/job_registry.h"

#include <openssl/evp.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/data/peaks.h"
#include "libs/federation/aggregation.h"
#include "libs/sampling/selection_bed.h"
#include "libs/telemetry/log.h"
#include "libs/telemetry/progress.h"
#include "services/aggregator/proto_convert.h"

namespace flsailer::coordinator {
namespace {

using federation::JobProgress;
using federation::Task;

absl::Status RequireAdmin(const pki::Identity& caller) {
  if (caller.kind != pki::IdentityKind::kAdmin) {
    return absl::PermissionDeniedError(
        absl::StrCat(pki::IdentityUri(caller), " is not an admin identity"));
  }
  return absl::OkStatus();
}

std::string Sha256Hex(absl::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

// chrom \t start \t end \n per peak: the text whose SHA-256 names the reference (DESIGN.md §2).
std::string CanonicalBed(const std::vector<data::Peak>& peaks) {
  std::string text;
  for (const data::Peak& p : peaks) absl::StrAppend(&text, p.chrom, "\t", p.start, "\t", p.end, "\n");
  return text;
}

v1::JobState ToProto(JobProgress::State state) {
  switch (state) {
    case JobProgress::State::kRunning: return v1::JOB_STATE_RUNNING;
    case JobProgress::State::kFinished: return v1::JOB_STATE_FINISHED;
    case JobProgress::State::kFailed: return v1::JOB_STATE_FAILED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

v1::Task::Kind ToProto(Task::Kind kind) {
  switch (kind) {
    case Task::Kind::kWait: return v1::Task::KIND_WAIT;
    case Task::Kind::kWork: return v1::Task::KIND_WORK;
    case Task::Kind::kFinished: return v1::Task::KIND_FINISHED;
    case Task::Kind::kFailed: return v1::Task::KIND_FAILED;
  }
  return v1::Task::KIND_UNSPECIFIED;
}

}  // namespace

struct JobRegistry::Entry {
  v1::Job meta;                    // id, spec, created, submitted_by
  std::vector<data::Peak> peaks;   // the reference
  std::string canonical_bed;
  std::unique_ptr<federation::JobRunner> runner;
  std::map<std::string, uint64_t> last_sequence;  // per institution
  std::map<std::string, absl::Time> last_seen;    // per institution
  telemetry::ProgressTimer timer;
  // What Observe() has published so far.
  int64_t observed_step = 0;
  absl::Time step_seen = absl::Now();
  size_t observed_rounds = 0;
  size_t observed_dropped = 0;
  JobProgress::State observed_state = JobProgress::State::kRunning;
};

JobRegistry::JobRegistry(const RegistryOptions& options) : options_(options) {}
JobRegistry::~JobRegistry() = default;

absl::StatusOr<std::unique_ptr<JobRegistry>> JobRegistry::Open(const RegistryOptions& options) {
  if (options.state_dir.empty()) return absl::InvalidArgumentError("no state directory");
  std::unique_ptr<JobRegistry> registry(new JobRegistry(options));
  absl::MutexLock lock(&registry->mu_);
  FLS_ASSIGN_OR_RETURN(registry->store_, JobStore::Open(options.state_dir));
  FLS_RETURN_IF_ERROR(registry->ResumeJobs());
  return registry;
}

absl::Status JobRegistry::ResumeJobs() {
  FLS_ASSIGN_OR_RETURN(std::vector<StoredJob> stored, store_->LoadForResume());
  for (StoredJob& job : stored) {
    auto entry = std::make_unique<Entry>();
    const std::string& id = job.meta.id().value();
    auto reader = LineReader::FromString(job.reference_bed, id + "/reference_bed");
    FLS_ASSIGN_OR_RETURN(entry->peaks, data::ParseBed(*reader));
    entry->canonical_bed = std::move(job.reference_bed);
    FLS_ASSIGN_OR_RETURN(auto aggregator, MakeAggregator(id, job.meta.spec()));
    if (job.checkpoint.has_value()) {
      FLS_ASSIGN_OR_RETURN(entry->runner,
                           federation::JobRunner::Resume(*job.checkpoint, job.generation,
                                                         std::move(aggregator)));
    } else {
      FLS_ASSIGN_OR_RETURN(entry->runner,
                           federation::JobRunner::Create(job.meta.spec(), std::move(aggregator),
                                                         absl::Now, job.generation));
    }
    entry->meta = std::move(job.meta);
    const JobProgress progress = entry->runner->Progress();
    entry->observed_rounds = progress.history.size();
    entry->observed_state = progress.state;
    entry->observed_step = progress.step_id;
    entry->observed_dropped = progress.dropped.size();
    telemetry::Log(telemetry::Level::kInfo, "job_resumed",
                   {{"job", id}, {"rounds_done", static_cast<int64_t>(progress.history.size())},
                    {"generation", static_cast<int64_t>(job.generation)},
                    {"state", v1::JobState_Name(ToProto(progress.state))}});
    if (options_.metrics != nullptr) {
      options_.metrics
          ->JobsByState(progress.state == JobProgress::State::kRunning    ? "running"
                        : progress.state == JobProgress::State::kFinished ? "finished"
                                                                          : "failed")
          .Increment();
    }
    jobs_[id] = std::move(entry);
  }
  FLS_ASSIGN_OR_RETURN(next_job_, store_->NextJobNumber());
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<federation::Aggregator>> JobRegistry::MakeAggregator(
    const std::string& job_id, const v1::JobSpec& spec) const {
  if (spec.insecure_plain_aggregation()) {
    if (!options_.allow_insecure_plain_aggregation) {
      return absl::PermissionDeniedError(
          "the job asks for insecure plain aggregation, which this coordinator does not allow");
    }
    return std::make_unique<federation::InsecurePlainAggregator>();
  }
  if (!options_.secure_aggregation.has_value()) {
    return absl::FailedPreconditionError(
        "this coordinator has no secure aggregation service (flsailer coordinator --aggregator "
        "HOST:PORT); only a job asking for insecure plain aggregation could run");
  }
  // Each protocol stage closes before the step's own deadline (secure_aggregator.h).
  const int64_t timeout = spec.client_timeout_seconds() > 0 ? spec.client_timeout_seconds() : 600;
  return std::make_unique<SecureAggregator>(job_id, *options_.secure_aggregation,
                                            absl::Seconds(timeout) * 3 / 4);
}

absl::StatusOr<JobRegistry::Entry*> JobRegistry::Find(const v1::JobId& id) {
  auto it = jobs_.find(id.value());
  if (it == jobs_.end()) return absl::NotFoundError(absl::StrCat("no job '", id.value(), "'"));
  return it->second.get();
}

v1::Job JobRegistry::Describe(const Entry& entry) const {
  v1::Job job = entry.meta;
  const JobProgress progress = entry.runner->Progress();
  job.set_state(ToProto(progress.state));
  job.set_error(progress.error);
  job.set_step(federation::StepKindName(progress.step));
  job.set_step_id(static_cast<uint64_t>(progress.step_id));
  job.set_rounds_done(static_cast<uint32_t>(progress.history.size()));
  job.set_selection_version(progress.selection_version);
  for (const std::string& id : progress.dropped) job.add_dropped(id);
  job.set_clusters(static_cast<uint32_t>(progress.clusters));
  return job;
}

absl::StatusOr<v1::Job> JobRegistry::SubmitJob(const pki::Identity& caller,
                                               const v1::SubmitJobRequest& req) {
  FLS_RETURN_IF_ERROR(RequireAdmin(caller));
  auto entry = std::make_unique<Entry>();
  auto reader = LineReader::FromString(req.reference_bed(), "reference_bed");
  FLS_ASSIGN_OR_RETURN(entry->peaks, data::ParseBed(*reader));
  entry->canonical_bed = CanonicalBed(entry->peaks);
  v1::JobSpec spec = req.spec();
  v1::PeakSetRef* ref = spec.mutable_reference_peaks();
  ref->set_num_peaks(entry->peaks.size());
  ref->set_sha256(Sha256Hex(entry->canonical_bed));
  absl::MutexLock lock(&mu_);
  // Numbers are never reused within a run, even for a job refused here: its id may already
  // name a round at the aggregator.
  const int64_t number = next_job_++;
  const std::string id = absl::StrCat("job-", number);
  FLS_ASSIGN_OR_RETURN(auto aggregator, MakeAggregator(id, spec));
  FLS_ASSIGN_OR_RETURN(entry->runner, federation::JobRunner::Create(spec, std::move(aggregator)));
  entry->meta.mutable_id()->set_value(id);
  *entry->meta.mutable_spec() = spec;
  entry->meta.set_created_unix_ms(absl::ToUnixMillis(absl::Now()));
  entry->meta.set_submitted_by(caller.id);
  FLS_RETURN_IF_ERROR(store_->AddJob(number, entry->meta, entry->canonical_bed));
  v1::Job job = Describe(*entry);
  telemetry::Log(telemetry::Level::kInfo, "job_submitted",
                 {{"job", job.id().value()}, {"by", caller.id},
                  {"institutions", static_cast<int64_t>(spec.institutions_size())},
                  {"rounds", static_cast<int64_t>(spec.rounds())},
                  {"peaks", static_cast<int64_t>(entry->peaks.size())}});
  if (options_.metrics != nullptr) options_.metrics->JobsByState("running").Increment();
  jobs_[job.id().value()] = std::move(entry);
  return job;
}

absl::StatusOr<v1::Job> JobRegistry::GetJob(const pki::Identity& caller,
                                            const v1::GetJobRequest& req) {
  FLS_RETURN_IF_ERROR(RequireAdmin(caller));
  absl::ReaderMutexLock lock(&mu_);
  FLS_ASSIGN_OR_RETURN(Entry * entry, Find(req.id()));
  return Describe(*entry);
}

absl::StatusOr<v1::ListJobsResponse> JobRegistry::ListJobs(const pki::Identity& caller,
                                                           const v1::ListJobsRequest&) {
  FLS_RETURN_IF_ERROR(RequireAdmin(caller));
  absl::ReaderMutexLock lock(&mu_);
  v1::ListJobsResponse response;
  for (const auto& [id, entry] : jobs_) *response.add_jobs() = Describe(*entry);
  return response;
}

absl::StatusOr<v1::Job> JobRegistry::CancelJob(const pki::Identity& caller,
                                               const v1::CancelJobRequest& req) {
  FLS_RETURN_IF_ERROR(RequireAdmin(caller));
  absl::MutexLock lock(&mu_);
  FLS_ASSIGN_OR_RETURN(Entry * entry, Find(req.id()));
  entry->runner->Cancel(absl::StrCat(req.reason().empty() ? "no reason given" : req.reason(),
                                     " (by ", caller.id, ")"));
  Observe(*entry);
  return Describe(*entry);
}

absl::StatusOr<v1::ListRoundsResponse> JobRegistry::ListRounds(const pki::Identity& caller,
                                                               const v1::ListRoundsRequest& req) {
  FLS_RETURN_IF_ERROR(RequireAdmin(caller));
  absl::ReaderMutexLock lock(&mu_);
  FLS_ASSIGN_OR_RETURN(Entry * entry, Find(req.id()));
  v1::ListRoundsResponse response;
  for (const federation::RoundRecord& r : entry->runner->Progress().history) {
    *response.add_rounds() = federation::ToProto(r);
  }
  return response;
}

absl::StatusOr<std::string> JobRegistry::Artifact(const pki::Identity& caller,
                                                  const v1::DownloadRequest& req) {
  FLS_RETURN_IF_ERROR(RequireAdmin(caller));
  absl::ReaderMutexLock lock(&mu_);
  FLS_ASSIGN_OR_RETURN(Entry * entry, Find(req.id()));
  if (req.artifact() == "model") {
    const std::vector<float> w = entry->runner->ModelParameters();
    if (w.empty()) return absl::NotFoundError("the job has no model yet");
    std::string bytes(w.size() * sizeof(float), '\0');
    std::memcpy(bytes.data(), w.data(), bytes.size());  // little-endian hosts only (x86-64, arm64)
    return bytes;
  }
  if (req.artifact() == "selected_peaks.bed") {
    const auto selection = entry->runner->Selection();
    if (!selection.has_value()) return absl::NotFoundError("the job has no selection yet");
    return sampling::FormatSelectionBed(
        entry->peaks, selection->scores, selection->peaks,
        absl::StrCat("job ", req.id().value(), " selection version ", selection->version));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown artifact '", req.artifact(), "' (model, selected_peaks.bed)"));
}

absl::StatusOr<JobRegistry::Entry*> JobRegistry::AuthoriseInstitution(
    const pki::Identity& caller, const v1::MessageHeader& header) {
  if (caller.kind != pki::IdentityKind::kInstitution) {
    return absl::PermissionDeniedError(
        absl::StrCat(pki::IdentityUri(caller), " is not an institution identity"));
  }
  if (header.sender().value() != caller.id) {
    return absl::PermissionDeniedError(absl::StrCat("'", caller.id, "' sent a message as '",
                                                    header.sender().value(), "'"));
  }
  FLS_ASSIGN_OR_RETURN(Entry * entry, Find(header.job_id()));
  FLS_RETURN_IF_ERROR(
      federation::InstitutionIndex(entry->meta.spec(), caller.id).status());
  uint64_t& last = entry->last_sequence[caller.id];
  if (header.sequence() <= last) {
    return absl::FailedPreconditionError(absl::StrCat(
        "message sequence ", header.sequence(), " from '", caller.id, "' refused: ",
        "sequence numbers must increase (last ", last, "); a replay?"));
  }
  last = header.sequence();
  entry->last_seen[caller.id] = absl::Now();
  return entry;
}

absl::StatusOr<v1::Task> JobRegistry::GetTask(const pki::Identity& caller,
                                              const v1::TaskRequest& req) {
  absl::MutexLock lock(&mu_);
  FLS_ASSIGN_OR_RETURN(Entry * entry, AuthoriseInstitution(caller, req.header()));
  FLS_ASSIGN_OR_RETURN(Task task, entry->runner->NextTask(caller.id));
  v1::Task out;
  out.set_kind(ToProto(task.kind));
  out.set_step_id(static_cast<uint64_t>(task.step_id));
  out.set_step(federation::StepKindName(task.step));
  out.set_round(static_cast<uint32_t>(task.round));
  out.set_local_epochs(static_cast<uint32_t>(task.local_epochs));
  out.set_first_epoch(static_cast<uint32_t>(task.first_epoch));
  out.set_selection_version(task.selection_version);
  for (const auto& [name, values] : task.payload) {
    out.add_payload(name);
    out.add_payload_version(task.payload_version[name]);
  }
  if (task.secure_sum.has_value()) {
    v1::SecureSumTask* secure = out.mutable_secure_sum();
    secure->set_aggregator(task.secure_sum->aggregator);
    *secure->mutable_config() = aggregator::ToProto(task.secure_sum->config);
    secure->set_divisor(task.secure_sum->divisor);
  }
  out.set_retry_after_ms(static_cast<uint32_t>(options_.retry_after_ms));
  out.set_reason(task.reason);
  *out.mutable_spec() = entry->meta.spec();
  return out;
}

absl::StatusOr<std::shared_ptr<const std::vector<double>>> JobRegistry::GetPayload(
    const pki::Identity& caller, const v1::PayloadRequest& req) {
  absl::MutexLock lock(&mu_);
  FLS_ASSIGN_OR_RETURN(Entry * entry, AuthoriseInstitution(caller, req.header()));
  FLS_ASSIGN_OR_RETURN(Task task, entry->runner->NextTask(caller.id));
  const bool current = (task.kind == Task::Kind::kWork || task.kind == Task::Kind::kFinished) &&
                       static_cast<uint64_t>(task.step_id) == req.header().step();
  if (!current) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no payload for step ", req.header().step(), " (current step ", task.step_id, ")"));
  }
  auto it = task.payload.find(req.name());
  if (it == task.payload.end()) {
    return absl::NotFoundError(absl::StrCat("step ", task.step_id, " has no payload '",
                                            req.name(), "'"));
  }
  return it->second;
}

absl::Status JobRegistry::Submit(const pki::Identity& caller, const v1::MessageHeader& header,
                                 std::vector<double> values, double weight) {
  absl::MutexLock lock(&mu_);
  FLS_ASSIGN_OR_RETURN(Entry * entry, AuthoriseInstitution(caller, header));
  FLS_RETURN_IF_ERROR(
      entry->runner->Submit(caller.id, static_cast<int64_t>(header.step()), values, weight));
  Observe(*entry);
  return absl::OkStatus();
}

absl::StatusOr<std::string> JobRegistry::ReferencePeaks(const pki::Identity& caller,
                                                        const v1::TaskRequest& req) {
  absl::MutexLock lock(&mu_);
  FLS_ASSIGN_OR_RETURN(Entry * entry, AuthoriseInstitution(caller, req.header()));
  return entry->canonical_bed;
}

void JobRegistry::Observe(Entry& entry) {
  using telemetry::Level;
  using telemetry::Log;
  const JobProgress progress = entry.runner->Progress();
  const bool save = progress.history.size() != entry.observed_rounds ||
                    progress.state != entry.observed_state;
  const std::string& job = entry.meta.id().value();
  CoordinatorMetrics* m = options_.metrics;
  const absl::Time now = absl::Now();
  if (progress.step_id != entry.observed_step) {
    if (m != nullptr && entry.observed_step > 0) {
      m->PhaseSeconds(job, federation::StepKindName(progress.step))
          .Observe(absl::ToDoubleSeconds(now - entry.step_seen));
    }
    entry.observed_step = progress.step_id;
    entry.step_seen = now;
    Log(Level::kDebug, "step_opened", {{"job", job}, {"step", progress.step_id},
                                       {"phase", federation::StepKindName(progress.step)}});
  }
  for (; entry.observed_rounds < progress.history.size(); ++entry.observed_rounds) {
    const federation::RoundRecord& r = progress.history[entry.observed_rounds];
    const std::string eta = entry.timer.Format("round", r.round, progress.rounds);
    Log(Level::kInfo, "round_finished",
        {{"job", job}, {"round", r.round}, {"rounds", progress.rounds}, {"loss", r.loss},
         {"clients", static_cast<int64_t>(r.contributors.size())}, {"seconds", r.seconds},
         {"progress", eta}});
    if (m != nullptr) {
      m->Rounds(job).Increment();
      m->RoundSeconds(job).Observe(r.seconds);
      m->Loss(job).Set(r.loss);
    }
  }
  if (progress.dropped.size() != entry.observed_dropped) {
    Log(Level::kWarning, "clients_dropped",
        {{"job", job}, {"dropped", static_cast<int64_t>(progress.dropped.size())}});
    if (m != nullptr) {
      m->ClientsDropped(job).Increment(
          static_cast<double>(progress.dropped.size() - entry.observed_dropped));
    }
    entry.observed_dropped = progress.dropped.size();
  }
  if (m != nullptr) {
    int64_t connected = 0;
    for (const auto& [id, seen] : entry.last_seen) connected += now - seen < absl::Seconds(30);
    m->ClientsConnected(job).Set(static_cast<double>(connected));
    // Counters exist from the job's start at 0, so dashboards and alerts see them before the
    // first round or dropout.
    m->Rounds(job);
    m->ClientsDropped(job);
    if (auto selection = entry.runner->Selection(); selection.has_value()) {
      m->SelectedFeatures(job).Set(static_cast<double>(selection->peaks.size()));
    }
  }
  if (progress.state != entry.observed_state) {
    if (progress.state == JobProgress::State::kFinished) {
      Log(Level::kInfo, "job_finished", {{"job", job}, {"clusters", progress.clusters}});
    } else {
      Log(Level::kError, "job_failed", {{"job", job}, {"error", progress.error}});
    }
    if (m != nullptr) {
      m->JobsByState("running").Decrement();
      m->JobsByState(progress.state == JobProgress::State::kFinished ? "finished" : "failed")
          .Increment();
    }
    entry.observed_state = progress.state;
  }
  if (save) {
    absl::StatusOr<v1::JobCheckpoint> checkpoint = entry.runner->Checkpoint();
    absl::Status saved = checkpoint.ok()
                             ? store_->SaveCheckpoint(job, *checkpoint, ToProto(progress.state))
                             : checkpoint.status();
    if (!saved.ok()) {
      Log(Level::kError, "checkpoint_failed", {{"job", job}, {"error", saved.message()}});
    }
  }
}

void JobRegistry::Tick() {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, entry] : jobs_) {
    entry->runner->Tick();
    Observe(*entry);
  }
}

}  // namespace flsailer::coordinator
