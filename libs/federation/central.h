// The centralised reference of a federated job: the same schedule's selection and model, computed
// with every cell in one place, and averaged over the last half of its steps as `flsailer train`
// is (a federated model is itself an average of the institutions' models every round). It
// answers "what does federation cost?" - `flsailer demo` and the integration tests compare a
// federated job with it on the same cells and settings.
#ifndef FLSAILER_LIBS_FEDERATION_CENTRAL_H_
#define FLSAILER_LIBS_FEDERATION_CENTRAL_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "flsailer/v1/common.pb.h"
#include "libs/data/csr_matrix.h"
#include "libs/data/dataset.h"
#include "libs/model/invariant_vae.h"
#include "libs/sampling/feature_selector.h"

namespace flsailer::federation {

struct CentralResult {
  sampling::FeatureSelection selection;  // version 0 of the job's selection
  data::DenseMatrix embedding;           // encoder means, cells x latent_dim
  model::TrainReport training;
};

// Trains the job's model on all of `counts` (cells on the job's reference peaks): the leverage
// selection of the job's sampling settings over all cells, then the job's model with each
// cell's institution as its batch covariate, for rounds x local_epochs epochs - the passes over
// the data the federated rounds make. Selection refreshes are not replayed (the selection stays
// version 0). `institution_of_cell[i]` indexes spec.institutions(). `on_epoch` may be empty.
// Errors: shapes that do not fit the job, and those of the selection and training.
absl::StatusOr<CentralResult> TrainCentrally(
    const v1::JobSpec& spec, const data::CsrMatrix& counts,
    const std::vector<int32_t>& institution_of_cell, int threads,
    std::function<void(int32_t, int32_t, double)> on_epoch = {});

}  // namespace flsailer::federation

#endif  // FLSAILER_LIBS_FEDERATION_CENTRAL_H_
