// One dataset cut into institutions, for trying a federation on data that lives in one place
// (`flsailer split`, `flsailer demo`).
#ifndef FLSAILER_SERVICES_CLI_SITES_H_
#define FLSAILER_SERVICES_CLI_SITES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"

namespace flsailer::cli {

// The cells of `rows` (in that order), with their barcodes and metadata, on all peaks.
data::Dataset SubsetCells(const data::Dataset& ds, const std::vector<int64_t>& rows);

struct Site {
  std::string id;             // a valid institution id (pki::ValidateId)
  std::vector<int64_t> rows;  // ascending
};

// Cuts cells into `institutions` sites along their batch (`batch_of_cell`), so that a site holds
// whole batches wherever it can - a batch is what an institution contributes in practice:
// - institutions == 0 or the number of batches: one site per batch, named after it;
// - more: the largest site is halved (cells drawn at random with `seed`) until there are enough,
//   the halves named <id>-1 and <id>-2;
// - fewer: batches, largest first, go to the site with the fewest cells, named site-1, site-2...
// Batch values that are not valid ids name their sites site-1, site-2... instead. Sites come in
// id order. InvalidArgument for no cells or more institutions than cells.
absl::StatusOr<std::vector<Site>> PlanSites(const std::vector<std::string>& batch_of_cell,
                                            int institutions, uint64_t seed);

}  // namespace flsailer::cli

#endif  // FLSAILER_SERVICES_CLI_SITES_H_
