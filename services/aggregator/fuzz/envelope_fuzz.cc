// libFuzzer target: what a peer can send the aggregator or a client. The input is a sequence of
// messages (2-byte little-endian length, then the bytes), each parsed as a ClientEnvelope,
// converted and handed to a fresh round's ServerSession as one of three institutions in turn,
// and also parsed as a ServerEnvelope and converted. Parse errors and refusals are expected;
// a crash, a hang, or a converted message that does not convert back and forth is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "libs/pki/pki.h"
#include "libs/secagg/server.h"
#include "services/aggregator/proto_convert.h"

namespace {

using flsailer::aggregator::FromProto;
using flsailer::aggregator::ToProto;

class Discard final : public flsailer::secagg::SendToClients {
 public:
  absl::Status Send(const std::string&, flsailer::secagg::ServerMessage) override {
    return absl::OkStatus();
  }
};

const std::string& CaPem() {
  static const std::string* pem = [] {
    auto ca = flsailer::pki::CreateCa("fuzz federation",
                                      flsailer::pki::ValidFor(absl::Hours(24)));
    if (!ca.ok()) __builtin_trap();
    return new std::string(ca->cert_pem);
  }();
  return *pem;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<std::string> clients = {"hospital-a", "hospital-b", "hospital-c"};
  flsailer::secagg::SecAggConfig config;
  config.vector_length = 4;
  Discard discard;
  auto session =
      flsailer::secagg::ServerSession::Create(config, {"job-1", 1}, clients, CaPem(), &discard);
  if (!session.ok()) __builtin_trap();
  size_t at = 0;
  for (int index = 0; at + 2 <= size; ++index) {
    const size_t length = std::min<size_t>(data[at] | (size_t{data[at + 1]} << 8), size - at - 2);
    const std::string bytes(reinterpret_cast<const char*>(data + at + 2), length);
    at += 2 + length;

    flsailer::v1::ClientEnvelope from_client;
    if (from_client.ParseFromString(bytes)) {
      absl::StatusOr<flsailer::secagg::ClientMessage> message = FromProto(from_client);
      if (message.ok()) {
        if (!FromProto(ToProto(*message)).ok()) __builtin_trap();
        (*session)->OnMessage(clients[index % clients.size()], *message).IgnoreError();
      }
    }
    flsailer::v1::ServerEnvelope from_server;
    if (from_server.ParseFromString(bytes)) {
      absl::StatusOr<flsailer::secagg::ServerMessage> message = FromProto(from_server);
      if (message.ok() && !FromProto(ToProto(*message)).ok()) __builtin_trap();
    }
  }
  (*session)->CloseStage().IgnoreError();
  return 0;
}
