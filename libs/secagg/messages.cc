#include "libs/secagg/messages.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace flsailer::secagg {
namespace {

// The stage each message type belongs to; AbortRound has none of its own.
Stage TypeStage(const AdvertiseKeys&) { return Stage::kAdvertiseKeys; }
Stage TypeStage(const KeysBroadcast&) { return Stage::kShareKeys; }
Stage TypeStage(const ShareKeys&) { return Stage::kShareKeys; }
Stage TypeStage(const SharesDelivery&) { return Stage::kMaskedInput; }
Stage TypeStage(const MaskedInputChunk&) { return Stage::kMaskedInput; }
Stage TypeStage(const UnmaskingRequest&) { return Stage::kUnmasking; }
Stage TypeStage(const UnmaskingShares&) { return Stage::kUnmasking; }
Stage TypeStage(const AbortRound& abort) { return abort.header.stage; }

}  // namespace

std::string DescribeContext(const RoundContext& context) {
  return absl::StrCat("job '", absl::CHexEscape(context.job_id), "' round ", context.round);
}

absl::string_view StageName(Stage stage) {
  switch (stage) {
    case Stage::kAdvertiseKeys:
      return "advertise keys";
    case Stage::kShareKeys:
      return "share keys";
    case Stage::kMaskedInput:
      return "masked input";
    case Stage::kUnmasking:
      return "unmasking";
    case Stage::kCompleted:
      return "completed";
    case Stage::kAborted:
      return "aborted";
  }
  return "unknown stage";
}

const MessageHeader& HeaderOf(const ClientMessage& message) {
  return std::visit([](const auto& m) -> const MessageHeader& { return m.header; }, message);
}

const MessageHeader& HeaderOf(const ServerMessage& message) {
  return std::visit([](const auto& m) -> const MessageHeader& { return m.header; }, message);
}

Stage StageOf(const ClientMessage& message) {
  return std::visit([](const auto& m) { return TypeStage(m); }, message);
}

Stage StageOf(const ServerMessage& message) {
  return std::visit([](const auto& m) { return TypeStage(m); }, message);
}

}  // namespace flsailer::secagg
