// For tests that run services over mutual TLS on loopback: a federation CA and certificates
// written as PEM files (<dir>/ca.pem, <dir>/<id>.pem, <dir>/<id>.key) in a directory unique to the
// running test, and the credentials options naming them. Server certificates name 127.0.0.1.
// Test-only (flsailer_rpc_testing): keys are written unencrypted.
//
// Thread safety: none; one fixture per test.
#ifndef FLSAILER_LIBS_RPC_TEST_FEDERATION_H_
#define FLSAILER_LIBS_RPC_TEST_FEDERATION_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "libs/pki/pki.h"
#include "libs/rpc/credentials.h"

namespace flsailer::rpc {

class TestFederation {
 public:
  // A CA valid for a day, in <gtest temp dir>/<prefix>_<pid>_<test name> (created afresh).
  static absl::StatusOr<TestFederation> Create(const std::string& prefix);

  // Issues a certificate valid for an hour and writes it and its key.
  absl::Status Issue(pki::IdentityKind kind, const std::string& id);

  CredentialsOptions Credentials(const std::string& id) const;
  // A channel to `target` presenting `id`'s certificate.
  std::shared_ptr<grpc::Channel> Channel(const std::string& target, const std::string& id) const;

  const std::string& dir() const { return dir_; }
  const pki::KeyAndCertificate& ca() const { return ca_; }
  // What Issue made for `id`. REQUIRES: it was issued.
  const pki::KeyAndCertificate& key_and_certificate(const std::string& id) const {
    return issued_.at(id);
  }

 private:
  TestFederation(std::string dir, pki::KeyAndCertificate ca)
      : dir_(std::move(dir)), ca_(std::move(ca)) {}

  std::string dir_;
  pki::KeyAndCertificate ca_;
  std::map<std::string, pki::KeyAndCertificate> issued_;
};

}  // namespace flsailer::rpc

#endif  // FLSAILER_LIBS_RPC_TEST_FEDERATION_H_
