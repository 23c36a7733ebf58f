#include "libs/secagg/crypto.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/random.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "libs/common/status_macros.h"
#include "libs/pki/openssl_util.h"
#include "libs/secagg/little_endian.h"

namespace flsailer::secagg {
namespace {

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
// Keystream is produced in batches of this size: small enough to stay in L1 between the AES
// pass and the add pass, large enough that EVP's per-call cost vanishes.
constexpr size_t kBatchBytes = 16384;
// AES-CTR keystream is the encryption of zeros.
const uint8_t kZeros[kBatchBytes] = {};

using CipherCtxPtr = openssl::Ptr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;
using KdfCtxPtr = openssl::Ptr<EVP_KDF_CTX, EVP_KDF_CTX_free>;
using KdfPtr = openssl::Ptr<EVP_KDF, EVP_KDF_free>;
using openssl::KeyPtr;
using MdCtxPtr = openssl::Ptr<EVP_MD_CTX, EVP_MD_CTX_free>;
using PkeyCtxPtr = openssl::Ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using openssl::X509Ptr;

using openssl::Internal;

const unsigned char* Bytes(absl::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

using internal::LoadLittleEndian32;
using internal::LoadLittleEndian64;

// words[i] = op(words[i], keystream word i) for i < n. The inner loop has a constant trip count
// and the pointers do not alias, which is what lets GCC vectorise it at -O2.
template <typename Op>
void AddWords(const uint8_t* __restrict keystream, uint64_t* __restrict words, size_t n, Op op) {
  constexpr size_t kBlock = 32;
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    for (size_t j = 0; j < kBlock; ++j) words[i + j] = op(words[i + j], keystream, i + j);
  }
  for (; i < n; ++i) words[i] = op(words[i], keystream, i);
}

void AddWords64(const uint8_t* keystream, uint64_t* words, size_t n, bool subtract) {
  if (subtract) {
    AddWords(keystream, words, n, [](uint64_t w, const uint8_t* k, size_t i) {
      return w - LoadLittleEndian64(k + 8 * i);
    });
  } else {
    AddWords(keystream, words, n, [](uint64_t w, const uint8_t* k, size_t i) {
      return w + LoadLittleEndian64(k + 8 * i);
    });
  }
}

void AddWords32(const uint8_t* keystream, uint64_t* words, size_t n, bool subtract) {
  if (subtract) {
    AddWords(keystream, words, n, [](uint64_t w, const uint8_t* k, size_t i) -> uint64_t {
      return static_cast<uint32_t>(w - LoadLittleEndian32(k + 4 * i));
    });
  } else {
    AddWords(keystream, words, n, [](uint64_t w, const uint8_t* k, size_t i) -> uint64_t {
      return static_cast<uint32_t>(w + LoadLittleEndian32(k + 4 * i));
    });
  }
}

}  // namespace

std::string KeyToBytes(const Key& key) {
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}

absl::StatusOr<Key> KeyFromBytes(absl::string_view bytes, absl::string_view what) {
  if (bytes.size() != kKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " has ", bytes.size(), " bytes, expected ", kKeyBytes));
  }
  Key key;
  std::memcpy(key.data(), bytes.data(), kKeyBytes);
  return key;
}

absl::Status RandomBytes(absl::Span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t got = getrandom(out.data() + done, out.size() - done, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("getrandom failed: ", std::strerror(errno)));
    }
    done += static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

absl::StatusOr<Key> RandomKey() {
  Key key;
  FLS_RETURN_IF_ERROR(RandomBytes(absl::MakeSpan(key)));
  return key;
}

void Wipe(Key& key) { OPENSSL_cleanse(key.data(), key.size()); }

Binding& Binding::Add(absl::string_view field) {
  AddNumber(field.size());
  bytes_.append(field.data(), field.size());
  return *this;
}

Binding& Binding::AddNumber(uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    bytes_.push_back(static_cast<char>((value >> shift) & 0xff));
  }
  return *this;
}

X25519KeyPair::~X25519KeyPair() { Wipe(private_key_); }

absl::StatusOr<X25519KeyPair> X25519KeyPair::Generate() {
  FLS_ASSIGN_OR_RETURN(Key private_key, RandomKey());
  absl::StatusOr<X25519KeyPair> pair = FromPrivateKey(private_key);
  Wipe(private_key);
  return pair;
}

absl::StatusOr<X25519KeyPair> X25519KeyPair::FromPrivateKey(const Key& private_key) {
  KeyPtr key(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key.data(),
                                          private_key.size()));
  if (key == nullptr) return Internal("cannot load an X25519 private key");
  X25519KeyPair pair;
  pair.private_key_ = private_key;
  size_t length = pair.public_key_.size();
  if (EVP_PKEY_get_raw_public_key(key.get(), pair.public_key_.data(), &length) != 1 ||
      length != kKeyBytes) {
    return Internal("cannot compute an X25519 public key");
  }
  return pair;
}

absl::StatusOr<Key> X25519KeyPair::Agree(absl::string_view peer_public_key) const {
  if (peer_public_key.size() != kKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat("an X25519 public key has ", kKeyBytes,
                                                   " bytes, not ", peer_public_key.size()));
  }
  KeyPtr mine(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, private_key_.data(),
                                           private_key_.size()));
  KeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, Bytes(peer_public_key),
                                          peer_public_key.size()));
  if (mine == nullptr || peer == nullptr) return Internal("cannot load X25519 keys");
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(mine.get(), nullptr));
  Key secret;
  size_t length = secret.size();
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), secret.data(), &length) != 1 || length != kKeyBytes) {
    return openssl::Error(absl::StatusCode::kInvalidArgument,
                        "X25519 key agreement failed (a low-order or malformed public key)");
  }
  // OpenSSL refuses all-zero secrets already; a second check costs nothing.
  if (std::all_of(secret.begin(), secret.end(), [](uint8_t b) { return b == 0; })) {
    return absl::InvalidArgumentError("X25519 key agreement gave the all-zero secret");
  }
  return secret;
}

absl::StatusOr<std::string> Hkdf(absl::string_view ikm, absl::string_view salt,
                                 absl::string_view info, size_t length) {
  KdfPtr kdf(EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr));
  if (kdf == nullptr) return Internal("HKDF is not available");
  KdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (ctx == nullptr) return Internal("cannot allocate an HKDF context");
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] =
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(SN_sha256), 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(ikm.data()),
                                                  ikm.size());
  if (!salt.empty()) {
    params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                                    const_cast<char*>(salt.data()), salt.size());
  }
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
                                                  const_cast<char*>(info.data()), info.size());
  params[n] = OSSL_PARAM_construct_end();
  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(), params) !=
      1) {
    return Internal("HKDF-SHA256 failed");
  }
  return out;
}

absl::StatusOr<Key> DeriveKey(const Key& secret, const Binding& info) {
  FLS_ASSIGN_OR_RETURN(
      std::string derived,
      Hkdf(absl::string_view(reinterpret_cast<const char*>(secret.data()), secret.size()), "",
           info.bytes(), kKeyBytes));
  absl::StatusOr<Key> key = KeyFromBytes(derived, "derived key");
  OPENSSL_cleanse(derived.data(), derived.size());
  return key;
}

absl::StatusOr<std::string> Seal(const Key& key, absl::string_view plaintext,
                                 absl::string_view associated_data) {
  if (plaintext.size() > static_cast<size_t>(INT_MAX) - kSealOverhead ||
      associated_data.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("AES-GCM input larger than 2 GiB");
  }
  std::string sealed(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  FLS_RETURN_IF_ERROR(RandomBytes(absl::MakeSpan(out, kNonceBytes)));
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  if (ctx == nullptr ||
      EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), out, nullptr) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &length, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out + kNonceBytes, &length, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + kNonceBytes + length, &length) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          out + kNonceBytes + plaintext.size()) != 1) {
    return Internal("AES-256-GCM encryption failed");
  }
  return sealed;
}

absl::StatusOr<std::string> Open(const Key& key, absl::string_view sealed,
                                 absl::string_view associated_data) {
  if (sealed.size() < kSealOverhead) {
    return absl::InvalidArgumentError(absl::StrCat("a sealed message has at least ", kSealOverhead,
                                                   " bytes, not ", sealed.size()));
  }
  if (sealed.size() > static_cast<size_t>(INT_MAX) ||
      associated_data.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("AES-GCM input larger than 2 GiB");
  }
  const size_t text_size = sealed.size() - kSealOverhead;
  const unsigned char* nonce = Bytes(sealed);
  std::string plaintext(text_size, '\0');
  // EVP_CIPHER_CTX_ctrl wants a writable tag buffer even when it only reads it.
  unsigned char tag[kTagBytes];
  std::memcpy(tag, nonce + kNonceBytes + text_size, kTagBytes);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  int length = 0;
  if (ctx == nullptr ||
      EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), nonce, nullptr) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &length, Bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()), &length,
                        nonce + kNonceBytes, static_cast<int>(text_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) != 1) {
    return Internal("AES-256-GCM decryption failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()) + length,
                          &length) != 1) {
    ERR_clear_error();
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return absl::InvalidArgumentError(
        "AES-GCM authentication failed: wrong key, wrong context or a modified ciphertext");
  }
  return plaintext;
}

std::string Sha256(absl::string_view data) {
  std::string digest(32, '\0');
  unsigned int length = 0;
  // SHA-256 of a memory buffer cannot fail short of memory exhaustion.
  EVP_Digest(data.data(), data.size(), reinterpret_cast<unsigned char*>(digest.data()), &length,
             EVP_sha256(), nullptr);
  return digest;
}

absl::StatusOr<std::string> Sign(absl::string_view key_pem, absl::string_view message) {
  FLS_ASSIGN_OR_RETURN(KeyPtr key, openssl::ParsePrivateKey(key_pem));
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t length = 0;
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, Bytes(message), message.size()) != 1) {
    return Internal("cannot sign with the certificate key");
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     Bytes(message), message.size()) != 1) {
    return Internal("cannot sign with the certificate key");
  }
  signature.resize(length);
  return signature;
}

absl::Status VerifySignature(absl::string_view cert_pem, absl::string_view message,
                             absl::string_view signature) {
  FLS_ASSIGN_OR_RETURN(X509Ptr cert, openssl::ParseCertificate(cert_pem));
  EVP_PKEY* key = X509_get0_pubkey(cert.get());
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (key == nullptr || ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) {
    return Internal("cannot set up signature verification");
  }
  const int verified = EVP_DigestVerify(ctx.get(), Bytes(signature), signature.size(),
                                        Bytes(message), message.size());
  ERR_clear_error();  // a malformed DER signature queues errors; the status says enough
  if (verified != 1) return absl::UnauthenticatedError("signature does not verify");
  return absl::OkStatus();
}

struct MaskGenerator::Impl {
  CipherCtxPtr ctx;
  alignas(64) uint8_t keystream[kBatchBytes];

  ~Impl() { OPENSSL_cleanse(keystream, sizeof(keystream)); }

  // Positions the keystream at byte `offset`: the counter block offset / 16, then the rest of
  // that block discarded.
  absl::Status Seek(uint64_t offset) {
    uint8_t iv[16] = {};
    const uint64_t block = offset / 16;
    for (int i = 0; i < 8; ++i) iv[15 - i] = static_cast<uint8_t>(block >> (8 * i));
    if (EVP_EncryptInit_ex2(ctx.get(), nullptr, nullptr, iv, nullptr) != 1) {
      return Internal("cannot position the AES-CTR keystream");
    }
    return Generate(static_cast<size_t>(offset % 16));
  }

  // The next `bytes` (<= kBatchBytes) of keystream into `keystream`.
  absl::Status Generate(size_t bytes) {
    int length = 0;
    if (bytes > 0 &&
        (EVP_EncryptUpdate(ctx.get(), keystream, &length, kZeros, static_cast<int>(bytes)) != 1 ||
         static_cast<size_t>(length) != bytes)) {
      return Internal("AES-CTR keystream generation failed");
    }
    return absl::OkStatus();
  }
};

MaskGenerator::MaskGenerator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MaskGenerator::MaskGenerator(MaskGenerator&&) noexcept = default;
MaskGenerator& MaskGenerator::operator=(MaskGenerator&&) noexcept = default;
MaskGenerator::~MaskGenerator() = default;

absl::StatusOr<MaskGenerator> MaskGenerator::Create(const Key& key) {
  auto impl = std::make_unique<Impl>();
  impl->ctx.reset(EVP_CIPHER_CTX_new());
  if (impl->ctx == nullptr ||
      EVP_EncryptInit_ex2(impl->ctx.get(), EVP_aes_256_ctr(), key.data(), kZeros, nullptr) != 1) {
    return Internal("cannot set up AES-256-CTR");
  }
  return MaskGenerator(std::move(impl));
}

absl::Status MaskGenerator::Apply(uint64_t first_word, int modulus_bits, bool subtract,
                                  absl::Span<uint64_t> words) {
  if (modulus_bits != 32 && modulus_bits != 64) {
    return absl::InvalidArgumentError(absl::StrCat("modulus_bits is 32 or 64, not ", modulus_bits));
  }
  const size_t word_bytes = static_cast<size_t>(modulus_bits / 8);
  if (first_word > UINT64_MAX / 8 - words.size()) {
    return absl::InvalidArgumentError("mask position beyond 2^61 words");
  }
  FLS_RETURN_IF_ERROR(impl_->Seek(first_word * word_bytes));
  const size_t batch_words = kBatchBytes / word_bytes;
  for (size_t done = 0; done < words.size();) {
    const size_t n = std::min(batch_words, words.size() - done);
    FLS_RETURN_IF_ERROR(impl_->Generate(n * word_bytes));
    if (modulus_bits == 64) {
      AddWords64(impl_->keystream, words.data() + done, n, subtract);
    } else {
      AddWords32(impl_->keystream, words.data() + done, n, subtract);
    }
    done += n;
  }
  return absl::OkStatus();
}

absl::Status MaskGenerator::Fill(uint64_t first_word, absl::Span<uint64_t> out) {
  std::fill(out.begin(), out.end(), 0);
  return Apply(first_word, 64, /*subtract=*/false, out);
}

}  // namespace flsailer::secagg
