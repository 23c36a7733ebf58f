#include "libs/sampling/tfidf.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace flsailer::sampling {

absl::Status TfIdfSums::Add(const TfIdfSums& other) {
  if (other.document_frequency.size() != document_frequency.size()) {
    return absl::InvalidArgumentError(absl::StrCat("TF-IDF sums over ", other.document_frequency.size(),
                                                   " peaks added to sums over ",
                                                   document_frequency.size()));
  }
  cells += other.cells;
  for (size_t j = 0; j < document_frequency.size(); ++j) {
    document_frequency[j] += other.document_frequency[j];
  }
  return absl::OkStatus();
}

TfIdfSums LocalTfIdfSums(const data::CsrMatrix& x) {
  TfIdfSums sums;
  sums.cells = x.rows;
  sums.document_frequency.assign(static_cast<size_t>(x.cols), 0.0);
  for (int32_t j : x.indices) sums.document_frequency[j] += 1.0;
  return sums;
}

absl::StatusOr<TfIdf> TfIdf::FromSums(const TfIdfSums& sums, const TfIdfOptions& options) {
  if (sums.cells <= 0) return absl::InvalidArgumentError("TF-IDF: no cells in any institution");
  if (!(options.scale > 0) || !std::isfinite(options.scale)) {
    return absl::InvalidArgumentError("TF-IDF: scale must be a positive number");
  }
  TfIdf t;
  t.scale_ = options.scale;
  t.idf_.resize(sums.document_frequency.size());
  const double n = static_cast<double>(sums.cells);
  for (size_t j = 0; j < t.idf_.size(); ++j) {
    const double df = sums.document_frequency[j];
    if (!std::isfinite(df) || df < 0 || df > n) {
      return absl::InvalidArgumentError(
          absl::StrCat("TF-IDF: document frequency of peak ", j, " is ", df, " for ", sums.cells,
                       " cells"));
    }
    if (df == 0) {
      t.idf_[j] = 0;  // never open: contributes nothing
    } else {
      t.idf_[j] = options.idf == IdfKind::kLogInverse ? std::log1p(n / df) : n / df;
    }
  }
  return t;
}

absl::StatusOr<data::CsrMatrix> TfIdf::Transform(const data::CsrMatrix& x) const {
  if (x.cols != static_cast<int64_t>(idf_.size())) {
    return absl::InvalidArgumentError(absl::StrCat("TF-IDF: matrix has ", x.cols,
                                                   " peaks, the statistics ", idf_.size()));
  }
  data::CsrMatrix t;
  t.rows = x.rows;
  t.cols = x.cols;
  t.indptr = x.indptr;
  t.indices = x.indices;
  t.values.resize(x.indices.size());
  for (int64_t r = 0; r < x.rows; ++r) {
    const int64_t begin = x.indptr[r], end = x.indptr[r + 1];
    if (begin == end) continue;
    const double tf_scale = scale_ / static_cast<double>(end - begin);
    for (int64_t k = begin; k < end; ++k) {
      t.values[k] = static_cast<float>(std::log1p(tf_scale * idf_[x.indices[k]]));
    }
  }
  return t;
}

}  // namespace flsailer::sampling
