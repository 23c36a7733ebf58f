// The coordinator's gRPC front end: CoordinatorAdmin and Federation, thin layers that read the
// caller's identity from its mTLS certificate and call JobRegistry.
#ifndef FLSAILER_SERVICES_COORDINATOR_GRPC_SERVICES_H_
#define FLSAILER_SERVICES_COORDINATOR_GRPC_SERVICES_H_

#include "flsailer/v1/coordinator.grpc.pb.h"
#include "services/coordinator/coordinator_metrics.h"
#include "services/coordinator/job_registry.h"

namespace flsailer::coordinator {

class AdminService final : public v1::CoordinatorAdmin::Service {
 public:
  // `metrics` may be null.
  AdminService(JobRegistry* registry, CoordinatorMetrics* metrics)
      : registry_(registry), metrics_(metrics) {}
  grpc::Status SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                         v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  grpc::Status ListRounds(grpc::ServerContext* context, const v1::ListRoundsRequest* request,
                          v1::ListRoundsResponse* response) override;
  grpc::Status Download(grpc::ServerContext* context, const v1::DownloadRequest* request,
                        grpc::ServerWriter<v1::FileChunk>* writer) override;

 private:
  JobRegistry* registry_;
  CoordinatorMetrics* metrics_;
};

class FederationService final : public v1::Federation::Service {
 public:
  // Contributions longer than `max_elements` are refused before they are buffered.
  FederationService(JobRegistry* registry, CoordinatorMetrics* metrics, int64_t max_elements)
      : registry_(registry), metrics_(metrics), max_elements_(max_elements) {}
  grpc::Status GetTask(grpc::ServerContext* context, const v1::TaskRequest* request,
                       v1::Task* response) override;
  grpc::Status GetPayload(grpc::ServerContext* context, const v1::PayloadRequest* request,
                          grpc::ServerWriter<v1::TensorChunk>* writer) override;
  grpc::Status Submit(grpc::ServerContext* context, grpc::ServerReader<v1::TensorChunk>* reader,
                      v1::SubmitResponse* response) override;
  grpc::Status GetReferencePeaks(grpc::ServerContext* context, const v1::TaskRequest* request,
                                 grpc::ServerWriter<v1::FileChunk>* writer) override;

 private:
  JobRegistry* registry_;
  CoordinatorMetrics* metrics_;
  int64_t max_elements_;
};

}  // namespace flsailer::coordinator

#endif  // FLSAILER_SERVICES_COORDINATOR_GRPC_SERVICES_H_
