// The cryptographic primitives of secure aggregation, on OpenSSL 3's EVP API: X25519 key
// agreement, HKDF-SHA256, AES-256-GCM, an AES-256-CTR mask generator, ECDSA signatures with
// certificate keys, SHA-256, and secret randomness from the operating system.
//
// Callers bind every derived key and every ciphertext to its purpose and round (see Binding and
// protocol.h), so a value made for one purpose or round is useless in another.
//
// Thread safety: free functions are thread-safe; an object may be used by one thread at a time.
#ifndef FLSAILER_LIBS_SECAGG_CRYPTO_H_
#define FLSAILER_LIBS_SECAGG_CRYPTO_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace flsailer::secagg {

constexpr size_t kKeyBytes = 32;
// A 256-bit secret: a symmetric key, an X25519 key, a self-mask seed.
using Key = std::array<uint8_t, kKeyBytes>;

// The bytes of `key` as a string (for messages), and back (InvalidArgument unless 32 bytes;
// `what` names the field in the error).
std::string KeyToBytes(const Key& key);
absl::StatusOr<Key> KeyFromBytes(absl::string_view bytes, absl::string_view what);

// Fills `out` from the operating system's random source (getrandom(2)), which is what every
// secret of the protocol is drawn from.
absl::Status RandomBytes(absl::Span<uint8_t> out);
absl::StatusOr<Key> RandomKey();

// Overwrites a secret so that the compiler cannot optimise the store away.
void Wipe(Key& key);

// Length-prefixed concatenation of a label and fields, so that no two different field lists
// encode alike: the input of every key derivation, signature, commitment and AEAD tag.
class Binding {
 public:
  explicit Binding(absl::string_view label) { Add(label); }
  Binding& Add(absl::string_view field);
  Binding& AddNumber(uint64_t value);
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// An X25519 key pair. The private key is wiped when the object is destroyed.
class X25519KeyPair {
 public:
  static absl::StatusOr<X25519KeyPair> Generate();
  // The pair of a private key (a reconstructed masking key, for instance).
  static absl::StatusOr<X25519KeyPair> FromPrivateKey(const Key& private_key);

  X25519KeyPair(const X25519KeyPair&) = default;
  X25519KeyPair& operator=(const X25519KeyPair&) = default;
  ~X25519KeyPair();

  const Key& public_key() const { return public_key_; }
  const Key& private_key() const { return private_key_; }

  // The raw X25519 shared secret with `peer_public_key` (32 bytes). Fails for malformed keys
  // and for low-order points, whose shared secret would be all zero.
  absl::StatusOr<Key> Agree(absl::string_view peer_public_key) const;

 private:
  X25519KeyPair() = default;
  Key private_key_{};
  Key public_key_{};
};

// HKDF-SHA256 (RFC 5869) of `ikm` with `salt` (may be empty) and `info`, `length` bytes.
absl::StatusOr<std::string> Hkdf(absl::string_view ikm, absl::string_view salt,
                                 absl::string_view info, size_t length);
// A 256-bit key from a 256-bit secret, no salt.
absl::StatusOr<Key> DeriveKey(const Key& secret, const Binding& info);

// AES-256-GCM with a random 96-bit nonce: Seal returns nonce || ciphertext || 16-byte tag;
// Open returns the plaintext, or InvalidArgument when the tag does not verify (wrong key, wrong
// associated data, or a modified ciphertext).
constexpr size_t kSealOverhead = 12 + 16;
absl::StatusOr<std::string> Seal(const Key& key, absl::string_view plaintext,
                                 absl::string_view associated_data);
absl::StatusOr<std::string> Open(const Key& key, absl::string_view sealed,
                                 absl::string_view associated_data);

// SHA-256 of `data` (32 bytes).
std::string Sha256(absl::string_view data);

// ECDSA-SHA256 signature (DER) of `message` with a PEM private key (as libs/pki issues them).
absl::StatusOr<std::string> Sign(absl::string_view key_pem, absl::string_view message);
// OK when `signature` is a valid signature of `message` by the public key of the first
// certificate in `cert_pem`; Unauthenticated when it is not. Does not check the certificate
// itself (pki::VerifyAgainstCa does).
absl::Status VerifySignature(absl::string_view cert_pem, absl::string_view message,
                             absl::string_view signature);

// The pseudo-random mask of a 256-bit key: the AES-256-CTR keystream (IV 0, counter big-endian)
// read as little-endian words of 4 bytes (modulus 2^32) or 8 bytes (2^64). Word i of the mask
// depends only on the key and i, so any range can be produced or removed on its own: a client
// masks its vector chunk by chunk, the server unmasks the whole sum at once.
//
// Keys must be used for one mask only (the protocol derives a fresh key per pair, round and
// purpose). The key schedule is computed once; Apply then runs at keystream speed.
class MaskGenerator {
 public:
  static absl::StatusOr<MaskGenerator> Create(const Key& key);
  MaskGenerator(MaskGenerator&&) noexcept;
  MaskGenerator& operator=(MaskGenerator&&) noexcept;
  ~MaskGenerator();

  // words[i] += mask word (first_word + i), mod 2^modulus_bits (or -= when `subtract`).
  // REQUIRES: modulus_bits is 32 or 64; with 32, every words[i] < 2^32 (results are too).
  absl::Status Apply(uint64_t first_word, int modulus_bits, bool subtract,
                     absl::Span<uint64_t> words);

  // out[i] = 64-bit word (first_word + i) of the keystream (random bits for stochastic
  // rounding, say).
  absl::Status Fill(uint64_t first_word, absl::Span<uint64_t> out);

 private:
  struct Impl;
  explicit MaskGenerator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace flsailer::secagg

#endif  // FLSAILER_LIBS_SECAGG_CRYPTO_H_
