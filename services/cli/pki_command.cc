// `flsailer pki init|issue`: the federation CA and the certificates of its members, as files in
// one directory (DIR/ca.pem, DIR/ca.key, DIR/<id>.pem, DIR/<id>.key).
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/pki/pki.h"
#include "services/cli/args.h"
#include "services/cli/commands.h"

namespace flsailer::cli {
namespace {

constexpr int64_t kDefaultCaDays = 3650;
constexpr int64_t kDefaultLeafDays = 365;
constexpr int64_t kMaxDays = 36500;

constexpr char kUsage[] =
    "usage: flsailer pki init --dir DIR [--days N] [--name NAME]\n"
    "       flsailer pki issue --dir DIR --kind server|institution|admin --id ID\n"
    "                          [--dns NAME]... [--ip ADDR]... [--days N]\n"
    "init   creates the federation CA: DIR/ca.pem (share with every member) and DIR/ca.key\n"
    "       (keep offline; mode 0600). Refuses to replace an existing CA.\n"
    "       --days N     validity (default 3650)   --name NAME   CA name (FL-Sailer federation)\n"
    "issue  signs a new ECDSA P-256 key for an identity with the CA in DIR, writing DIR/ID.pem\n"
    "       and DIR/ID.key (0600). Issuing again for the same ID rotates the pair in place;\n"
    "       running services pick the new files up.\n"
    "       --kind K     server (coordinator, aggregator), institution or admin\n"
    "       --id ID      1-64 characters of A-Z a-z 0-9 . _ -\n"
    "       --dns NAME   host name clients dial (server only; repeatable)\n"
    "       --ip ADDR    IP address clients dial (server only; repeatable)\n"
    "       --days N     validity (default 365; at most the CA's remaining validity)\n";

std::string FormatUtc(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

absl::StatusOr<absl::Duration> DaysFlag(const Args& args, int64_t fallback) {
  FLS_ASSIGN_OR_RETURN(const int64_t days, args.GetInt("days", fallback));
  if (days < 1 || days > kMaxDays) {
    return absl::InvalidArgumentError(absl::StrCat("--days must be in [1, ", kMaxDays, "]"));
  }
  return absl::Hours(24 * days);
}

absl::Status Init(const Args& args) {
  FLS_ASSIGN_OR_RETURN(const std::string dir, args.Required("dir"));
  FLS_ASSIGN_OR_RETURN(const absl::Duration validity, DaysFlag(args, kDefaultCaDays));
  const std::string cert_path = dir + "/ca.pem";
  const std::string key_path = dir + "/ca.key";
  for (const std::string& path : {cert_path, key_path}) {
    if (FileExists(path)) {
      return absl::AlreadyExistsError(absl::StrCat(
          path, " exists: refusing to replace the federation CA (every certificate it issued "
                "would stop being trusted); remove it first or use another --dir"));
    }
  }
  FLS_RETURN_IF_ERROR(MakeDirectories(dir));
  const pki::Validity period = pki::ValidFor(validity);
  FLS_ASSIGN_OR_RETURN(const pki::KeyAndCertificate ca,
                       pki::CreateCa(args.Get("name", "FL-Sailer federation"), period));
  FLS_RETURN_IF_ERROR(pki::WriteKeyAndCertificate(ca, key_path, cert_path));
  std::printf("created the federation CA %s (key %s, mode 0600), valid until %s\n",
              cert_path.c_str(), key_path.c_str(), FormatUtc(period.not_after).c_str());
  return absl::OkStatus();
}

absl::Status Issue(const Args& args) {
  FLS_ASSIGN_OR_RETURN(const std::string dir, args.Required("dir"));
  FLS_ASSIGN_OR_RETURN(const std::string kind, args.Required("kind"));
  FLS_ASSIGN_OR_RETURN(const std::string id, args.Required("id"));
  FLS_ASSIGN_OR_RETURN(const absl::Duration validity, DaysFlag(args, kDefaultLeafDays));
  pki::CertificateRequest request;
  FLS_ASSIGN_OR_RETURN(request.identity.kind, pki::ParseKind(kind));
  request.identity.id = id;
  FLS_RETURN_IF_ERROR(pki::ValidateId(id));
  if (id == "ca") {
    return absl::InvalidArgumentError("the id 'ca' is reserved: DIR/ca.pem is the CA itself");
  }
  request.dns_names = args.GetAll("dns");
  request.ip_addresses = args.GetAll("ip");
  if (request.identity.kind == pki::IdentityKind::kServer && request.dns_names.empty() &&
      request.ip_addresses.empty()) {
    return absl::InvalidArgumentError(
        "a server certificate needs at least one --dns or --ip: clients check the name they "
        "dial against it");
  }
  request.validity = pki::ValidFor(validity);
  FLS_ASSIGN_OR_RETURN(const pki::KeyAndCertificate ca,
                       pki::ReadKeyAndCertificate(dir + "/ca.key", dir + "/ca.pem"));
  FLS_ASSIGN_OR_RETURN(const pki::KeyAndCertificate issued,
                       pki::IssueCertificate(ca, request));
  const std::string cert_path = absl::StrCat(dir, "/", id, ".pem");
  const std::string key_path = absl::StrCat(dir, "/", id, ".key");
  const bool rotated = FileExists(cert_path);
  FLS_RETURN_IF_ERROR(pki::WriteKeyAndCertificate(issued, key_path, cert_path));
  std::printf("%s %s (key %s, mode 0600): %s, valid until %s\n",
              rotated ? "replaced" : "issued", cert_path.c_str(), key_path.c_str(),
              pki::IdentityUri(request.identity).c_str(),
              FormatUtc(request.validity.not_after).c_str());
  return absl::OkStatus();
}

}  // namespace

int RunPki(int argc, char** argv) {
  const std::string subcommand = argc > 0 ? argv[0] : "";
  if (subcommand == "--help" || subcommand == "-h") {
    return PrintUsage("pki", absl::OkStatus(), kUsage);
  }
  std::set<std::string> flags;
  absl::Status (*run)(const Args&) = nullptr;
  if (subcommand == "init") {
    flags = {"dir", "days", "name"};
    run = Init;
  } else if (subcommand == "issue") {
    flags = {"dir", "days", "kind", "id", "dns", "ip"};
    run = Issue;
  } else {
    return PrintUsage("pki", absl::InvalidArgumentError("expected 'init' or 'issue'"), kUsage);
  }
  auto args = Args::Parse(argc - 1, argv + 1, flags, {"help"});
  if (!args.ok()) return PrintUsage("pki", args.status(), kUsage);
  if (args->Has("help")) return PrintUsage("pki", absl::OkStatus(), kUsage);
  if (!args->positional().empty()) {
    return PrintUsage("pki", absl::InvalidArgumentError("unexpected arguments"), kUsage);
  }
  absl::Status status = run(*args);
  return status.ok() ? 0 : PrintError(absl::StrCat("pki ", subcommand), status);
}

}  // namespace flsailer::cli
