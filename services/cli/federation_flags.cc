#include "services/cli/federation_flags.h"

namespace flsailer::cli {

const std::set<std::string>& TlsFlagNames() {
  static const std::set<std::string> names = {"ca", "cert", "key"};
  return names;
}

const char kTlsFlagsHelp[] =
    "  --ca PEM            the federation CA certificate (flsailer pki init)\n"
    "  --cert PEM --key PEM   this process's certificate and key (flsailer pki issue)\n"
    "  --insecure-plaintext-dev   no TLS, no authentication (local development only)\n";

absl::StatusOr<rpc::CredentialsOptions> CredentialsFromArgs(const Args& args) {
  rpc::CredentialsOptions options;
  if (args.Has("insecure-plaintext-dev")) {
    options.insecure_plaintext_for_development = true;
    return options;
  }
  absl::StatusOr<std::string> ca = args.Required("ca");
  absl::StatusOr<std::string> cert = args.Required("cert");
  absl::StatusOr<std::string> key = args.Required("key");
  for (const auto* s : {&ca, &cert, &key}) {
    if (!s->ok()) return s->status();
  }
  options.ca_cert_path = *ca;
  options.cert_path = *cert;
  options.key_path = *key;
  return options;
}

}  // namespace flsailer::cli
