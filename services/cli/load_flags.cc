#include "services/cli/load_flags.h"

namespace flsailer::cli {

const std::set<std::string>& LoadFlagNames() {
  static const std::set<std::string>* names =
      new std::set<std::string>{"format", "metadata", "reference", "barcodes"};
  return *names;
}

const char kLoadFlagsHelp[] =
    "  --format auto|10x|h5|h5ad|fragments   input format (default: from the path)\n"
    "  --metadata TSV      cell metadata joined by barcode (default: cell_metadata.tsv beside)\n"
    "  --reference BED     map the data onto these peaks (required for fragments)\n"
    "  --barcodes TSV      cells to count from fragments (default: barcodes.tsv beside)\n";

absl::StatusOr<data::LoadOptions> LoadOptionsFromArgs(const Args& args) {
  data::LoadOptions options;
  const std::string format = args.Get("format", "auto");
  if (format == "auto") {
    options.format = data::InputFormat::kAuto;
  } else if (format == "10x") {
    options.format = data::InputFormat::kTenxFolder;
  } else if (format == "h5") {
    options.format = data::InputFormat::kTenxH5;
  } else if (format == "h5ad") {
    options.format = data::InputFormat::kH5ad;
  } else if (format == "fragments") {
    options.format = data::InputFormat::kFragments;
  } else {
    return absl::InvalidArgumentError("--format: expected auto, 10x, h5, h5ad or fragments");
  }
  options.metadata_path = args.Get("metadata");
  options.reference_bed = args.Get("reference");
  options.barcode_allowlist = args.Get("barcodes");
  return options;
}

}  // namespace flsailer::cli
