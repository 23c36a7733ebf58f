#include "libs/secagg/protocol.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "libs/common/status_macros.h"
#include "libs/pki/pki.h"
#include "libs/secagg/little_endian.h"

namespace flsailer::secagg::internal {
namespace {

absl::Status ForClient(absl::string_view client, const absl::Status& status) {
  return absl::Status(status.code(),
                      absl::StrCat("keys of '", absl::CHexEscape(client), "': ", status.message()));
}

}  // namespace

std::string EncodeSharePlaintext(const SharePlaintext& share) {
  std::string out;
  out.reserve(kSharePlaintextBytes);
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((share.x >> shift) & 0xff));
  }
  out += share.self_mask_share;
  out += share.masking_key_share;
  return out;
}

absl::StatusOr<SharePlaintext> DecodeSharePlaintext(absl::string_view bytes) {
  if (bytes.size() != kSharePlaintextBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("a share has ", kSharePlaintextBytes, " bytes, not ", bytes.size()));
  }
  SharePlaintext share;
  for (int i = 0; i < 4; ++i) {
    share.x = (share.x << 8) | static_cast<uint8_t>(bytes[static_cast<size_t>(i)]);
  }
  share.self_mask_share = std::string(bytes.substr(4, kShareValueBytes));
  share.masking_key_share = std::string(bytes.substr(4 + kShareValueBytes, kShareValueBytes));
  FLS_RETURN_IF_ERROR(ValidateShareValue(share.self_mask_share));
  FLS_RETURN_IF_ERROR(ValidateShareValue(share.masking_key_share));
  return share;
}

Binding ContextBinding(absl::string_view label, const RoundContext& context, Stage stage) {
  Binding binding(label);
  binding.Add(context.job_id).AddNumber(context.round).AddNumber(static_cast<uint64_t>(stage));
  return binding;
}

std::string SignedKeysPayload(const RoundContext& context, const SignedKeys& keys) {
  return ContextBinding("flsailer secagg signed keys v1", context, Stage::kAdvertiseKeys)
      .Add(keys.client_id)
      .Add(keys.encryption_key)
      .Add(keys.masking_key)
      .bytes();
}

absl::Status VerifySignedKeys(const SignedKeys& keys, const RoundContext& context,
                              absl::string_view ca_pem) {
  if (keys.encryption_key.size() != kKeyBytes || keys.masking_key.size() != kKeyBytes) {
    return ForClient(keys.client_id,
                     absl::InvalidArgumentError(absl::StrCat(
                         "public keys have ", kKeyBytes, " bytes, not ", keys.encryption_key.size(),
                         " and ", keys.masking_key.size())));
  }
  if (keys.encryption_key == keys.masking_key) {
    return ForClient(keys.client_id,
                     absl::InvalidArgumentError("the encryption and masking keys are the same"));
  }
  absl::StatusOr<pki::CertificateInfo> info = pki::VerifyAgainstCa(keys.certificate_pem, ca_pem);
  if (!info.ok()) return ForClient(keys.client_id, info.status());
  if (info->identity != pki::Identity{pki::IdentityKind::kInstitution, keys.client_id}) {
    return ForClient(keys.client_id,
                     absl::PermissionDeniedError(absl::StrCat(
                         "the certificate belongs to ", pki::IdentityUri(info->identity),
                         ", not to institution '", absl::CHexEscape(keys.client_id), "'")));
  }
  absl::Status signature =
      VerifySignature(keys.certificate_pem, SignedKeysPayload(context, keys), keys.signature);
  if (!signature.ok()) {
    return ForClient(keys.client_id,
                     absl::Status(signature.code(), absl::StrCat(signature.message(), " for ",
                                                                 DescribeContext(context))));
  }
  return absl::OkStatus();
}

absl::StatusOr<Key> ShareKey(const X25519KeyPair& mine, absl::string_view peer_key,
                             const RoundContext& context, absl::string_view owner,
                             absl::string_view holder) {
  FLS_ASSIGN_OR_RETURN(Key agreed, mine.Agree(peer_key));
  absl::StatusOr<Key> key =
      DeriveKey(agreed, ContextBinding("flsailer secagg share key v1", context, Stage::kShareKeys)
                            .Add(owner)
                            .Add(holder));
  Wipe(agreed);
  return key;
}

std::string ShareAssociatedData(const RoundContext& context, absl::string_view owner,
                                absl::string_view holder) {
  return ContextBinding("flsailer secagg share v1", context, Stage::kShareKeys)
      .Add(owner)
      .Add(holder)
      .bytes();
}

absl::StatusOr<Key> PairwiseMaskKey(const X25519KeyPair& mine, absl::string_view peer_key,
                                    const RoundContext& context, absl::string_view a,
                                    absl::string_view b) {
  if (b < a) std::swap(a, b);
  FLS_ASSIGN_OR_RETURN(Key agreed, mine.Agree(peer_key));
  absl::StatusOr<Key> key = DeriveKey(
      agreed, ContextBinding("flsailer secagg pairwise mask v1", context, Stage::kMaskedInput)
                  .Add(a)
                  .Add(b));
  Wipe(agreed);
  return key;
}

absl::StatusOr<Key> SelfMaskKey(const Key& seed, const RoundContext& context,
                                absl::string_view client) {
  return DeriveKey(
      seed,
      ContextBinding("flsailer secagg self mask v1", context, Stage::kMaskedInput).Add(client));
}

std::string SelfMaskCommitment(const Key& seed, const RoundContext& context,
                               absl::string_view client) {
  return Sha256(
      ContextBinding("flsailer secagg self-mask commitment v1", context, Stage::kShareKeys)
          .Add(client)
          .Add(KeyToBytes(seed))
          .bytes());
}

absl::StatusOr<Key> RoundingKey(const RoundContext& context, absl::string_view client) {
  return DeriveKey(Key{},
                   ContextBinding("flsailer secagg rounding v1", context, Stage::kMaskedInput)
                       .Add(client));
}

absl::Status ApplyMasks(std::vector<SignedMask>& masks, uint64_t first_word, int modulus_bits,
                        absl::Span<uint64_t> words) {
  constexpr size_t kBlockWords = 8192;  // 64 KiB: stays in L2 across the masks
  for (size_t done = 0; done < words.size(); done += kBlockWords) {
    absl::Span<uint64_t> block = words.subspan(done, kBlockWords);
    for (SignedMask& mask : masks) {
      FLS_RETURN_IF_ERROR(
          mask.generator.Apply(first_word + done, modulus_bits, mask.subtract, block));
    }
  }
  return absl::OkStatus();
}

std::string PackWords(absl::Span<const uint64_t> words, int modulus_bits) {
  std::string out(words.size() * WordBytes(modulus_bits), '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  if (modulus_bits == 64) {
    for (size_t i = 0; i < words.size(); ++i) StoreLittleEndian64(words[i], p + 8 * i);
  } else {
    for (size_t i = 0; i < words.size(); ++i) {
      StoreLittleEndian32(static_cast<uint32_t>(words[i]), p + 4 * i);
    }
  }
  return out;
}

absl::Status CheckHeader(const MessageHeader& header, const RoundContext& context, Stage stage,
                         absl::string_view client_id) {
  if (header.context != context) {
    return absl::InvalidArgumentError(absl::StrCat("message for ", DescribeContext(header.context),
                                                   ", but this is ", DescribeContext(context)));
  }
  if (header.stage != stage) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message marked stage '", StageName(header.stage), "' in stage '", StageName(stage), "'"));
  }
  if (header.client_id != client_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("message names client '", absl::CHexEscape(header.client_id), "', expected '",
                     absl::CHexEscape(client_id), "'"));
  }
  return absl::OkStatus();
}

int IndexOf(const std::vector<std::string>& ids, absl::string_view id) {
  auto it = std::lower_bound(ids.begin(), ids.end(), id,
                             [](const std::string& a, absl::string_view b) { return a < b; });
  if (it == ids.end() || *it != id) return -1;
  return static_cast<int>(it - ids.begin());
}

bool StrictlySorted(absl::Span<const std::string> ids) {
  for (size_t i = 1; i < ids.size(); ++i) {
    if (!(ids[i - 1] < ids[i])) return false;
  }
  return true;
}

}  // namespace flsailer::secagg::internal
