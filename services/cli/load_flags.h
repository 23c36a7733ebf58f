// The input-selection flags shared by every command that reads a dataset.
#ifndef FLSAILER_SERVICES_CLI_LOAD_FLAGS_H_
#define FLSAILER_SERVICES_CLI_LOAD_FLAGS_H_

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "libs/data/dataset.h"
#include "services/cli/args.h"

namespace flsailer::cli {

// --format, --metadata, --reference, --barcodes.
const std::set<std::string>& LoadFlagNames();
// One line per flag, for usage messages.
extern const char kLoadFlagsHelp[];
absl::StatusOr<data::LoadOptions> LoadOptionsFromArgs(const Args& args);

}  // namespace flsailer::cli

#endif  // FLSAILER_SERVICES_CLI_LOAD_FLAGS_H_
