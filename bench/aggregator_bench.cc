// Secure aggregation, the server side (issue #6). Two measurements, printed as plain tables:
//
// 1. Unmasking time against dropouts. One round of libs/secagg's ServerSession and
//    ClientSessions in this process and thread (complete graph, default threshold t), repeated
//    with 0 to n - t clients dropping out after the share-keys stage: they never get the shares
//    delivery, so they send no masked input, and the stage closes (as at its deadline) once the
//    survivors' inputs are in. The server must then rebuild the dropped clients' masking keys and
//    regenerate their pairwise masks with every survivor, besides the survivors' self masks.
//    A client's messages go straight into the server session as they are sent, so a masked input
//    is added chunk by chunk. Per dropout count, the median over --repeats rounds of:
//      unmask: the server's time in the unmasking stage (taking the survivors' shares, rebuilding
//              the secrets, regenerating and removing the masks, decoding the sum);
//      server: the server's time over the whole round (mostly adding the masked chunks);
//      round:  the round's wall time from the first client's Start to the sum, with the clients'
//              work (key agreement, share encryption, masking every value) run in the same
//              thread, one client after another.
//    "masks" counts the keystreams the server removes: a self mask per survivor plus a pairwise
//    mask per (dropped client, survivor) pair; "GB/s" is their bytes over the unmask time.
//
// 2. The aggregator's peak memory. One round through aggregator::AggregatorCore (the aggregator
//    service's network-free core: the ServerSession and its per-client queues), with every
//    message in its protobuf form as on the wire. The clients run in a child process and talk to
//    this one over a Unix socket, sending their masked inputs chunk by chunk as they are made, so
//    this process holds only the aggregator's data. Its peak RSS growth over the round (VmHWM,
//    reset through /proc/self/clear_refs, minus VmRSS at the start) is printed in MB and as a
//    multiple of one vector of --memory-length words of the modulus width (target: <= 3x), once
//    for the masked-input stage (the running sum) and once for the whole round (the unmasking
//    stage decodes the sum into doubles, 8 bytes a value, giving the sum back as it goes).
//
// Every round's sum is checked against the inputs (within the fixed-point error bound).
//
//   aggregator_bench [--clients 10] [--length 1000000] [--repeats 7]
//                    [--memory-length 10000000] [--modulus-bits 64|32]
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "flsailer/v1/aggregator.pb.h"
#include "libs/common/status_macros.h"
#include "libs/pki/pki.h"
#include "libs/secagg/client.h"
#include "libs/secagg/config.h"
#include "libs/secagg/messages.h"
#include "libs/secagg/server.h"
#include "services/aggregator/aggregator_core.h"
#include "services/aggregator/proto_convert.h"

namespace flsailer {
namespace {

using secagg::ClientMessage;
using secagg::ClientSession;
using secagg::RoundContext;
using secagg::SecAggConfig;
using secagg::SecAggResult;
using secagg::ServerMessage;
using secagg::ServerSession;
using secagg::Stage;
using Clock = std::chrono::steady_clock;

constexpr char kJobId[] = "aggregator-bench";
constexpr double kMegabyte = 1e6;

struct Options {
  int clients = 10;
  int64_t length = 1'000'000;
  int repeats = 7;
  int64_t memory_length = 10'000'000;
  int modulus_bits = 64;
};

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

bool Ended(Stage stage) { return stage == Stage::kCompleted || stage == Stage::kAborted; }

// The federation: a CA and one institution certificate per client (ids sorted as numbered).
struct Federation {
  pki::KeyAndCertificate ca;
  std::vector<std::string> ids;
  std::vector<pki::KeyAndCertificate> credentials;  // by client number
};

absl::StatusOr<Federation> CreateFederation(int clients) {
  Federation federation;
  FLS_ASSIGN_OR_RETURN(federation.ca,
                       pki::CreateCa("bench federation", pki::ValidFor(absl::Hours(3))));
  pki::CertificateRequest request;
  request.validity = pki::ValidFor(absl::Hours(2));  // within the CA's validity
  request.identity.kind = pki::IdentityKind::kInstitution;
  for (int i = 0; i < clients; ++i) {
    request.identity.id = absl::StrCat("inst-", i < 10 ? "0" : "", i);
    FLS_ASSIGN_OR_RETURN(pki::KeyAndCertificate credentials,
                         pki::IssueCertificate(federation.ca, request));
    federation.ids.push_back(request.identity.id);
    federation.credentials.push_back(std::move(credentials));
  }
  return federation;
}

// Client `client`'s value `j`: spread over [-1, 1) (the default clip range), cheap to recompute.
double Value(int client, uint64_t j) {
  return static_cast<double>((j * 2654435761u + static_cast<uint64_t>(client) * 97u) % 2000) /
             1000.0 -
         1.0;
}
double Weight(int client) { return client + 1.0; }

std::vector<double> Values(int client, int64_t length) {
  std::vector<double> values(static_cast<size_t>(length));
  for (size_t j = 0; j < values.size(); ++j) values[j] = Value(client, j);
  return values;
}

absl::StatusOr<std::unique_ptr<ClientSession>> CreateClient(const Federation& federation,
                                                            const SecAggConfig& config,
                                                            const RoundContext& context, int client,
                                                            secagg::SendToServer* link) {
  return ClientSession::Create(config, context, federation.credentials[static_cast<size_t>(client)],
                               federation.ca.cert_pem, Values(client, config.vector_length),
                               Weight(client), link);
}

// OK when `result` is the sum over `contributors` (client numbers, ascending).
absl::Status CheckSum(const SecAggResult& result, const Federation& federation,
                      const SecAggConfig& config, const std::vector<int>& contributors) {
  std::vector<std::string> ids;
  double weight = 0;
  for (int c : contributors) {
    ids.push_back(federation.ids[static_cast<size_t>(c)]);
    weight += Weight(c);
  }
  if (result.contributors != ids || result.total_weight != weight ||
      result.sum.size() != static_cast<size_t>(config.vector_length)) {
    return absl::InternalError("the round summed other clients, weights or lengths");
  }
  const double bound = secagg::ValueCodec(config).ErrorBound(contributors.size());
  for (size_t j = 0; j < result.sum.size(); ++j) {
    double expected = 0;
    for (int c : contributors) expected += Value(c, j);
    if (std::abs(result.sum[j] - expected) > bound) {
      return absl::InternalError(absl::StrCat("sum value ", j, " is ", result.sum[j], ", expected ",
                                              expected, " within ", bound));
    }
  }
  return absl::OkStatus();
}

// ---- 1. Unmasking time against dropouts -------------------------------------------------------

struct RoundTimes {
  double unmask = 0;
  double server = 0;
  double round = 0;
};

// One round in process. A client's messages go straight into the server session when sent; the
// server's messages queue until the driver hands them to the clients. The clients numbered below
// `dropouts` vanish after the share-keys stage: messages to them are lost from then on.
class InProcessRound : public secagg::SendToClients {
 public:
  InProcessRound(const Federation& federation, const SecAggConfig& config, uint64_t round,
                 int dropouts)
      : federation_(federation), config_(config), context_{kJobId, round}, dropouts_(dropouts) {}

  absl::StatusOr<RoundTimes> Run() {
    FLS_ASSIGN_OR_RETURN(server_, ServerSession::Create(config_, context_, federation_.ids,
                                                        federation_.ca.cert_pem, this));
    const int n = static_cast<int>(federation_.ids.size());
    for (int i = 0; i < n; ++i) {
      links_.push_back(std::make_unique<Link>(this, federation_.ids[static_cast<size_t>(i)]));
      FLS_ASSIGN_OR_RETURN(std::unique_ptr<ClientSession> client,
                           CreateClient(federation_, config_, context_, i, links_.back().get()));
      clients_.emplace(federation_.ids[static_cast<size_t>(i)], std::move(client));
    }
    const auto start = Clock::now();
    for (auto& [id, client] : clients_) FLS_RETURN_IF_ERROR(client->Start());
    while (true) {
      if (!to_clients_.empty()) {
        auto [to, message] = std::move(to_clients_.front());
        to_clients_.pop_front();
        if (DropsOut(to) && secagg::StageOf(message) >= Stage::kMaskedInput) continue;
        FLS_RETURN_IF_ERROR(clients_.at(to)->OnMessage(message));
      } else if (!Ended(server_->stage())) {
        FLS_RETURN_IF_ERROR(OnServer([&] { return server_->CloseStage(); }));
      } else {
        break;
      }
    }
    FLS_RETURN_IF_ERROR(refused_);
    FLS_ASSIGN_OR_RETURN(SecAggResult result, OnServer([&] { return server_->TakeResult(); }));
    RoundTimes times;
    times.round = Seconds(start);
    // Taking the result (in stage kCompleted) ends the unmasking.
    times.unmask = server_seconds_[Stage::kUnmasking] + server_seconds_[Stage::kCompleted];
    for (const auto& [stage, seconds] : server_seconds_) times.server += seconds;
    std::vector<int> survivors;
    for (int i = dropouts_; i < n; ++i) survivors.push_back(i);
    FLS_RETURN_IF_ERROR(CheckSum(result, federation_, config_, survivors));
    return times;
  }

  absl::Status Send(const std::string& client_id, ServerMessage message) override {
    to_clients_.emplace_back(client_id, std::move(message));
    return absl::OkStatus();
  }

 private:
  class Link final : public secagg::SendToServer {
   public:
    Link(InProcessRound* round, std::string id) : round_(round), id_(std::move(id)) {}
    absl::Status Send(ClientMessage message) override {
      round_->ToServer(id_, message);
      return absl::OkStatus();
    }

   private:
    InProcessRound* round_;
    std::string id_;
  };

  bool DropsOut(const std::string& id) const {
    return std::find(federation_.ids.begin(), federation_.ids.begin() + dropouts_, id) !=
           federation_.ids.begin() + dropouts_;
  }

  // Runs `call` on the server, adding its time to the stage the server was in.
  template <typename F>
  auto OnServer(F&& call) -> decltype(call()) {
    const Stage stage = server_->stage();
    const auto start = Clock::now();
    auto out = call();
    server_seconds_[stage] += Seconds(start);
    return out;
  }

  void ToServer(const std::string& from, const ClientMessage& message) {
    absl::Status accepted = OnServer([&] { return server_->OnMessage(from, message); });
    if (refused_.ok()) refused_ = accepted;
  }

  const Federation& federation_;
  const SecAggConfig config_;
  const RoundContext context_;
  const int dropouts_;
  std::unique_ptr<ServerSession> server_;
  std::vector<std::unique_ptr<Link>> links_;
  std::map<std::string, std::unique_ptr<ClientSession>> clients_;
  std::deque<std::pair<std::string, ServerMessage>> to_clients_;
  std::map<Stage, double> server_seconds_;
  absl::Status refused_;
};

absl::Status PrintUnmaskingTable(const Federation& federation, const Options& options) {
  SecAggConfig config;
  config.vector_length = options.length;
  config.modulus_bits = options.modulus_bits;
  const int n = options.clients;
  FLS_ASSIGN_OR_RETURN(secagg::RoundPlan plan,
                       secagg::PlanRound(config, RoundContext{kJobId, 0}, n));
  std::printf(
      "== Unmasking vs dropouts: %d clients (complete graph, t = %d), %lld values, "
      "modulus 2^%d, median of %d rounds\n",
      n, plan.threshold, static_cast<long long>(options.length), options.modulus_bits,
      options.repeats);
  std::printf("%7s %9s %6s %11s %6s %11s %10s\n", "dropped", "survivors", "masks", "unmask ms",
              "GB/s", "server ms", "round ms");
  const double vector_bytes =
      static_cast<double>(options.length + 1) * static_cast<double>(options.modulus_bits / 8);
  uint64_t round = 0;
  for (int dropped = 0; dropped <= n - plan.threshold; ++dropped) {
    std::vector<double> unmask, server, total;
    for (int r = 0; r < options.repeats; ++r) {
      InProcessRound in_process(federation, config, ++round, dropped);
      FLS_ASSIGN_OR_RETURN(RoundTimes times, in_process.Run());
      unmask.push_back(times.unmask);
      server.push_back(times.server);
      total.push_back(times.round);
    }
    const int survivors = n - dropped;
    const int masks = survivors + dropped * survivors;
    std::printf("%7d %9d %6d %11.1f %6.2f %11.1f %10.1f\n", dropped, survivors, masks,
                1e3 * Median(unmask), masks * vector_bytes / Median(unmask) / 1e9,
                1e3 * Median(server), 1e3 * Median(total));
    std::fflush(stdout);
  }
  return absl::OkStatus();
}

// ---- 2. The aggregator's peak memory ----------------------------------------------------------

// A "VmRSS:" or "VmHWM:" figure of /proc/self/status, in bytes.
absl::StatusOr<double> ProcStatusBytes(absl::string_view field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (absl::string_view(line).substr(0, field.size()) != field) continue;
    std::istringstream kilobytes(line.substr(field.size()));
    double kb = 0;
    if (kilobytes >> kb) return kb * 1024;
  }
  return absl::InternalError(absl::StrCat("no ", field, " in /proc/self/status"));
}

// Sets VmHWM to the current VmRSS (Linux 4.0+).
absl::Status ResetPeakRss() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.close();
  if (!clear_refs) return absl::InternalError("cannot write /proc/self/clear_refs");
  return absl::OkStatus();
}

// Frames on the socket: a 4-byte little-endian length, then a serialised envelope.
absl::Status WriteFrame(int fd, const std::string& bytes) {
  const uint32_t size = static_cast<uint32_t>(bytes.size());
  const unsigned char length[4] = {
      static_cast<unsigned char>(size), static_cast<unsigned char>(size >> 8),
      static_cast<unsigned char>(size >> 16), static_cast<unsigned char>(size >> 24)};
  for (absl::string_view part :
       {absl::string_view(reinterpret_cast<const char*>(length), 4), absl::string_view(bytes)}) {
    while (!part.empty()) {
      const ssize_t sent = send(fd, part.data(), part.size(), MSG_NOSIGNAL);
      if (sent <= 0) return absl::UnavailableError("the other process closed the socket");
      part.remove_prefix(static_cast<size_t>(sent));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadExactly(int fd, char* out, size_t size) {
  while (size > 0) {
    const ssize_t got = read(fd, out, size);
    if (got <= 0) return absl::UnavailableError("the other process closed the socket");
    out += got;
    size -= static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

absl::Status ReadFrame(int fd, std::string* bytes) {
  unsigned char length[4];
  FLS_RETURN_IF_ERROR(ReadExactly(fd, reinterpret_cast<char*>(length), 4));
  bytes->resize(length[0] | length[1] << 8 | length[2] << 16 | uint32_t{length[3]} << 24);
  return ReadExactly(fd, bytes->data(), bytes->size());
}

// The clients' side: every message goes onto the socket as it is sent.
class SocketToServer final : public secagg::SendToServer {
 public:
  explicit SocketToServer(int fd) : fd_(fd) {}
  absl::Status Send(ClientMessage message) override {
    return WriteFrame(fd_, aggregator::ToProto(message).SerializeAsString());
  }

 private:
  int fd_;
};

// The child process: all the clients, fed the aggregator's messages from `fd`, until each has
// completed.
absl::Status RunClients(int fd, const Federation& federation, const SecAggConfig& config,
                        const RoundContext& context) {
  SocketToServer link(fd);
  std::map<std::string, std::unique_ptr<ClientSession>> clients;
  for (int i = 0; i < static_cast<int>(federation.ids.size()); ++i) {
    FLS_ASSIGN_OR_RETURN(clients[federation.ids[static_cast<size_t>(i)]],
                         CreateClient(federation, config, context, i, &link));
  }
  for (auto& [id, client] : clients) FLS_RETURN_IF_ERROR(client->Start());
  std::string frame;
  v1::ServerEnvelope envelope;
  for (size_t completed = 0; completed < clients.size();) {
    FLS_RETURN_IF_ERROR(ReadFrame(fd, &frame));
    if (!envelope.ParseFromString(frame)) return absl::DataLossError("a malformed envelope");
    FLS_ASSIGN_OR_RETURN(ServerMessage message, aggregator::FromProto(envelope));
    auto client = clients.find(secagg::HeaderOf(message).client_id);
    if (client == clients.end()) return absl::DataLossError("a message for no client");
    FLS_RETURN_IF_ERROR(client->second->OnMessage(message));
    if (client->second->stage() == Stage::kCompleted) ++completed;
  }
  return absl::OkStatus();
}

struct MemoryFigures {
  double masked_input_peak = 0;  // peak RSS growth until the unmasking stage, bytes
  double round_peak = 0;         // over the whole round
  double seconds = 0;
};

// This process: the aggregator, reading the clients' messages from `fd`.
absl::StatusOr<MemoryFigures> RunAggregator(int fd, const Federation& federation,
                                            const SecAggConfig& config,
                                            const RoundContext& context) {
  FLS_RETURN_IF_ERROR(ResetPeakRss());
  FLS_ASSIGN_OR_RETURN(const double baseline, ProcStatusBytes("VmRSS:"));
  const auto start = Clock::now();
  MemoryFigures figures;
  aggregator::AggregatorCore core(federation.ca.cert_pem);
  FLS_RETURN_IF_ERROR(core.OpenRound(context, federation.ids, config, absl::Hours(1)));
  std::map<std::string, std::unique_ptr<aggregator::ClientConnection>> connections;
  for (const std::string& id : federation.ids) {
    FLS_ASSIGN_OR_RETURN(connections[id], core.Connect(context, id));
  }
  auto all_ended = [&connections] {
    return std::all_of(connections.begin(), connections.end(),
                       [](const auto& connection) { return connection.second->ended(); });
  };
  std::string frame;
  v1::ClientEnvelope envelope;
  while (!all_ended()) {
    FLS_RETURN_IF_ERROR(ReadFrame(fd, &frame));
    if (!envelope.ParseFromString(frame)) return absl::DataLossError("a malformed envelope");
    FLS_ASSIGN_OR_RETURN(ClientMessage message, aggregator::FromProto(envelope));
    auto connection = connections.find(secagg::HeaderOf(message).client_id);
    if (connection == connections.end()) return absl::DataLossError("a message from no client");
    FLS_RETURN_IF_ERROR(connection->second->Deliver(message));
    for (auto& [id, to] : connections) {
      while (std::optional<ServerMessage> out = to->Next(absl::ZeroDuration())) {
        if (figures.masked_input_peak == 0 &&
            std::holds_alternative<secagg::UnmaskingRequest>(*out)) {
          FLS_ASSIGN_OR_RETURN(const double peak, ProcStatusBytes("VmHWM:"));
          figures.masked_input_peak = peak - baseline;
        }
        FLS_RETURN_IF_ERROR(WriteFrame(fd, aggregator::ToProto(*out).SerializeAsString()));
      }
    }
  }
  FLS_ASSIGN_OR_RETURN(std::shared_ptr<const aggregator::RoundOutcome> outcome,
                       core.AwaitResult(context, absl::InfiniteFuture()));
  figures.seconds = Seconds(start);
  FLS_ASSIGN_OR_RETURN(const double peak, ProcStatusBytes("VmHWM:"));
  figures.round_peak = peak - baseline;
  FLS_RETURN_IF_ERROR(outcome->result.status());
  std::vector<int> everyone(federation.ids.size());
  for (size_t i = 0; i < everyone.size(); ++i) everyone[i] = static_cast<int>(i);
  FLS_RETURN_IF_ERROR(CheckSum(*outcome->result, federation, config, everyone));
  return figures;
}

absl::StatusOr<MemoryFigures> MeasureAggregatorMemory(const Federation& federation,
                                                      const SecAggConfig& config) {
  const RoundContext context{kJobId, 0};
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) {
    return absl::InternalError("socketpair failed");
  }
  std::fflush(stdout);
  const pid_t child = fork();
  if (child < 0) return absl::InternalError("fork failed");
  if (child == 0) {
    close(fds[0]);
    absl::Status done = RunClients(fds[1], federation, config, context);
    if (!done.ok()) std::fprintf(stderr, "clients' process: %s\n", done.ToString().c_str());
    _exit(done.ok() ? 0 : 1);
  }
  close(fds[1]);
  absl::StatusOr<MemoryFigures> figures = RunAggregator(fds[0], federation, config, context);
  close(fds[0]);  // a child still waiting for messages reads the end of the stream
  int wait_status = 0;
  waitpid(child, &wait_status, 0);
  if (figures.ok() && !(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)) {
    return absl::InternalError("the clients' process failed");
  }
  return figures;
}

absl::Status PrintMemoryTable(const Federation& federation, const Options& options) {
  SecAggConfig config;
  config.vector_length = options.memory_length;
  config.modulus_bits = options.modulus_bits;
  const double vector_bytes =
      static_cast<double>(options.memory_length) * static_cast<double>(options.modulus_bits / 8);
  std::printf(
      "\n== Aggregator peak memory: %d clients x %lld values, modulus 2^%d "
      "(one vector: %.1f MB; clients in a child process)\n",
      options.clients, static_cast<long long>(options.memory_length), options.modulus_bits,
      vector_bytes / kMegabyte);
  std::fflush(stdout);
  FLS_ASSIGN_OR_RETURN(MemoryFigures figures, MeasureAggregatorMemory(federation, config));
  std::printf("%-34s %10s %12s\n", "aggregator RSS growth, peak", "MB", "x one vector");
  std::printf("%-34s %10.1f %12.2f\n", "  adding the masked inputs",
              figures.masked_input_peak / kMegabyte, figures.masked_input_peak / vector_bytes);
  std::printf("%-34s %10.1f %12.2f\n", "  whole round (with unmasking)",
              figures.round_peak / kMegabyte, figures.round_peak / vector_bytes);
  std::printf("target <= 3x one vector: %s; round time %.1f s\n",
              figures.round_peak <= 3 * vector_bytes ? "met" : "MISSED", figures.seconds);
  return absl::OkStatus();
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    const char* value = argv[++i];
    if (flag == "--clients") {
      o->clients = std::atoi(value);
    } else if (flag == "--length") {
      o->length = std::atoll(value);
    } else if (flag == "--repeats") {
      o->repeats = std::atoi(value);
    } else if (flag == "--memory-length") {
      o->memory_length = std::atoll(value);
    } else if (flag == "--modulus-bits") {
      o->modulus_bits = std::atoi(value);
    } else {
      return false;
    }
  }
  return o->clients >= 2 && o->clients <= 99 && o->length > 0 && o->repeats > 0 &&
         o->memory_length > 0 && (o->modulus_bits == 32 || o->modulus_bits == 64);
}

int Main(int argc, char** argv) {
  Options options;
  if (!ParseArgs(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: aggregator_bench [--clients 10] [--length 1000000] [--repeats 7]\n"
                 "                        [--memory-length 10000000] [--modulus-bits 64|32]\n");
    return 2;
  }
  absl::StatusOr<Federation> federation = CreateFederation(options.clients);
  absl::Status done = federation.status();
  if (done.ok()) done = PrintUnmaskingTable(*federation, options);
  if (done.ok()) done = PrintMemoryTable(*federation, options);
  if (!done.ok()) {
    std::fprintf(stderr, "aggregator_bench: %s\n", done.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace flsailer

int main(int argc, char** argv) { return flsailer::Main(argc, argv); }
