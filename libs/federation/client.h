// The client's network-free core: one institution's side of the FL-Sailer schedule
// (protocol.h). It holds the institution's cells and turns each task into a contribution that is
// a sum over those cells; nothing it returns is a per-cell value, and its size does not depend on
// the number of cells. The results (embedding, federated clusters) stay with the institution.
//
// Thread safety: none; one ClientCore per institution and thread.
#ifndef FLSAILER_LIBS_FEDERATION_CLIENT_H_
#define FLSAILER_LIBS_FEDERATION_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "flsailer/v1/common.pb.h"
#include "libs/data/csr_matrix.h"
#include "libs/data/dataset.h"
#include "libs/federation/protocol.h"
#include "libs/model/invariant_vae.h"

namespace flsailer::federation {

struct Contribution {
  std::vector<double> values;
  double weight = 0;  // the institution's number of cells (a training step: those trained on)
};

struct LocalResults {
  data::DenseMatrix embedding;    // encoder means, cells x latent_dim
  std::vector<int32_t> clusters;  // nearest federated centroid of each cell
};

class ClientCore {
 public:
  // `counts`: the institution's cells on the job's reference peaks (as many columns as
  // reference_peaks.num_peaks; values ignored: binarised). Fails on a mismatch, an institution not
  // in the job, or an invalid matrix.
  static absl::StatusOr<std::unique_ptr<ClientCore>> Create(const v1::JobSpec& spec,
                                                            const std::string& institution,
                                                            data::CsrMatrix counts,
                                                            int threads = 1);

  // The contribution for a kWork task. Payloads of the wrong size or missing are InvalidArgument;
  // a training failure (e.g. the loss turned NaN) is returned as is.
  absl::StatusOr<Contribution> Work(const Task& task);

  // Embeds and clusters the institution's cells with a kFinished task's model and centroids.
  absl::StatusOr<LocalResults> Results(const Task& finished);

  int64_t cells() const { return counts_.rows; }

 private:
  ClientCore(const v1::JobSpec& spec, int32_t index, const data::CsrMatrix& counts, int threads);

  absl::StatusOr<Contribution> Statistics() const;
  absl::StatusOr<Contribution> Subspace(const Task& task);
  absl::StatusOr<Contribution> Train(const Task& task);
  absl::StatusOr<Contribution> Clusters(const Task& task);
  // Brings the selected matrix and the local model up to the task's selection and weights.
  absl::Status Prepare(const Task& task);
  // L2-normalised encoder means of the local cells under the current model.
  absl::StatusOr<data::DenseMatrix> NormalisedEmbedding() const;

  const v1::JobSpec spec_;
  const int32_t index_;  // the institution's batch code
  const data::CsrMatrix counts_;     // binarised: what TF-IDF and the model read
  const std::vector<double> depths_;  // each cell's total counts, for the depth covariate
  const int threads_;

  std::shared_ptr<const std::vector<double>> tfidf_for_;  // statistics T_ was computed with
  data::CsrMatrix tfidf_;
  std::shared_ptr<const std::vector<double>> selection_for_;
  data::CsrMatrix selected_;
  model::Covariates covariates_;
  std::unique_ptr<model::InvariantVae> model_;
};

}  // namespace flsailer::federation

#endif  // FLSAILER_LIBS_FEDERATION_CLIENT_H_
