#include "services/aggregator/proto_convert.h"

#include <string>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"

namespace flsailer::aggregator {
namespace {

void HeaderToProto(const secagg::MessageHeader& h, v1::SecAggHeader* out) {
  out->set_job_id(h.context.job_id);
  out->set_round(h.context.round);
  out->set_stage(ToProto(h.stage));
  out->set_client_id(h.client_id);
}

absl::StatusOr<secagg::MessageHeader> HeaderFromProto(const v1::SecAggHeader& h) {
  secagg::MessageHeader out;
  out.context.job_id = h.job_id();
  out.context.round = h.round();
  FLS_ASSIGN_OR_RETURN(out.stage, FromProto(h.stage()));
  out.client_id = h.client_id();
  return out;
}

void KeysToProto(const secagg::SignedKeys& k, v1::SecAggSignedKeys* out) {
  out->set_client_id(k.client_id);
  out->set_certificate_pem(k.certificate_pem);
  out->set_encryption_key(k.encryption_key);
  out->set_masking_key(k.masking_key);
  out->set_signature(k.signature);
}

secagg::SignedKeys KeysFromProto(const v1::SecAggSignedKeys& k) {
  secagg::SignedKeys out;
  out.client_id = k.client_id();
  out.certificate_pem = k.certificate_pem();
  out.encryption_key = k.encryption_key();
  out.masking_key = k.masking_key();
  out.signature = k.signature();
  return out;
}

void ShareToProto(const secagg::EncryptedShare& s, v1::SecAggEncryptedShare* out) {
  out->set_owner(s.owner);
  out->set_holder(s.holder);
  out->set_ciphertext(s.ciphertext);
}

secagg::EncryptedShare ShareFromProto(const v1::SecAggEncryptedShare& s) {
  return secagg::EncryptedShare{s.owner(), s.holder(), s.ciphertext()};
}

void RevealedToProto(const secagg::RevealedShare& s, v1::SecAggRevealedShare* out) {
  out->set_owner(s.owner);
  out->set_value(s.value);
}

// The envelope repeats the header's job, round and stage.
template <typename Envelope>
void FillEnvelope(const secagg::MessageHeader& h, Envelope* out) {
  out->set_job_id(h.context.job_id);
  out->set_round(h.context.round);
  out->set_stage(ToProto(h.stage));
}

template <typename Envelope>
absl::Status CheckEnvelope(const Envelope& envelope, const secagg::MessageHeader& h) {
  if (envelope.job_id() != h.context.job_id || envelope.round() != h.context.round ||
      envelope.stage() != ToProto(h.stage)) {
    return absl::InvalidArgumentError(
        "the envelope's job id, round or stage differ from its message's header");
  }
  return absl::OkStatus();
}

}  // namespace

v1::SecAggStage ToProto(secagg::Stage stage) {
  return static_cast<v1::SecAggStage>(static_cast<int>(stage));
}

absl::StatusOr<secagg::Stage> FromProto(v1::SecAggStage stage) {
  int s = static_cast<int>(stage);
  if (s < 1 || s > 6) return absl::InvalidArgumentError(absl::StrCat("unknown stage ", s));
  return static_cast<secagg::Stage>(s);
}

v1::SecAggConfig ToProto(const secagg::SecAggConfig& c) {
  v1::SecAggConfig out;
  out.set_vector_length(c.vector_length);
  out.set_modulus_bits(c.modulus_bits);
  out.set_clip_range(c.clip_range);
  out.set_scale_bits(c.scale_bits);
  out.set_max_weight(c.max_weight);
  out.set_weight_scale_bits(c.weight_scale_bits);
  out.set_graph_threshold(c.graph_threshold);
  out.set_degree(c.degree);
  out.set_threshold(c.threshold);
  out.set_graph_seed(c.graph_seed);
  out.set_chunk_words(c.chunk_words);
  return out;
}

secagg::SecAggConfig FromProto(const v1::SecAggConfig& c) {
  secagg::SecAggConfig out;
  out.vector_length = c.vector_length();
  out.modulus_bits = c.modulus_bits();
  out.clip_range = c.clip_range();
  out.scale_bits = c.scale_bits();
  out.max_weight = c.max_weight();
  out.weight_scale_bits = c.weight_scale_bits();
  out.graph_threshold = c.graph_threshold();
  out.degree = c.degree();
  out.threshold = c.threshold();
  out.graph_seed = c.graph_seed();
  out.chunk_words = c.chunk_words();
  return out;
}

v1::ClientEnvelope ToProto(const secagg::ClientMessage& message) {
  v1::ClientEnvelope out;
  FillEnvelope(secagg::HeaderOf(message), &out);
  std::visit(
      [&out](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, secagg::AdvertiseKeys>) {
          auto* p = out.mutable_advertise_keys();
          HeaderToProto(m.header, p->mutable_header());
          KeysToProto(m.keys, p->mutable_keys());
        } else if constexpr (std::is_same_v<T, secagg::ShareKeys>) {
          auto* p = out.mutable_share_keys();
          HeaderToProto(m.header, p->mutable_header());
          p->set_self_mask_commitment(m.self_mask_commitment);
          for (const auto& s : m.shares) ShareToProto(s, p->add_shares());
        } else if constexpr (std::is_same_v<T, secagg::MaskedInputChunk>) {
          auto* p = out.mutable_masked_input();
          HeaderToProto(m.header, p->mutable_header());
          p->set_vector_words(m.vector_words);
          p->set_offset(m.offset);
          p->set_words(m.words);
        } else if constexpr (std::is_same_v<T, secagg::UnmaskingShares>) {
          auto* p = out.mutable_unmasking_shares();
          HeaderToProto(m.header, p->mutable_header());
          for (const auto& s : m.self_mask_shares) RevealedToProto(s, p->add_self_mask_shares());
          for (const auto& s : m.masking_key_shares) {
            RevealedToProto(s, p->add_masking_key_shares());
          }
        } else {
          static_assert(std::is_same_v<T, secagg::AbortRound>);
          auto* p = out.mutable_abort();
          HeaderToProto(m.header, p->mutable_header());
          p->set_reason(m.reason);
        }
      },
      message);
  return out;
}

absl::StatusOr<secagg::ClientMessage> FromProto(const v1::ClientEnvelope& e) {
  secagg::ClientMessage out;
  switch (e.message_case()) {
    case v1::ClientEnvelope::kAdvertiseKeys: {
      secagg::AdvertiseKeys m;
      FLS_ASSIGN_OR_RETURN(m.header, HeaderFromProto(e.advertise_keys().header()));
      m.keys = KeysFromProto(e.advertise_keys().keys());
      out = std::move(m);
      break;
    }
    case v1::ClientEnvelope::kShareKeys: {
      secagg::ShareKeys m;
      FLS_ASSIGN_OR_RETURN(m.header, HeaderFromProto(e.share_keys().header()));
      m.self_mask_commitment = e.share_keys().self_mask_commitment();
      for (const auto& s : e.share_keys().shares()) m.shares.push_back(ShareFromProto(s));
      out = std::move(m);
      break;
    }
    case v1::ClientEnvelope::kMaskedInput: {
      secagg::MaskedInputChunk m;
      FLS_ASSIGN_OR_RETURN(m.header, HeaderFromProto(e.masked_input().header()));
      m.vector_words = e.masked_input().vector_words();
      m.offset = e.masked_input().offset();
      m.words = e.masked_input().words();
      out = std::move(m);
      break;
    }
    case v1::ClientEnvelope::kUnmaskingShares: {
      secagg::UnmaskingShares m;
      FLS_ASSIGN_OR_RETURN(m.header, HeaderFromProto(e.unmasking_shares().header()));
      for (const auto& s : e.unmasking_shares().self_mask_shares()) {
        m.self_mask_shares.push_back({s.owner(), s.value()});
      }
      for (const auto& s : e.unmasking_shares().masking_key_shares()) {
        m.masking_key_shares.push_back({s.owner(), s.value()});
      }
      out = std::move(m);
      break;
    }
    case v1::ClientEnvelope::kAbort: {
      secagg::AbortRound m;
      FLS_ASSIGN_OR_RETURN(m.header, HeaderFromProto(e.abort().header()));
      m.reason = e.abort().reason();
      out = std::move(m);
      break;
    }
    default:
      return absl::InvalidArgumentError("client envelope without a message");
  }
  FLS_RETURN_IF_ERROR(CheckEnvelope(e, secagg::HeaderOf(out)));
  return out;
}

v1::ServerEnvelope ToProto(const secagg::ServerMessage& message) {
  v1::ServerEnvelope out;
  FillEnvelope(secagg::HeaderOf(message), &out);
  std::visit(
      [&out](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, secagg::KeysBroadcast>) {
          auto* p = out.mutable_keys_broadcast();
          HeaderToProto(m.header, p->mutable_header());
          for (const auto& id : m.participants) p->add_participants(id);
          for (const auto& k : m.neighbours) KeysToProto(k, p->add_neighbours());
        } else if constexpr (std::is_same_v<T, secagg::SharesDelivery>) {
          auto* p = out.mutable_shares_delivery();
          HeaderToProto(m.header, p->mutable_header());
          for (const auto& s : m.shares) ShareToProto(s, p->add_shares());
        } else if constexpr (std::is_same_v<T, secagg::UnmaskingRequest>) {
          auto* p = out.mutable_unmasking_request();
          HeaderToProto(m.header, p->mutable_header());
          for (const auto& id : m.survivors) p->add_survivors(id);
        } else {
          static_assert(std::is_same_v<T, secagg::AbortRound>);
          auto* p = out.mutable_abort();
          HeaderToProto(m.header, p->mutable_header());
          p->set_reason(m.reason);
        }
      },
      message);
  return out;
}

absl::StatusOr<secagg::ServerMessage> FromProto(const v1::ServerEnvelope& e) {
  secagg::ServerMessage out;
  switch (e.message_case()) {
    case v1::ServerEnvelope::kKeysBroadcast: {
      secagg::KeysBroadcast m;
      FLS_ASSIGN_OR_RETURN(m.header, HeaderFromProto(e.keys_broadcast().header()));
      for (const auto& id : e.keys_broadcast().participants()) m.participants.push_back(id);
      for (const auto& k : e.keys_broadcast().neighbours()) {
        m.neighbours.push_back(KeysFromProto(k));
      }
      out = std::move(m);
      break;
    }
    case v1::ServerEnvelope::kSharesDelivery: {
      secagg::SharesDelivery m;
      FLS_ASSIGN_OR_RETURN(m.header, HeaderFromProto(e.shares_delivery().header()));
      for (const auto& s : e.shares_delivery().shares()) m.shares.push_back(ShareFromProto(s));
      out = std::move(m);
      break;
    }
    case v1::ServerEnvelope::kUnmaskingRequest: {
      secagg::UnmaskingRequest m;
      FLS_ASSIGN_OR_RETURN(m.header, HeaderFromProto(e.unmasking_request().header()));
      for (const auto& id : e.unmasking_request().survivors()) m.survivors.push_back(id);
      out = std::move(m);
      break;
    }
    case v1::ServerEnvelope::kAbort: {
      secagg::AbortRound m;
      FLS_ASSIGN_OR_RETURN(m.header, HeaderFromProto(e.abort().header()));
      m.reason = e.abort().reason();
      out = std::move(m);
      break;
    }
    default:
      return absl::InvalidArgumentError("server envelope without a message");
  }
  FLS_RETURN_IF_ERROR(CheckEnvelope(e, secagg::HeaderOf(out)));
  return out;
}

}  // namespace flsailer::aggregator
