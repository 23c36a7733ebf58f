// The federation over real gRPC and mutual TLS on loopback: a coordinator, an admin and two
// institution clients in one process, certificates from a federation CA made for the test.
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "flsailer/v1/coordinator.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/client_interceptor.h"
#include "gtest/gtest.h"
#include "libs/common/file_io.h"
#include "libs/data/dataset.h"
#include "libs/pki/pki.h"
#include "libs/rpc/test_federation.h"
#include "services/aggregator/server.h"
#include "services/client/client_runner.h"
#include "services/coordinator/server.h"
// Last: httplib.h pulls in <resolv.h>, whose _res macro breaks Eigen headers included after it.
#include "httplib.h"

namespace flsailer {
namespace {

using ::testing::HasSubstr;

constexpr char kDemo[] = "examples/data/granja2019_bmmc";

// Records the serialized form of every message a channel sends.
class Recorder {
 public:
  class Interceptor : public grpc::experimental::Interceptor {
   public:
    explicit Interceptor(Recorder* recorder) : recorder_(recorder) {}
    void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
      if (methods->QueryInterceptionHookPoint(
              grpc::experimental::InterceptionHookPoints::PRE_SEND_MESSAGE)) {
        const auto* message =
            static_cast<const google::protobuf::Message*>(methods->GetSendMessage());
        if (message != nullptr) recorder_->Add(message->SerializeAsString());
      }
      methods->Proceed();
    }

   private:
    Recorder* recorder_;
  };
  class Factory : public grpc::experimental::ClientInterceptorFactoryInterface {
   public:
    explicit Factory(Recorder* recorder) : recorder_(recorder) {}
    grpc::experimental::Interceptor* CreateClientInterceptor(
        grpc::experimental::ClientRpcInfo*) override {
      return new Interceptor(recorder_);
    }

   private:
    Recorder* recorder_;
  };

  void Add(std::string bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    sent_ += bytes;
    ++messages_;
  }
  std::string sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }

  // A channel factory for client::ClientOptions::make_channel.
  auto MakeChannel() {
    return [this](const std::string& target, std::shared_ptr<grpc::ChannelCredentials> creds) {
      std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> f;
      f.push_back(std::make_unique<Factory>(this));
      return grpc::experimental::CreateCustomChannelWithInterceptors(
          target, creds, grpc::ChannelArguments(), std::move(f));
    };
  }

 private:
  mutable std::mutex mu_;
  std::string sent_;
  int64_t messages_ = 0;
};

class FederationGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto federation = rpc::TestFederation::Create("federation_grpc_test");
    ASSERT_TRUE(federation.ok()) << federation.status();
    federation_.emplace(std::move(*federation));
    dir_ = federation_->dir();
    for (const char* id : {"coordinator", "aggregator"}) {
      ASSERT_TRUE(federation_->Issue(pki::IdentityKind::kServer, id).ok());
    }
    ASSERT_TRUE(federation_->Issue(pki::IdentityKind::kAdmin, "operator").ok());
    for (const char* id : {"hospital-a", "hospital-b", "intruder"}) {
      ASSERT_TRUE(federation_->Issue(pki::IdentityKind::kInstitution, id).ok());
    }
    // The demo dataset split into a small and a large institution.
    auto ds = data::LoadDataset(kDemo);
    ASSERT_TRUE(ds.ok()) << ds.status();
    std::map<std::string, std::vector<int64_t>> rows;
    for (int64_t r = 0; r < ds->matrix.rows; ++r) {
      rows[r < 150 ? "hospital-a" : "hospital-b"].push_back(r);
    }
    for (const auto& [id, keep] : rows) {
      data::Dataset part;
      part.matrix = ds->matrix.SelectRows(keep);
      part.peaks = ds->peaks;
      for (int64_t r : keep) part.barcodes.push_back(ds->barcodes[r]);
      ASSERT_TRUE(data::WriteH5ad(absl::StrCat(dir_, "/", id, ".h5ad"), part).ok());
    }
    aggregator::AggregatorOptions aggregator_options;
    aggregator_options.listen = "127.0.0.1:0";
    aggregator_options.credentials = Credentials("aggregator");
    auto aggregator = aggregator::AggregatorServer::Start(aggregator_options);
    ASSERT_TRUE(aggregator.ok()) << aggregator.status();
    aggregator_ = std::move(*aggregator);
    coordinator::CoordinatorOptions options;
    options.listen = "127.0.0.1:0";
    options.aggregator = absl::StrCat("127.0.0.1:", aggregator_->port());
    options.credentials = Credentials("coordinator");
    options.registry.state_dir = dir_ + "/state";
    options.registry.allow_insecure_plain_aggregation = true;
    options.registry.retry_after_ms = 20;
    options.metrics_listen = "127.0.0.1:0";
    auto server = coordinator::CoordinatorServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    address_ = absl::StrCat("127.0.0.1:", server_->port());
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    if (aggregator_ != nullptr) aggregator_->Shutdown();
  }

  rpc::CredentialsOptions Credentials(const std::string& id) const {
    return federation_->Credentials(id);
  }
  std::shared_ptr<grpc::Channel> Channel(const std::string& id) const {
    return federation_->Channel(address_, id);
  }

  // Submits a job for the two hospitals as `who`; returns the call's status and the job. Sums
  // are secure unless `plain`.
  grpc::Status Submit(const std::string& who, v1::Job* job, uint32_t rounds = 3,
                      bool plain = false, uint32_t client_timeout_seconds = 60) {
    v1::SubmitJobRequest req;
    v1::JobSpec* spec = req.mutable_spec();
    spec->add_institutions()->set_value("hospital-a");
    spec->add_institutions()->set_value("hospital-b");
    spec->set_rounds(rounds);
    spec->set_local_epochs(2);
    spec->set_num_clusters(6);
    spec->set_insecure_plain_aggregation(plain);
    spec->set_client_timeout_seconds(client_timeout_seconds);
    auto bed = ReadFileToString(absl::StrCat(kDemo, "/peaks.bed"));
    EXPECT_TRUE(bed.ok());
    req.set_reference_bed(*bed);
    grpc::ClientContext ctx;
    return v1::CoordinatorAdmin::NewStub(Channel(who))->SubmitJob(&ctx, req, job);
  }

  client::ClientOptions ClientFor(const std::string& id, const std::string& job) const {
    client::ClientOptions o;
    o.coordinator = address_;
    o.credentials = Credentials(id);
    o.job_id = job;
    o.input = absl::StrCat(dir_, "/", id, ".h5ad");
    o.work_dir = absl::StrCat(dir_, "/", id, "_work");
    return o;
  }

  std::optional<rpc::TestFederation> federation_;
  std::string dir_;
  std::string address_;
  std::unique_ptr<aggregator::AggregatorServer> aggregator_;
  std::unique_ptr<coordinator::CoordinatorServer> server_;
};

// Every sum goes through the secure aggregator: the coordinator receives no contribution data.
TEST_F(FederationGrpcTest, TwoInstitutionsTrainOverMutualTls) {
  v1::Job job;
  ASSERT_TRUE(Submit("operator", &job).ok());
  EXPECT_EQ(job.spec().reference_peaks().num_peaks(), 5000u);
  EXPECT_EQ(job.spec().reference_peaks().sha256().size(), 64u);

  absl::StatusOr<client::ClientOutcome> a, b;
  Recorder sent_by_a, sent_by_b;
  client::ClientOptions options_a = ClientFor("hospital-a", job.id().value());
  client::ClientOptions options_b = ClientFor("hospital-b", job.id().value());
  options_a.make_channel = sent_by_a.MakeChannel();
  options_b.make_channel = sent_by_b.MakeChannel();
  std::thread ta([&] { a = client::RunClient(options_a); });
  std::thread tb([&] { b = client::RunClient(options_b); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->results.embedding.rows, 150);
  EXPECT_EQ(b->results.embedding.rows, 450);
  EXPECT_EQ(a->results.clusters.size(), 150u);

  // Everything an institution sent: its size does not grow with its number of cells (150 vs
  // 450; only varint-coded sequence numbers may differ by a few bytes), and no barcode of its
  // cells appears in it.
  const std::string all_a = sent_by_a.sent(), all_b = sent_by_b.sent();
  EXPECT_GT(a->bytes_sent, 0);
  EXPECT_NEAR(static_cast<double>(a->bytes_sent), static_cast<double>(b->bytes_sent),
              1e-4 * static_cast<double>(b->bytes_sent));
  EXPECT_GT(all_a.size(), static_cast<size_t>(a->bytes_sent));
  EXPECT_NEAR(static_cast<double>(all_a.size()), static_cast<double>(all_b.size()),
              1e-4 * static_cast<double>(all_b.size()));
  for (const auto& [recorded, outcome] : {std::pair{&all_a, &*a}, std::pair{&all_b, &*b}}) {
    for (const std::string& barcode : outcome->dataset.barcodes) {
      ASSERT_EQ(recorded->find(barcode), std::string::npos) << barcode << " was sent";
    }
  }

  auto admin = v1::CoordinatorAdmin::NewStub(Channel("operator"));
  grpc::ClientContext ctx;
  v1::GetJobRequest get;
  *get.mutable_id() = job.id();
  v1::Job done;
  ASSERT_TRUE(admin->GetJob(&ctx, get, &done).ok());
  EXPECT_EQ(done.state(), v1::JOB_STATE_FINISHED) << done.error();
  EXPECT_EQ(done.rounds_done(), 3u);
  grpc::ClientContext ctx2;
  v1::ListRoundsRequest rounds_req;
  *rounds_req.mutable_id() = job.id();
  v1::ListRoundsResponse rounds;
  ASSERT_TRUE(admin->ListRounds(&ctx2, rounds_req, &rounds).ok());
  ASSERT_EQ(rounds.rounds_size(), 3);
  EXPECT_EQ(rounds.rounds(0).contributors_size(), 2);

  grpc::ClientContext ctx3;
  v1::DownloadRequest download;
  *download.mutable_id() = job.id();
  download.set_artifact("selected_peaks.bed");
  auto reader = admin->Download(&ctx3, download);
  std::string bed;
  v1::FileChunk chunk;
  while (reader->Read(&chunk)) bed += chunk.data();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(std::count(bed.begin(), bed.end(), '\n') -
                std::count(bed.begin(), bed.end(), '#'),
            1000);  // ceil(0.2 x 5000) peaks after the header lines

  // The coordinator took only acknowledgements (no elements) from the clients.
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto scraped = http.Get("/metrics");
  ASSERT_TRUE(scraped) << "no answer from /metrics";
  EXPECT_THAT(scraped->body, HasSubstr("flsailer_received_bytes_total 0\n"));
}

TEST_F(FederationGrpcTest, PlainAggregationNeedsTheJobToAskForIt) {
  v1::Job job;
  ASSERT_TRUE(Submit("operator", &job, /*rounds=*/1, /*plain=*/true).ok());
  absl::StatusOr<client::ClientOutcome> a, b;
  std::thread ta([&] { a = client::RunClient(ClientFor("hospital-a", job.id().value())); });
  std::thread tb([&] { b = client::RunClient(ClientFor("hospital-b", job.id().value())); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  // In the clear, the coordinator does receive the vectors.
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto scraped = http.Get("/metrics");
  ASSERT_TRUE(scraped);
  EXPECT_THAT(scraped->body, ::testing::Not(HasSubstr("flsailer_received_bytes_total 0\n")));
}

TEST_F(FederationGrpcTest, ServesHealthAndMetrics) {
  // gRPC health checking (what Kubernetes probes call), over the same mutual TLS.
  grpc::ClientContext ctx;
  ::grpc::health::v1::HealthCheckRequest request;
  ::grpc::health::v1::HealthCheckResponse response;
  ASSERT_TRUE(::grpc::health::v1::Health::NewStub(Channel("operator"))
                  ->Check(&ctx, request, &response)
                  .ok());
  EXPECT_EQ(response.status(), ::grpc::health::v1::HealthCheckResponse::SERVING);

  // A job's progress shows in the Prometheus exposition.
  v1::Job job;
  ASSERT_TRUE(Submit("operator", &job, /*rounds=*/2).ok());
  absl::StatusOr<client::ClientOutcome> a, b;
  std::thread ta([&] { a = client::RunClient(ClientFor("hospital-a", job.id().value())); });
  std::thread tb([&] { b = client::RunClient(ClientFor("hospital-b", job.id().value())); });
  ta.join();
  tb.join();
  ASSERT_TRUE(a.ok() && b.ok());
  httplib::Client http("127.0.0.1", server_->metrics_port());
  auto scraped = http.Get("/metrics");
  ASSERT_TRUE(scraped) << "no answer from /metrics";
  EXPECT_THAT(scraped->body, HasSubstr("flsailer_rounds_total{job_id=\"job-1\"} 2"));
  EXPECT_THAT(scraped->body,
              HasSubstr("flsailer_round_duration_seconds_count{job_id=\"job-1\"} 2"));
  EXPECT_THAT(scraped->body, HasSubstr("flsailer_selected_features{job_id=\"job-1\"} 1000"));
  EXPECT_THAT(scraped->body, HasSubstr("flsailer_jobs{state=\"finished\"} 1"));
  EXPECT_THAT(scraped->body, HasSubstr("flsailer_received_bytes_total"));
  // When the coordinator's certificate and the CA expire, for the expiry alert.
  for (const char* which : {"own", "ca"}) {
    const std::string key =
        absl::StrCat("flsailer_certificate_expiry_timestamp_seconds{certificate=\"", which, "\"} ");
    const size_t at = scraped->body.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    double expiry = 0;
    ASSERT_TRUE(absl::SimpleAtod(
        scraped->body.substr(at + key.size(), scraped->body.find('\n', at) - at - key.size()),
        &expiry));
    EXPECT_GT(expiry, absl::ToUnixSeconds(absl::Now()));
    EXPECT_LT(expiry, absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 3650)));
  }
}

TEST_F(FederationGrpcTest, RefusesWrongIdentities) {
  v1::Job job;
  // Only admins submit jobs.
  grpc::Status by_institution = Submit("hospital-a", &job);
  EXPECT_EQ(by_institution.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(by_institution.error_message(), HasSubstr("not an admin"));
  ASSERT_TRUE(Submit("operator", &job).ok());

  auto call = [&](const std::string& cert, const std::string& sender, uint64_t sequence) {
    v1::TaskRequest req;
    req.mutable_header()->mutable_job_id()->set_value(job.id().value());
    req.mutable_header()->mutable_sender()->set_value(sender);
    req.mutable_header()->set_sequence(sequence);
    grpc::ClientContext ctx;
    v1::Task task;
    return v1::Federation::NewStub(Channel(cert))->GetTask(&ctx, req, &task);
  };
  // A valid institution that the job does not name.
  EXPECT_EQ(call("intruder", "intruder", 1).error_code(), grpc::StatusCode::NOT_FOUND);
  // An institution claiming another's id.
  grpc::Status impostor = call("hospital-a", "hospital-b", 1);
  EXPECT_EQ(impostor.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(impostor.error_message(), HasSubstr("sent a message as 'hospital-b'"));
  // The admin is not an institution.
  EXPECT_EQ(call("operator", "operator", 1).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // A replayed message.
  EXPECT_TRUE(call("hospital-a", "hospital-a", 5).ok());
  grpc::Status replay = call("hospital-a", "hospital-a", 5);
  EXPECT_EQ(replay.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(replay.error_message(), HasSubstr("a replay"));
  // A job id nobody submitted.
  v1::Job other;
  grpc::ClientContext ctx;
  v1::GetJobRequest get;
  get.mutable_id()->set_value("job-999");
  EXPECT_EQ(v1::CoordinatorAdmin::NewStub(Channel("operator"))->GetJob(&ctx, get, &other)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(FederationGrpcTest, CancelledJobEndsItsClientsWithTheReason) {
  v1::Job job;
  // A short client timeout: hospital-a's secure sum waits for hospital-b that long.
  ASSERT_TRUE(Submit("operator", &job, /*rounds=*/1000, /*plain=*/false,
                     /*client_timeout_seconds=*/3).ok());
  absl::StatusOr<client::ClientOutcome> a;
  std::thread ta([&] { a = client::RunClient(ClientFor("hospital-a", job.id().value())); });
  // hospital-b never comes: hospital-a waits in the statistics step until the cancel.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  grpc::ClientContext ctx;
  v1::CancelJobRequest cancel;
  *cancel.mutable_id() = job.id();
  cancel.set_reason("test over");
  v1::Job cancelled;
  ASSERT_TRUE(
      v1::CoordinatorAdmin::NewStub(Channel("operator"))->CancelJob(&ctx, cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::JOB_STATE_FAILED);
  ta.join();
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.status().message(), HasSubstr("test over"));
}

}  // namespace
}  // namespace flsailer
