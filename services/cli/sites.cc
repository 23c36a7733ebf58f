#include "services/cli/sites.h"

#include <algorithm>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "libs/pki/pki.h"

namespace flsailer::cli {

data::Dataset SubsetCells(const data::Dataset& ds, const std::vector<int64_t>& rows) {
  data::Dataset out;
  out.matrix = ds.matrix.SelectRows(rows);
  out.peaks = ds.peaks;
  out.metadata.names = ds.metadata.names;
  out.metadata.columns.resize(ds.metadata.columns.size());
  for (int64_t r : rows) {
    out.barcodes.push_back(ds.barcodes[r]);
    for (size_t c = 0; c < ds.metadata.columns.size(); ++c) {
      out.metadata.columns[c].push_back(ds.metadata.columns[c][r]);
    }
  }
  return out;
}

absl::StatusOr<std::vector<Site>> PlanSites(const std::vector<std::string>& batch_of_cell,
                                            int institutions, uint64_t seed) {
  const auto cells = static_cast<int64_t>(batch_of_cell.size());
  if (cells == 0) return absl::InvalidArgumentError("no cells to cut into institutions");
  if (institutions < 0 || institutions > cells) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot make ", institutions, " institutions of ", cells, " cells"));
  }
  std::map<std::string, std::vector<int64_t>> batches;
  for (int64_t r = 0; r < cells; ++r) batches[batch_of_cell[r]].push_back(r);
  const size_t n = institutions == 0 ? batches.size() : static_cast<size_t>(institutions);
  bool named_by_batch = true;
  for (const auto& [value, rows] : batches) named_by_batch &= pki::ValidateId(value).ok();

  std::vector<Site> sites;
  if (n >= batches.size()) {
    int numbered = 0;
    for (auto& [value, rows] : batches) {
      sites.push_back({named_by_batch ? value : absl::StrCat("site-", ++numbered), rows});
    }
    std::mt19937_64 rng(seed);
    while (sites.size() < n) {
      auto largest = std::max_element(sites.begin(), sites.end(), [](const Site& a, const Site& b) {
        return a.rows.size() < b.rows.size();
      });
      std::vector<int64_t> rows = std::move(largest->rows);
      std::shuffle(rows.begin(), rows.end(), rng);
      Site first{absl::StrCat(largest->id, "-1"),
                 std::vector<int64_t>(rows.begin(), rows.begin() + rows.size() / 2)};
      Site second{absl::StrCat(largest->id, "-2"),
                  std::vector<int64_t>(rows.begin() + rows.size() / 2, rows.end())};
      *largest = std::move(first);
      sites.push_back(std::move(second));
    }
  } else {
    std::vector<const std::vector<int64_t>*> by_size;
    for (const auto& [value, rows] : batches) by_size.push_back(&rows);
    std::stable_sort(by_size.begin(), by_size.end(),
                     [](const auto* a, const auto* b) { return a->size() > b->size(); });
    for (size_t i = 0; i < n; ++i) sites.push_back({absl::StrCat("site-", i + 1), {}});
    for (const std::vector<int64_t>* rows : by_size) {
      auto smallest = std::min_element(sites.begin(), sites.end(), [](const Site& a, const Site& b) {
        return a.rows.size() < b.rows.size();
      });
      smallest->rows.insert(smallest->rows.end(), rows->begin(), rows->end());
    }
  }
  for (Site& site : sites) std::sort(site.rows.begin(), site.rows.end());
  std::sort(sites.begin(), sites.end(), [](const Site& a, const Site& b) { return a.id < b.id; });
  return sites;
}

}  // namespace flsailer::cli
