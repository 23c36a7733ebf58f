// Secure-aggregation masking speed (issue #6): how fast a client adds its pairwise and self masks
// (secagg::MaskGenerator::Apply: AES-256-CTR keystream added to the fixed-point words), against
// the AES-CTR limit of this machine measured the way `openssl speed -evp aes-128-ctr` does
// (16 KiB blocks). One thread. Prints the median of 7 runs of each, in GB/s of masked output
// (4 bytes a word for the 2^32 modulus, 8 for 2^64).
//
//   secagg_bench [WORDS]   (default 10^7 words: a 10-million-parameter model update)
#include <openssl/evp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "libs/secagg/crypto.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double MedianSeconds(F&& run) {
  std::vector<double> seconds;
  for (int i = 0; i < 7; ++i) {
    const auto start = Clock::now();
    run();
    seconds.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

// AES-128-CTR over `bytes` in 16 KiB blocks, as `openssl speed -evp aes-128-ctr` does.
double AesCtrGbPerSecond(size_t bytes) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  unsigned char key[16] = {1}, iv[16] = {2};
  EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), nullptr, key, iv);
  std::vector<unsigned char> block(16384), out(16384 + 16);
  const double seconds = MedianSeconds([&] {
    int length = 0;
    for (size_t done = 0; done < bytes; done += block.size()) {
      EVP_EncryptUpdate(ctx, out.data(), &length, block.data(), static_cast<int>(block.size()));
    }
  });
  EVP_CIPHER_CTX_free(ctx);
  return static_cast<double>(bytes) / seconds / 1e9;
}

// A client's masking of `words` words in chunks of `chunk` (the protocol's chunk_words).
double MaskGbPerSecond(int modulus_bits, size_t words, size_t chunk) {
  auto key = flsailer::secagg::RandomKey();
  auto mask = flsailer::secagg::MaskGenerator::Create(*key);
  if (!key.ok() || !mask.ok()) std::abort();
  std::vector<uint64_t> vector(words, 0);
  const double seconds = MedianSeconds([&] {
    for (size_t first = 0; first < words; first += chunk) {
      const size_t n = std::min(chunk, words - first);
      absl::Span<uint64_t> span(vector.data() + first, n);
      if (!mask->Apply(first, modulus_bits, false, span).ok()) std::abort();
    }
  });
  return static_cast<double>(words) * (modulus_bits / 8) / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t words = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000;
  const size_t chunk = 65536;  // SecAggConfig's default chunk_words
  const double aes = AesCtrGbPerSecond(words * 8);
  std::printf("AES-128-CTR (EVP, 16 KiB blocks, 1 thread): %.2f GB/s\n", aes);
  for (int bits : {64, 32}) {
    const double in_cache = MaskGbPerSecond(bits, chunk, chunk);
    const double whole = MaskGbPerSecond(bits, words, chunk);
    std::printf("masking, modulus 2^%d: one %zu-word chunk %.2f GB/s (%.0f%% of AES-CTR), "
                "%zu words %.2f GB/s (%.0f%%)\n",
                bits, chunk, in_cache, 100 * in_cache / aes, words, whole, 100 * whole / aes);
  }
  return 0;
}
