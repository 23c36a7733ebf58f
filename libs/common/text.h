// Allocation-free helpers for parsing text records (TSV, BED, MatrixMarket, fragments).
#ifndef FLSAILER_LIBS_COMMON_TEXT_H_
#define FLSAILER_LIBS_COMMON_TEXT_H_

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace flsailer {

// Parses the whole of `s` as a base-10 integer (optional leading '-', no spaces, no '+').
inline bool ParseInt64(absl::string_view s, int64_t* out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

// Parses the whole of `s` as a floating-point number. NaN and Inf parse (callers decide).
inline bool ParseDouble(absl::string_view s, double* out) {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

// Splits `line` at `sep` into at most `max_fields` views; returns the number of fields found.
// If the line has more fields than max_fields, the last view holds the rest of the line.
inline size_t SplitFields(absl::string_view line, char sep, absl::string_view* fields,
                          size_t max_fields) {
  size_t n = 0;
  size_t pos = 0;
  while (n + 1 < max_fields) {
    const size_t next = line.find(sep, pos);
    if (next == absl::string_view::npos) break;
    fields[n++] = line.substr(pos, next - pos);
    pos = next + 1;
  }
  fields[n++] = line.substr(pos);
  return n;
}

// Splits at runs of spaces/tabs (MatrixMarket, BED written with spaces); leading blanks skipped.
inline size_t SplitWhitespace(absl::string_view line, absl::string_view* fields, size_t max_fields) {
  size_t n = 0;
  size_t i = 0;
  const size_t len = line.size();
  while (n < max_fields) {
    while (i < len && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i == len) break;
    const size_t start = i;
    while (i < len && line[i] != ' ' && line[i] != '\t') ++i;
    fields[n++] = line.substr(start, i - start);
  }
  // Anything left beyond max_fields is reported as one extra (so callers can reject it).
  while (i < len && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i < len && n == max_fields) ++n;
  return n;
}

inline bool IsBlank(absl::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t') return false;
  }
  return true;
}

struct HostPort {
  std::string host;
  int port = 0;
};

// "host:port", "[ipv6]:port" (brackets dropped from the host) with a port in 0..65535.
inline absl::StatusOr<HostPort> ParseHostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  HostPort result;
  if (colon == absl::string_view::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &result.port) || result.port < 0 ||
      result.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address, "' is not host:port (e.g. 0.0.0.0:7444 or [::]:7444)"));
  }
  absl::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  result.host = std::string(host);
  return result;
}

}  // namespace flsailer

#endif  // FLSAILER_LIBS_COMMON_TEXT_H_
