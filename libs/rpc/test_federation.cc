#include "libs/rpc/test_federation.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"

namespace flsailer::rpc {

absl::StatusOr<TestFederation> TestFederation::Create(const std::string& prefix) {
  const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string dir = absl::StrCat(::testing::TempDir(), "/", prefix, "_", getpid(), "_",
                                       test != nullptr ? test->name() : "none");
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);  // a fresh federation for every run of the test
  FLS_RETURN_IF_ERROR(MakeDirectories(dir));
  FLS_ASSIGN_OR_RETURN(pki::KeyAndCertificate ca,
                       pki::CreateCa("test federation", pki::ValidFor(absl::Hours(24))));
  FLS_RETURN_IF_ERROR(WriteFileAtomically(dir + "/ca.pem", ca.cert_pem));
  return TestFederation(dir, std::move(ca));
}

absl::Status TestFederation::Issue(pki::IdentityKind kind, const std::string& id) {
  pki::CertificateRequest request;
  request.identity = {kind, id};
  if (kind == pki::IdentityKind::kServer) request.ip_addresses = {"127.0.0.1"};
  request.validity = pki::ValidFor(absl::Hours(1));
  FLS_ASSIGN_OR_RETURN(pki::KeyAndCertificate issued, pki::IssueCertificate(ca_, request));
  FLS_RETURN_IF_ERROR(pki::WriteKeyAndCertificate(issued, absl::StrCat(dir_, "/", id, ".key"),
                                                  absl::StrCat(dir_, "/", id, ".pem")));
  issued_[id] = std::move(issued);
  return absl::OkStatus();
}

CredentialsOptions TestFederation::Credentials(const std::string& id) const {
  CredentialsOptions c;
  c.ca_cert_path = dir_ + "/ca.pem";
  c.cert_path = absl::StrCat(dir_, "/", id, ".pem");
  c.key_path = absl::StrCat(dir_, "/", id, ".key");
  return c;
}

std::shared_ptr<grpc::Channel> TestFederation::Channel(const std::string& target,
                                                       const std::string& id) const {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      ChannelCredentials(Credentials(id));
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  return grpc::CreateChannel(target, credentials.value_or(nullptr));
}

}  // namespace flsailer::rpc
