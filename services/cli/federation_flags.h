// Flags shared by the commands that speak to the federation: the mTLS files and the coordinator.
#ifndef FLSAILER_SERVICES_CLI_FEDERATION_FLAGS_H_
#define FLSAILER_SERVICES_CLI_FEDERATION_FLAGS_H_

#include <set>
#include <string>

#include "libs/rpc/credentials.h"
#include "services/cli/args.h"

namespace flsailer::cli {

// --ca, --cert, --key, --insecure-plaintext-dev (switch).
const std::set<std::string>& TlsFlagNames();
extern const char kTlsFlagsHelp[];
// Fails unless --ca, --cert and --key are all given (or the explicit development switch).
absl::StatusOr<rpc::CredentialsOptions> CredentialsFromArgs(const Args& args);

}  // namespace flsailer::cli

#endif  // FLSAILER_SERVICES_CLI_FEDERATION_FLAGS_H_
