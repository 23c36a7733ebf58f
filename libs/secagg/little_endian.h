// Little-endian loads and stores of masked words (internal to libs/secagg): masks and masked
// vectors are little-endian on the wire whatever the host.
#ifndef FLSAILER_LIBS_SECAGG_LITTLE_ENDIAN_H_
#define FLSAILER_LIBS_SECAGG_LITTLE_ENDIAN_H_

#include <cstdint>
#include <cstring>

namespace flsailer::secagg::internal {

inline uint64_t LoadLittleEndian64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

inline uint32_t LoadLittleEndian32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}

inline void StoreLittleEndian64(uint64_t v, uint8_t* p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  std::memcpy(p, &v, sizeof(v));
}

inline void StoreLittleEndian32(uint32_t v, uint8_t* p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  std::memcpy(p, &v, sizeof(v));
}

}  // namespace flsailer::secagg::internal

#endif  // FLSAILER_LIBS_SECAGG_LITTLE_ENDIAN_H_
