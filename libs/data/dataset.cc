#include "libs/data/dataset.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/data/fragments.h"
#include "libs/data/isolated_reader.h"
#include "libs/data/matrix_market.h"
#include "libs/data/peak_mapping.h"

namespace flsailer::data {
namespace {

std::string Dirname(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// `<dir>/<name>` or `<dir>/<name>.gz`, whichever exists; empty if neither.
std::string FindMaybeGzipped(const std::string& dir, const std::string& name) {
  for (const std::string& candidate : {absl::StrCat(dir, "/", name), absl::StrCat(dir, "/", name, ".gz")}) {
    if (FileExists(candidate)) return candidate;
  }
  return "";
}

absl::StatusOr<std::string> RequireFile(const std::string& dir, const std::string& name) {
  std::string path = FindMaybeGzipped(dir, name);
  if (path.empty()) {
    return absl::NotFoundError(absl::StrCat(dir, ": no ", name, " or ", name, ".gz"));
  }
  return path;
}

absl::StatusOr<Dataset> LoadTenxFolder(const std::string& dir) {
  Dataset ds;
  FLS_ASSIGN_OR_RETURN(std::string barcodes_path, RequireFile(dir, "barcodes.tsv"));
  FLS_ASSIGN_OR_RETURN(std::string matrix_path, RequireFile(dir, "matrix.mtx"));
  FLS_ASSIGN_OR_RETURN(ds.barcodes, ReadBarcodes(barcodes_path));
  MtxReadOptions mtx;
  mtx.cells = static_cast<int64_t>(ds.barcodes.size());
  const std::string peaks_path = FindMaybeGzipped(dir, "peaks.bed");
  const std::string features_path = FindMaybeGzipped(dir, "features.tsv");
  if (peaks_path.empty() && features_path.empty()) {
    return absl::NotFoundError(
        absl::StrCat(dir, ": no peaks.bed[.gz] or features.tsv[.gz] (the matrix's peaks)"));
  }
  if (!peaks_path.empty()) {
    FLS_ASSIGN_OR_RETURN(ds.peaks, ReadBed(peaks_path));
    mtx.peaks = static_cast<int64_t>(ds.peaks.size());
    FLS_ASSIGN_OR_RETURN(ds.matrix, ReadMatrixMarket(matrix_path, mtx));
    return ds;
  }
  // A Cell Ranger ARC folder: the matrix rows are features, of which the peaks are kept.
  FLS_ASSIGN_OR_RETURN(FeatureTable features, ReadFeatures(features_path));
  mtx.peaks = features.features;
  FLS_ASSIGN_OR_RETURN(ds.matrix, ReadMatrixMarket(matrix_path, mtx));
  if (static_cast<int64_t>(features.rows.size()) != features.features) {
    ds.matrix = ds.matrix.SelectColumns(features.rows);
  }
  ds.peaks = std::move(features.peaks);
  return ds;
}

}  // namespace

absl::Status Dataset::Validate() const {
  const std::string source = this->source.empty() ? "dataset" : this->source;
  if (absl::Status s = matrix.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": matrix: ", s.message()));
  }
  if (static_cast<int64_t>(barcodes.size()) != matrix.rows) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", barcodes.size(),
                                                   " barcodes for ", matrix.rows, " cells"));
  }
  if (static_cast<int64_t>(peaks.size()) != matrix.cols) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", peaks.size(), " peaks for ", matrix.cols, " matrix columns"));
  }
  if (metadata.columns.size() != metadata.names.size()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": metadata names/columns differ"));
  }
  for (size_t c = 0; c < metadata.columns.size(); ++c) {
    if (static_cast<int64_t>(metadata.columns[c].size()) != matrix.rows) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": metadata column '",
                                                     metadata.names[c], "' has ",
                                                     metadata.columns[c].size(), " rows"));
    }
  }
  for (const auto& [key, m] : obsm) {
    if (m.rows != matrix.rows || static_cast<int64_t>(m.data.size()) != m.rows * m.cols) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": obsm '", key, "' is ", m.rows,
                                                     " x ", m.cols, " for ", matrix.rows,
                                                     " cells"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<InputFormat> DetectInputFormat(const std::string& path) {
  if (IsDirectory(path)) return InputFormat::kTenxFolder;
  if (!FileExists(path)) return absl::NotFoundError(absl::StrCat(path, ": no such file or folder"));
  if (absl::EndsWith(path, ".h5ad")) return InputFormat::kH5ad;
  if (absl::EndsWith(path, ".h5")) return InputFormat::kTenxH5;
  if (absl::EndsWith(path, ".tsv.gz") || absl::EndsWith(path, ".tsv") ||
      absl::EndsWith(path, ".bed.gz")) {
    return InputFormat::kFragments;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      path, ": unknown input format (expected a 10x folder, .h5, .h5ad or fragments.tsv.gz)"));
}

absl::StatusOr<Dataset> LoadDataset(const std::string& path, const LoadOptions& options) {
  InputFormat format = options.format;
  if (format == InputFormat::kAuto) {
    FLS_ASSIGN_OR_RETURN(format, DetectInputFormat(path));
  }
  const std::string folder = format == InputFormat::kTenxFolder ? path : Dirname(path);
  std::vector<Peak> reference;
  if (!options.reference_bed.empty()) {
    FLS_ASSIGN_OR_RETURN(reference, ReadBed(options.reference_bed));
  }

  Dataset ds;
  switch (format) {
    case InputFormat::kTenxFolder: {
      FLS_ASSIGN_OR_RETURN(ds, LoadTenxFolder(path));
      break;
    }
    // HDF5 files are read in a helper process: libhdf5 itself can crash on corrupt files.
    case InputFormat::kTenxH5:
    case InputFormat::kH5ad: {
      FLS_ASSIGN_OR_RETURN(std::string helper, HelperReaderPath());
      FLS_ASSIGN_OR_RETURN(
          ds, ReadInHelperProcess({helper, format == InputFormat::kH5ad ? "h5ad" : "10x-h5"}, path));
      break;
    }
    case InputFormat::kFragments: {
      if (reference.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": counting fragments needs a reference peak set (BED)"));
      }
      FragmentCountOptions count_options;
      std::string allowlist = options.barcode_allowlist;
      if (allowlist.empty()) allowlist = FindMaybeGzipped(folder, "barcodes.tsv");
      if (!allowlist.empty()) {
        FLS_ASSIGN_OR_RETURN(count_options.allowlist, ReadBarcodes(allowlist));
      }
      FLS_ASSIGN_OR_RETURN(auto reader, LineReader::OpenFile(path));
      FLS_ASSIGN_OR_RETURN(ds, CountFragments(*reader, reference, count_options));
      break;
    }
    case InputFormat::kAuto:
      return absl::InternalError("unreachable");
  }
  ds.source = path;

  if (!reference.empty() && format != InputFormat::kFragments && !(ds.peaks == reference)) {
    FLS_ASSIGN_OR_RETURN(ds.matrix, MapToReference(ds.matrix, ds.peaks, reference));
    ds.peaks = std::move(reference);
  }

  std::string metadata_path = options.metadata_path;
  if (metadata_path.empty() && format != InputFormat::kH5ad && format != InputFormat::kTenxH5) {
    metadata_path = FindMaybeGzipped(folder, "cell_metadata.tsv");
  }
  if (!metadata_path.empty()) {
    FLS_ASSIGN_OR_RETURN(ds.metadata, ReadCellMetadata(metadata_path, ds.barcodes));
  }
  FLS_RETURN_IF_ERROR(ds.Validate());
  return ds;
}

}  // namespace flsailer::data
