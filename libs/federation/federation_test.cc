// The FL-Sailer schedule run in process: coordinator core, three client cores and the plain
// aggregator, on the bundled granja2019_bmmc dataset split among institutions.
#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/data/dataset.h"
#include "libs/eval/categories.h"
#include "libs/eval/partition_metrics.h"
#include "libs/federation/client.h"
#include "libs/federation/coordinator.h"
#include "libs/federation/secure_sum.h"
#include "libs/model/invariant_vae.h"
#include "libs/sampling/feature_selector.h"

namespace flsailer::federation {
namespace {

using ::testing::HasSubstr;

constexpr char kDemo[] = "examples/data/granja2019_bmmc";

struct Institution {
  std::string id;
  std::vector<int64_t> rows;  // rows of the demo dataset it holds
  data::CsrMatrix counts;
};

class FederationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto ds = data::LoadDataset(kDemo);
    ASSERT_TRUE(ds.ok()) << ds.status();
    dataset_ = new data::Dataset(std::move(*ds));
  }
  static void TearDownTestSuite() { delete dataset_; }

  // Three institutions of 240, 240 and 120 cells.
  static std::vector<Institution> Split() {
    std::vector<Institution> out = {{"hospital-a", {}, {}}, {"hospital-b", {}, {}},
                                    {"clinic-c", {}, {}}};
    for (int64_t r = 0; r < dataset_->matrix.rows; ++r) {
      out[r % 5 < 2 ? 0 : (r % 5 < 4 ? 1 : 2)].rows.push_back(r);
    }
    for (Institution& i : out) i.counts = dataset_->matrix.SelectRows(i.rows);
    return out;
  }

  static v1::JobSpec Spec(const std::vector<Institution>& institutions) {
    v1::JobSpec spec;
    spec.set_name("test");
    for (const Institution& i : institutions) spec.add_institutions()->set_value(i.id);
    spec.mutable_reference_peaks()->set_num_peaks(dataset_->matrix.cols);
    spec.set_seed(7);
    spec.set_rounds(3);
    spec.set_local_epochs(2);
    spec.set_num_clusters(6);
    spec.set_insecure_plain_aggregation(true);
    return spec;
  }

  static std::unique_ptr<JobRunner> NewRunner(
      const v1::JobSpec& spec, JobRunner::Clock clock = absl::Now,
      std::unique_ptr<Aggregator> aggregator = std::make_unique<InsecurePlainAggregator>()) {
    auto runner = JobRunner::Create(spec, std::move(aggregator), clock);
    EXPECT_TRUE(runner.ok()) << runner.status();
    return runner.ok() ? std::move(*runner) : nullptr;
  }

  // Runs every client in turn until the job ends or nobody has work; `silent` institutions never
  // answer. Records the length of everything each institution sent, per step kind.
  struct Run {
    std::map<std::string, std::map<StepKind, std::set<size_t>>> sent;
    std::map<std::string, Task> last_task;
  };
  static Run Drive(JobRunner& runner, std::vector<std::unique_ptr<ClientCore>>& clients,
                   const std::vector<Institution>& institutions,
                   const std::set<std::string>& silent = {},
                   const std::function<bool()>& stop = [] { return false; }) {
    Run run;
    for (int guard = 0; guard < 100000 && !stop(); ++guard) {
      bool worked = false;
      for (size_t c = 0; c < clients.size(); ++c) {
        const std::string& id = institutions[c].id;
        if (silent.count(id) > 0) continue;
        auto task = runner.NextTask(id);
        EXPECT_TRUE(task.ok()) << task.status();
        if (!task.ok()) return run;
        run.last_task[id] = *task;
        if (task->kind != Task::Kind::kWork) continue;
        auto contribution = clients[c]->Work(*task);
        EXPECT_TRUE(contribution.ok()) << contribution.status();
        if (!contribution.ok()) return run;
        run.sent[id][task->step].insert(contribution->values.size());
        const absl::Status submitted =
            runner.Submit(id, task->step_id, contribution->values, contribution->weight);
        EXPECT_TRUE(submitted.ok()) << submitted;
        if (!submitted.ok()) return run;
        worked = true;
      }
      if (!worked) return run;
    }
    if (!stop()) ADD_FAILURE() << "the job did not end";
    return run;
  }

  static std::vector<std::unique_ptr<ClientCore>> Clients(
      const v1::JobSpec& spec, const std::vector<Institution>& institutions) {
    std::vector<std::unique_ptr<ClientCore>> clients;
    for (const Institution& i : institutions) {
      auto client = ClientCore::Create(spec, i.id, i.counts);
      EXPECT_TRUE(client.ok()) << client.status();
      clients.push_back(std::move(*client));
    }
    return clients;
  }

  // A job on a fake clock whose "clinic-c" never answers, driven until the others wait for it.
  struct SilentClinic {
    SilentClinic(const std::vector<Institution>& institutions, uint32_t min_clients,
                 uint32_t timeout_seconds, absl::Time* now)
        : spec(Spec(institutions)) {
      spec.set_min_clients_per_round(min_clients);
      spec.set_client_timeout_seconds(timeout_seconds);
      runner = NewRunner(spec, [now] { return *now; });
      clients = Clients(spec, institutions);
      Drive(*runner, clients, institutions, /*silent=*/{"clinic-c"});
    }
    v1::JobSpec spec;
    std::unique_ptr<JobRunner> runner;
    std::vector<std::unique_ptr<ClientCore>> clients;
  };

  // A job on a fake clock (minimum 2, 30 s deadline) whose "clinic-c" goes quiet in round 1:
  // the round waits for it until the deadline, then closes without it.
  struct QuietInRoundOne {
    QuietInRoundOne(
        const std::vector<Institution>& institutions, absl::Time* now,
        std::unique_ptr<Aggregator> aggregator = std::make_unique<InsecurePlainAggregator>())
        : spec(Spec(institutions)) {
      spec.set_min_clients_per_round(2);
      spec.set_client_timeout_seconds(30);
      runner = NewRunner(spec, [now] { return *now; }, std::move(aggregator));
      clients = Clients(spec, institutions);
      Drive(*runner, clients, institutions, {},
            [&] { return runner->Progress().step == StepKind::kTrain; });
      Drive(*runner, clients, institutions, {"clinic-c"});
      EXPECT_TRUE(runner->Progress().history.empty());
      *now += absl::Seconds(31);
      runner->Tick();
      EXPECT_EQ(runner->Progress().history.size(), 1u);
    }
    v1::JobSpec spec;
    std::unique_ptr<JobRunner> runner;
    std::vector<std::unique_ptr<ClientCore>> clients;
  };

  static data::Dataset* dataset_;
};

data::Dataset* FederationTest::dataset_ = nullptr;

TEST_F(FederationTest, FullScheduleMatchesCentralisedSelectionAndClustersCellTypes) {
  std::vector<Institution> institutions = Split();
  v1::JobSpec spec = Spec(institutions);
  spec.set_rounds(30);
  spec.set_local_epochs(10);
  auto runner = NewRunner(spec);
  ASSERT_NE(runner, nullptr);
  auto clients = Clients(spec, institutions);
  Run run = Drive(*runner, clients, institutions);

  const JobProgress progress = runner->Progress();
  ASSERT_EQ(progress.state, JobProgress::State::kFinished) << progress.error;
  ASSERT_EQ(progress.history.size(), 30u);
  for (const RoundRecord& r : progress.history) {
    EXPECT_EQ(r.contributors.size(), 3u);
    EXPECT_TRUE(std::isfinite(r.loss));
  }
  EXPECT_LT(progress.history.back().loss, progress.history.front().loss);
  EXPECT_EQ(progress.clusters, 6);

  // The federated leverage scores are the centralised ones: the same code with one client.
  auto selection = runner->Selection();
  ASSERT_TRUE(selection.has_value());
  EXPECT_EQ(selection->peaks.size(), 1000u);  // ceil(0.2 x 5000)
  auto central = sampling::FeatureSelector::Create(
      sampling::LocalTfIdfSums(dataset_->matrix), SelectorOptionsForJob(spec));
  ASSERT_TRUE(central.ok()) << central.status();
  auto t = central->tfidf().Transform(dataset_->matrix);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(sampling::RunEstimate(&*central, {&*t}).ok());
  ASSERT_EQ(central->current().scores.size(), selection->scores.size());
  for (size_t j = 0; j < selection->scores.size(); ++j) {
    ASSERT_NEAR(selection->scores[j], central->current().scores[j], 1e-9) << "peak " << j;
  }
  EXPECT_EQ(selection->peaks, central->current().peaks);

  // The federated statistics are the centralised counts, exactly: cells and, per peak, the
  // number of cells with it open.
  const sampling::TfIdfSums counts = sampling::LocalTfIdfSums(dataset_->matrix);
  const Task& finished_a = run.last_task["hospital-a"];
  ASSERT_EQ(finished_a.payload.count("statistics"), 1u);
  const std::vector<double>& statistics = *finished_a.payload.at("statistics");
  ASSERT_EQ(statistics.size(), counts.document_frequency.size() + 3);
  EXPECT_EQ(statistics[0], static_cast<double>(counts.cells));
  for (size_t j = 0; j < counts.document_frequency.size(); ++j) {
    ASSERT_EQ(statistics[3 + j], counts.document_frequency[j]) << "peak " << j;
  }

  // What each institution sent has the same size whatever its number of cells (240 vs 120).
  for (const auto& [kind, sizes] : run.sent["hospital-a"]) {
    EXPECT_EQ(sizes, run.sent["clinic-c"][kind]) << StepKindName(kind);
  }

  // Every institution clusters its own cells with the federated centroids; together they
  // recover the cell types.
  std::vector<int32_t> clusters(dataset_->matrix.rows, -1);
  for (size_t c = 0; c < clients.size(); ++c) {
    const Task& finished = run.last_task[institutions[c].id];
    ASSERT_EQ(finished.kind, Task::Kind::kFinished);
    auto results = clients[c]->Results(finished);
    ASSERT_TRUE(results.ok()) << results.status();
    ASSERT_EQ(results->embedding.rows, static_cast<int64_t>(institutions[c].rows.size()));
    for (size_t i = 0; i < institutions[c].rows.size(); ++i) {
      clusters[institutions[c].rows[i]] = results->clusters[i];
    }
  }
  const int label = dataset_->metadata.Find("cell_type");
  ASSERT_GE(label, 0);
  const eval::Categories labels = eval::EncodeCategories(dataset_->metadata.columns[label]);
  auto agreement = eval::ComparePartitions(labels.codes, clusters);
  ASSERT_TRUE(agreement.ok());
  std::printf("federated k-means ARI %.3f NMI %.3f\n", agreement->ari, agreement->nmi);
  EXPECT_GT(agreement->ari, 0.4);  // 0.50 measured (centralised VAE + Leiden: 0.47)
}

TEST_F(FederationTest, AdaptiveRefreshPublishesNewSelectionVersions) {
  std::vector<Institution> institutions = Split();
  v1::JobSpec spec = Spec(institutions);
  spec.set_rounds(4);
  spec.set_local_epochs(1);
  spec.mutable_sampling()->set_refresh_every_rounds(2);
  auto runner = NewRunner(spec);
  auto clients = Clients(spec, institutions);
  Drive(*runner, clients, institutions);
  const JobProgress progress = runner->Progress();
  ASSERT_EQ(progress.state, JobProgress::State::kFinished) << progress.error;
  EXPECT_EQ(progress.selection_version, 1);  // refreshed after round 2 (not after the last)
  EXPECT_EQ(progress.history[1].selection_version, 0);
  EXPECT_EQ(progress.history[2].selection_version, 1);
}

TEST_F(FederationTest, AJobOnFewerCellsThanTheDefaultRankRunsAndAnExplicitRankIsKept) {
  std::vector<Institution> institutions = Split();
  institutions.pop_back();
  for (Institution& i : institutions) {  // 12 cells each: 24 in all, below the default rank 30
    i.rows.resize(12);
    i.counts = dataset_->matrix.SelectRows(i.rows);
  }
  // The first institution's cells are 6 profiles twice over: the data's rank, 18, is below
  // the 24 the cell counts allow, which the estimate finds and the refresh keeps.
  std::copy(institutions[0].rows.begin(), institutions[0].rows.begin() + 6,
            institutions[0].rows.begin() + 6);
  institutions[0].counts = dataset_->matrix.SelectRows(institutions[0].rows);
  v1::JobSpec spec = Spec(institutions);
  spec.set_rounds(3);
  spec.set_local_epochs(1);
  spec.set_num_clusters(2);
  spec.mutable_sampling()->set_refresh_every_rounds(1);
  auto runner = NewRunner(spec);
  auto clients = Clients(spec, institutions);
  Drive(*runner, clients, institutions);
  const JobProgress progress = runner->Progress();
  EXPECT_EQ(progress.state, JobProgress::State::kFinished) << progress.error;
  EXPECT_EQ(progress.selection_version, 2);

  spec.mutable_sampling()->set_rank(30);  // asked for: an error naming it, not a silent change
  runner = NewRunner(spec);
  clients = Clients(spec, institutions);
  Drive(*runner, clients, institutions);
  EXPECT_EQ(runner->Progress().state, JobProgress::State::kFailed);
  EXPECT_THAT(runner->Progress().error, HasSubstr("rank 30 exceeds the rank the data can have"));
}

TEST_F(FederationTest, TheDepthCovariateIsStandardisedAsCentrallyWithEmptyCellsLeftOut) {
  std::vector<Institution> institutions = Split();
  // hospital-a's first three cells (rows 0, 1 and 5 of the pooled data) lose all their counts.
  ASSERT_FALSE(dataset_->matrix.is_binary());
  const data::CsrMatrix& all = dataset_->matrix;
  data::CsrBuilder emptied(all.cols, all.is_binary());
  const std::set<int64_t> empty_rows = {0, 1, 5};
  for (int64_t r = 0; r < all.rows; ++r) {
    if (empty_rows.count(r) == 0) {
      for (int64_t k = all.indptr[r]; k < all.indptr[r + 1]; ++k) {
        emptied.Add(all.indices[k], all.value(k));
      }
    }
    emptied.FinishRow();
  }
  const data::CsrMatrix pooled = std::move(emptied).Finish();
  institutions[0].counts = pooled.SelectRows(institutions[0].rows);
  v1::JobSpec spec = Spec(institutions);
  spec.set_rounds(1);
  spec.set_local_epochs(1);
  auto runner = NewRunner(spec);
  auto clients = Clients(spec, institutions);
  const Run run = Drive(*runner, clients, institutions);
  ASSERT_EQ(runner->Progress().state, JobProgress::State::kFinished) << runner->Progress().error;
  const std::vector<double>& statistics = *run.last_task.at("clinic-c").payload.at("statistics");
  EXPECT_EQ(statistics[0], static_cast<double>(pooled.rows));  // empty cells still count as cells
  // The depth is the cells' counts (the demo's are counts, not 0/1), as `flsailer train` takes it.
  const std::vector<float> central = model::StandardisedLogDepth(pooled.RowSums());
  const std::vector<float> federated =
      model::StandardisedLogDepth(pooled.RowSums(), statistics[1], statistics[2]);
  for (int64_t r = 0; r < pooled.rows; ++r) ASSERT_NEAR(federated[r], central[r], 1e-5) << r;
}

TEST_F(FederationTest, ResumesFromACheckpointWithoutLosingOrRepeatingRounds) {
  std::vector<Institution> institutions = Split();
  v1::JobSpec spec = Spec(institutions);
  spec.set_rounds(4);
  spec.set_local_epochs(1);
  spec.mutable_sampling()->set_refresh_every_rounds(2);
  spec.set_server_optimizer(v1::SERVER_OPTIMIZER_FEDADAM);
  auto runner = NewRunner(spec);
  auto clients = Clients(spec, institutions);
  EXPECT_EQ(runner->Checkpoint().status().code(), absl::StatusCode::kFailedPrecondition);
  // Drive until two rounds are done, checkpoint, then "crash" (drop the runner).
  Drive(*runner, clients, institutions, {}, [&] { return runner->Progress().history.size() >= 2; });
  auto checkpoint = runner->Checkpoint();
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  EXPECT_EQ(checkpoint->rounds_done(), 2u);
  const int64_t old_step = runner->Progress().step_id;
  const std::vector<float> weights = runner->ModelParameters();
  runner.reset();

  auto resumed = JobRunner::Resume(*checkpoint, /*generation=*/1,
                                   std::make_unique<InsecurePlainAggregator>());
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ((*resumed)->ModelParameters(), weights);
  // A contribution for a step of the earlier run is stale in the new generation.
  auto task = (*resumed)->NextTask("hospital-a");
  ASSERT_TRUE(task.ok());
  EXPECT_GT(task->step_id, old_step);
  EXPECT_EQ(task->step, StepKind::kSubspace);  // the refresh due after round 2 is redone
  EXPECT_FALSE((*resumed)->Submit("hospital-a", old_step, {1.0}, 1).ok());
  Drive(**resumed, clients, institutions);
  const JobProgress progress = (*resumed)->Progress();
  ASSERT_EQ(progress.state, JobProgress::State::kFinished) << progress.error;
  ASSERT_EQ(progress.history.size(), 4u);
  for (int r = 0; r < 4; ++r) EXPECT_EQ(progress.history[r].round, r + 1);

  // A finished job resumes as finished, with its centroids.
  auto final_checkpoint = (*resumed)->Checkpoint();
  ASSERT_TRUE(final_checkpoint.ok());
  auto again = JobRunner::Resume(*final_checkpoint, 2, std::make_unique<InsecurePlainAggregator>());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->Progress().state, JobProgress::State::kFinished);
  EXPECT_EQ((*again)->Centroids(), (*resumed)->Centroids());

  // A checkpoint that does not fit together is refused, not trusted.
  v1::JobCheckpoint broken = *checkpoint;
  broken.mutable_model()->resize(7);
  EXPECT_FALSE(JobRunner::Resume(broken, 1, std::make_unique<InsecurePlainAggregator>()).ok());
  broken = *checkpoint;
  broken.mutable_statistics()->RemoveLast();
  EXPECT_FALSE(JobRunner::Resume(broken, 1, std::make_unique<InsecurePlainAggregator>()).ok());
}

TEST_F(FederationTest, RefusesStaleReplayedForeignAndMalformedContributions) {
  std::vector<Institution> institutions = Split();
  v1::JobSpec spec = Spec(institutions);
  auto runner = NewRunner(spec);
  auto clients = Clients(spec, institutions);
  auto task = runner->NextTask("hospital-a");
  ASSERT_TRUE(task.ok());
  ASSERT_EQ(task->kind, Task::Kind::kWork);
  auto c = clients[0]->Work(*task);
  ASSERT_TRUE(c.ok());

  EXPECT_EQ(runner->NextTask("mallory").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(runner->Submit("mallory", task->step_id, c->values, c->weight).ok());
  EXPECT_THAT(runner->Submit("hospital-a", task->step_id + 1, c->values, c->weight).message(),
              HasSubstr("from the future"));
  std::vector<double> wrong = c->values;
  wrong.pop_back();
  EXPECT_EQ(runner->Submit("hospital-a", task->step_id, wrong, c->weight).code(),
            absl::StatusCode::kInvalidArgument);
  wrong = c->values;
  wrong[5] = std::nan("");
  EXPECT_EQ(runner->Submit("hospital-a", task->step_id, wrong, c->weight).code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(runner->Submit("hospital-a", task->step_id, c->values, c->weight).ok());
  EXPECT_EQ(runner->Submit("hospital-a", task->step_id, c->values, c->weight).code(),
            absl::StatusCode::kAlreadyExists);
  auto waiting = runner->NextTask("hospital-a");
  ASSERT_TRUE(waiting.ok());
  EXPECT_EQ(waiting->kind, Task::Kind::kWait);

  // The others complete the step; the first step's contribution is now stale.
  for (size_t i = 1; i < 3; ++i) {
    auto t = runner->NextTask(institutions[i].id);
    auto ci = clients[i]->Work(*t);
    ASSERT_TRUE(runner->Submit(institutions[i].id, t->step_id, ci->values, ci->weight).ok());
  }
  EXPECT_THAT(runner->Submit("hospital-a", task->step_id, c->values, c->weight).message(),
              HasSubstr("stale or replayed"));
  EXPECT_EQ(runner->Progress().step, StepKind::kSubspace);
  EXPECT_EQ(runner->Progress().state, JobProgress::State::kRunning);
}

TEST_F(FederationTest, VanishedInstitutionIsDroppedAtTheDeadline) {
  std::vector<Institution> institutions = Split();
  absl::Time now = absl::UnixEpoch();
  SilentClinic job(institutions, /*min_clients=*/2, /*timeout_seconds=*/30, &now);
  auto& [spec, runner, clients] = job;
  EXPECT_EQ(runner->Progress().step, StepKind::kStatistics);  // waiting for clinic-c
  now += absl::Seconds(29);
  runner->Tick();
  EXPECT_EQ(runner->Progress().step, StepKind::kStatistics);
  now += absl::Seconds(2);
  runner->Tick();
  Run run = Drive(*runner, clients, institutions);
  const JobProgress progress = runner->Progress();
  ASSERT_EQ(progress.state, JobProgress::State::kFinished) << progress.error;
  EXPECT_EQ(progress.dropped, std::set<std::string>{"clinic-c"});
  EXPECT_EQ(progress.history.front().contributors.size(), 2u);
  EXPECT_EQ(run.last_task["clinic-c"].kind, Task::Kind::kFailed);
  EXPECT_THAT(run.last_task["clinic-c"].reason, HasSubstr("dropped"));
}

TEST_F(FederationTest, AnInstitutionThatMissedARoundIsNotWaitedForUntilItReturns) {
  std::vector<Institution> institutions = Split();
  absl::Time now = absl::UnixEpoch();
  QuietInRoundOne job(institutions, &now);
  auto& [spec, runner, clients] = job;
  // Round 1 closed without clinic-c at the deadline; round 2 then needs no deadline at all.
  Drive(*runner, clients, institutions, {"clinic-c"},
        [&] { return runner->Progress().history.size() >= 2; });
  JobProgress progress = runner->Progress();
  ASSERT_EQ(progress.history.size(), 2u) << progress.error;
  EXPECT_EQ(progress.history[0].contributors,
            (std::vector<std::string>{"hospital-a", "hospital-b"}));
  EXPECT_EQ(progress.history[1].contributors.size(), 2u);
  // clinic-c asks for work again: it is waited for and contributes to the rest of the job.
  ASSERT_TRUE(runner->NextTask("clinic-c").ok());
  Drive(*runner, clients, institutions);
  progress = runner->Progress();
  ASSERT_EQ(progress.state, JobProgress::State::kFinished) << progress.error;
  EXPECT_TRUE(progress.dropped.empty());
  EXPECT_EQ(progress.history[2].contributors.size(), 3u);
}

// Plain sums with a secure sum's membership (SecureSumMembers): how the job treats an
// institution that went quiet does not depend on the masking.
class MembersAsInASecureSum final : public Aggregator {
 public:
  absl::StatusOr<std::unique_ptr<Aggregation>> Begin(const StepPlan& step) override {
    StepPlan members = step;
    members.expected = SecureSumMembers(step);
    return plain_.Begin(members);
  }

 private:
  InsecurePlainAggregator plain_;
};

TEST_F(FederationTest, ASecureSumDoesNotWaitForAnAbsentInstitutionWhichJoinsTheNextStep) {
  std::vector<Institution> institutions = Split();
  absl::Time now = absl::UnixEpoch();
  QuietInRoundOne job(institutions, &now, std::make_unique<MembersAsInASecureSum>());
  auto& [spec, runner, clients] = job;
  // Round 2's sum began without clinic-c: back now, it waits for the next step...
  absl::StatusOr<Task> back = runner->NextTask("clinic-c");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->kind, Task::Kind::kWait);
  // ...and the round closes when the other two have answered, with no deadline.
  Drive(*runner, clients, institutions, {},
        [&] { return runner->Progress().history.size() >= 2; });
  JobProgress progress = runner->Progress();
  ASSERT_EQ(progress.history.size(), 2u) << progress.error;
  EXPECT_EQ(progress.history[1].contributors,
            (std::vector<std::string>{"hospital-a", "hospital-b"}));
  Drive(*runner, clients, institutions);
  progress = runner->Progress();
  ASSERT_EQ(progress.state, JobProgress::State::kFinished) << progress.error;
  EXPECT_EQ(progress.history[2].contributors.size(), 3u);
}

TEST_F(FederationTest, TooFewInstitutionsFailTheJobWithAClearError) {
  std::vector<Institution> institutions = Split();
  absl::Time now = absl::UnixEpoch();
  SilentClinic job(institutions, /*min_clients=*/3, /*timeout_seconds=*/10, &now);
  auto& [spec, runner, clients] = job;
  // Below the minimum the step is retried for two more deadlines, then the job fails.
  for (int deadline = 0; deadline < 2; ++deadline) {
    now += absl::Seconds(11);
    runner->Tick();
    EXPECT_EQ(runner->Progress().state, JobProgress::State::kRunning);
  }
  now += absl::Seconds(11);
  runner->Tick();
  const JobProgress progress = runner->Progress();
  EXPECT_EQ(progress.state, JobProgress::State::kFailed);
  EXPECT_THAT(progress.error, HasSubstr("only 2 of the required 3 institutions answered within 3"));
  auto task = runner->NextTask("hospital-a");
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->kind, Task::Kind::kFailed);
}

TEST_F(FederationTest, ALateInstitutionWithinTheRetriesLosesNothing) {
  std::vector<Institution> institutions = Split();
  absl::Time now = absl::UnixEpoch();
  SilentClinic job(institutions, /*min_clients=*/3, /*timeout_seconds=*/10, &now);
  auto& [spec, runner, clients] = job;
  now += absl::Seconds(11);
  runner->Tick();  // below the minimum: retried, the two contributions kept
  // clinic-c comes back: the step completes with all three.
  Run run = Drive(*runner, clients, institutions);
  const JobProgress progress = runner->Progress();
  ASSERT_EQ(progress.state, JobProgress::State::kFinished) << progress.error;
  EXPECT_TRUE(progress.dropped.empty());
  EXPECT_EQ(progress.history.front().contributors.size(), 3u);
}

TEST_F(FederationTest, BadJobsAndDataAreRefused) {
  std::vector<Institution> institutions = Split();
  v1::JobSpec spec = Spec(institutions);
  v1::JobSpec bad = spec;
  bad.add_institutions()->set_value("hospital-a");
  EXPECT_THAT(JobRunner::Create(bad, std::make_unique<InsecurePlainAggregator>()).status().message(),
              HasSubstr("listed twice"));
  bad = spec;
  bad.set_rounds(0);
  EXPECT_FALSE(JobRunner::Create(bad, std::make_unique<InsecurePlainAggregator>()).ok());
  bad = spec;
  bad.mutable_institutions(0)->set_value("bad id/../x");
  EXPECT_FALSE(ValidateJobSpec(bad).ok());

  data::CsrMatrix wrong_peaks = institutions[0].counts.SelectColumns({0, 1, 2});
  EXPECT_THAT(ClientCore::Create(spec, "hospital-a", wrong_peaks).status().message(),
              HasSubstr("map the data onto the reference peaks"));
  EXPECT_FALSE(ClientCore::Create(spec, "mallory", institutions[0].counts).ok());

  auto client = ClientCore::Create(spec, "hospital-a", institutions[0].counts);
  ASSERT_TRUE(client.ok());
  Task task;
  task.kind = Task::Kind::kWork;
  task.step = StepKind::kSubspace;
  EXPECT_THAT((*client)->Work(task).status().message(), HasSubstr("'statistics' payload"));
}

}  // namespace
TEST(VaeConfigForJobTest, TheDefaultNetworkIsAdaptedToTheFederationsCellsAndAJobsOwnIsKept) {
  v1::JobSpec spec;
  spec.add_institutions()->set_value("hospital-a");
  spec.add_institutions()->set_value("hospital-b");
  // 50 cells in all, 5,854 selected peaks: the default network narrowed, the KL weight raised,
  // as `flsailer train` does for the same data.
  const model::VaeConfig small = VaeConfigForJob(spec, 5854, 50);
  EXPECT_EQ(small.encoder_hidden, (std::vector<int32_t>{50, 25}));
  EXPECT_GT(small.kl_beta, 1.0f);
  EXPECT_EQ(small.num_batches, 2);
  // Enough cells: the library defaults.
  const model::VaeConfig large = VaeConfigForJob(spec, 1000, 600);
  EXPECT_EQ(large.encoder_hidden, model::VaeConfig().encoder_hidden);
  EXPECT_EQ(large.kl_beta, 1.0f);
  // Sizes the job sets are its own.
  spec.mutable_model()->add_encoder_hidden(300);
  spec.mutable_model()->add_decoder_hidden(300);
  const model::VaeConfig own = VaeConfigForJob(spec, 5854, 50);
  EXPECT_EQ(own.encoder_hidden, (std::vector<int32_t>{300}));
  EXPECT_EQ(own.kl_beta, 1.0f);
}

TEST(VaeConfigForJobTest, TheMutualInformationBoundIsTheJobsChoice) {
  v1::JobSpec spec;
  // Unset: the pairwise bound, until federated jobs average their last rounds.
  EXPECT_EQ(VaeConfigForJob(spec, 100, 600).mi_bound, model::MiBound::kPairwiseKl);
  EXPECT_EQ(VaeConfigForJob(spec, 5854, 50).mi_bound, model::MiBound::kPairwiseKl);
  spec.mutable_model()->set_mi_bound(v1::MI_BOUND_MINIBATCH_MIXTURE);
  EXPECT_EQ(VaeConfigForJob(spec, 100, 600).mi_bound, model::MiBound::kMinibatchMixture);
  EXPECT_EQ(VaeConfigForJob(spec, 5854, 50).mi_bound, model::MiBound::kMinibatchMixture);
  spec.mutable_model()->set_mi_bound(v1::MI_BOUND_PAIRWISE_KL);
  EXPECT_EQ(VaeConfigForJob(spec, 100, 600).mi_bound, model::MiBound::kPairwiseKl);
  spec.mutable_model()->set_mi_bound(static_cast<v1::MiBound>(9));  // from a newer client
  EXPECT_THAT(VaeConfigForJob(spec, 100, 600).Validate().message(), HasSubstr("mi_bound"));
}

}  // namespace flsailer::federation
