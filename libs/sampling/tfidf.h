// TF-IDF of a binarised cells x peaks matrix, split into what each institution computes on its
// own cells (sums) and the transform everyone applies once the sums are combined.
//
//   tf_ij  = x_ij / (number of open peaks of cell i)          (x binarised)
//   T_ij   = log(1 + tf_ij * idf_j * scale)                   (Signac's "log(TF x IDF x 10^4)")
//   idf_j  = log(1 + N / df_j)  (kLogInverse, DESIGN.md §2)  or  N / df_j  (kInverse, Signac)
// with N the number of cells and df_j the number of cells with peak j open, over all
// institutions. Peaks open in no cell get idf 0 (their column of T is empty).
#ifndef FLSAILER_LIBS_SAMPLING_TFIDF_H_
#define FLSAILER_LIBS_SAMPLING_TFIDF_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "libs/data/csr_matrix.h"

namespace flsailer::sampling {

// The federated statistics of TF-IDF: additive over institutions.
struct TfIdfSums {
  int64_t cells = 0;
  std::vector<double> document_frequency;  // per peak: cells with the peak open

  // Adds another institution's sums. REQUIRES: same number of peaks.
  absl::Status Add(const TfIdfSums& other);
};

// What one institution contributes: its number of cells and per-peak open counts.
TfIdfSums LocalTfIdfSums(const data::CsrMatrix& x);

enum class IdfKind { kLogInverse, kInverse };

struct TfIdfOptions {
  IdfKind idf = IdfKind::kLogInverse;
  double scale = 1e4;
};

class TfIdf {
 public:
  // Fails on no cells, negative or NaN sums, or a document frequency above the cell count.
  static absl::StatusOr<TfIdf> FromSums(const TfIdfSums& sums, const TfIdfOptions& options = {});

  // T for the rows of `x` (binarised; same peaks as the sums). Same sparsity pattern as x; rows
  // with no open peak stay empty. Deterministic: a row's values depend only on that row.
  absl::StatusOr<data::CsrMatrix> Transform(const data::CsrMatrix& x) const;

  const std::vector<double>& idf() const { return idf_; }

 private:
  std::vector<double> idf_;
  double scale_ = 1e4;
};

}  // namespace flsailer::sampling

#endif  // FLSAILER_LIBS_SAMPLING_TFIDF_H_
