// Structured logging for the FL-Sailer services: one logfmt line per event, e.g.
//
//   ts=2026-11-29T02:31:07.123Z level=info service=coordinator event=round_finished job=job-1
//   round=3 loss=812.3 seconds=4.2
//
// (one line in the output). `ts` is UTC with milliseconds; `service` is the process-wide name set
// by ConfigureLogging; `event` is a stable snake_case name that log queries can match on, and the
// fields carry the details. Values are written bare when they are non-empty and contain no space,
// '"', '=', '\' or control character; otherwise they are double-quoted with '"' and '\' escaped
// as \" and \\, and newline, carriage return and tab as \n, \r, \t (other control bytes as
// \u00XX), so a line never spans two lines and ParseLogLine gives back exactly what was logged.
// Doubles are written in their shortest round-trip form. Keys are meant to be identifiers; bytes
// that would break the line (space, '=', '"', control characters) are replaced by '_'.
//
// Thread safety: everything here is thread-safe. Each line reaches the output in a single
// write(2) under a process-wide lock, so lines of concurrent threads never interleave, and lines
// of processes sharing a pipe (a demo's coordinator and clients on one terminal) do not either
// up to PIPE_BUF (4 KiB) per line.
#ifndef FLSAILER_LIBS_TELEMETRY_LOG_H_
#define FLSAILER_LIBS_TELEMETRY_LOG_H_

#include <unistd.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace flsailer::telemetry {

enum class Level { kDebug, kInfo, kWarning, kError };

// "debug", "info", "warn", "error": the `level` values in the output.
absl::string_view LevelName(Level level);

// One field value: a string, an integer, a floating-point number or a bool. Strings are borrowed,
// not copied: a LogValue is meant to live only as an argument of Log (the initializer list lasts
// until Log returns).
class LogValue {
 public:
  LogValue(absl::string_view s) : value_(s) {}
  // Without this, a string literal would convert to bool (a standard conversion) rather than to
  // absl::string_view (a user-defined one).
  LogValue(const char* s) : value_(absl::string_view(s)) {}
  LogValue(const std::string& s) : value_(absl::string_view(s)) {}
  LogValue(bool b) : value_(b) {}
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                             std::is_signed_v<T>,
                                         int> = 0>
  LogValue(T i) : value_(static_cast<int64_t>(i)) {}
  template <typename T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                             std::is_unsigned_v<T>,
                                         int> = 0>
  LogValue(T u) : value_(static_cast<uint64_t>(u)) {}
  template <typename T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
  LogValue(T d) : value_(static_cast<double>(d)) {}

  // Appends the value as it appears after "key=" (quoted and escaped when needed).
  void AppendTo(std::string* out) const;

 private:
  std::variant<absl::string_view, int64_t, uint64_t, double, bool> value_;
};

using LogField = std::pair<absl::string_view, LogValue>;

struct LogOptions {
  // The `service` field of every line ("coordinator", "client", "aggregator", "flsailer").
  std::string service;
  // Lines below this level are dropped.
  Level min_level = Level::kInfo;
  // Where lines go. The descriptor is borrowed: it must stay open while logging is configured so.
  int fd = STDERR_FILENO;
};

// Sets the process-wide service name, level threshold and output. Meant to be called once, at
// startup; before it, lines have an empty service and go to stderr at level info and above.
void ConfigureLogging(LogOptions options);

// Writes one line for `event` with `fields` in the given order, if `level` passes the threshold.
// Output errors are ignored: logging never fails the caller.
void Log(Level level, absl::string_view event, std::initializer_list<LogField> fields = {});

// The line Log writes (without the trailing newline), for a given time and service.
std::string FormatLogLine(absl::Time time, Level level, absl::string_view service,
                          absl::string_view event, std::initializer_list<LogField> fields);

// Splits a logfmt line into its key/value pairs, in order, undoing the quoting. The inverse of
// FormatLogLine, for tests and tools that read a service's log. InvalidArgument on malformed
// input (a key without '=', an unterminated quote, an unknown escape).
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseLogLine(
    absl::string_view line);

}  // namespace flsailer::telemetry

#endif  // FLSAILER_LIBS_TELEMETRY_LOG_H_
