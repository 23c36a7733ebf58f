// Progress and estimated time to completion of long work done in countable steps (rounds, epochs),
// for the progress lines of the command-line tool and the services' logs: "round 3/20, ETA 41 s".
//
// The estimate assumes the remaining steps take as long, on average, as the finished ones.
// Header-only (the tool's commands use it without linking the rest of libs/telemetry).
//
// Thread safety: the functions are pure; a ProgressTimer is immutable once constructed, so it may
// be shared between threads.
#ifndef FLSAILER_LIBS_TELEMETRY_PROGRESS_H_
#define FLSAILER_LIBS_TELEMETRY_PROGRESS_H_

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace flsailer::telemetry {

// Seconds left for `total` steps when `done` took `elapsed_seconds`; nullopt before the first step
// finishes (no pace to extrapolate from). 0 once done >= total.
inline std::optional<double> RemainingSeconds(int64_t done, int64_t total,
                                              double elapsed_seconds) {
  if (done <= 0) return std::nullopt;
  if (done >= total) return 0.0;
  return elapsed_seconds / static_cast<double>(done) * static_cast<double>(total - done);
}

// A duration rounded to the second, in the largest units that fit: "41 s", "12 min 5 s",
// "2 h 5 min" (a zero second part is left out: "3 min").
inline std::string FormatSeconds(double seconds) {
  const int64_t s = std::llround(std::max(seconds, 0.0));
  if (s < 60) return absl::StrCat(s, " s");
  if (s < 3600) return s % 60 == 0 ? absl::StrCat(s / 60, " min")
                                   : absl::StrCat(s / 60, " min ", s % 60, " s");
  const int64_t minutes = (s % 3600) / 60;
  return minutes == 0 ? absl::StrCat(s / 3600, " h")
                      : absl::StrCat(s / 3600, " h ", minutes, " min");
}

// "<unit> <done>/<total>, ETA <time>", e.g. "round 3/20, ETA 41 s"; just "round 0/20" before the
// first step finishes.
inline std::string FormatProgress(absl::string_view unit, int64_t done, int64_t total,
                                  double elapsed_seconds) {
  std::string text = absl::StrCat(unit, " ", done, "/", total);
  if (const std::optional<double> left = RemainingSeconds(done, total, elapsed_seconds)) {
    absl::StrAppend(&text, ", ETA ", FormatSeconds(*left));
  }
  return text;
}

// Measures the elapsed time from its construction (the start of the work) on a monotonic clock.
class ProgressTimer {
 public:
  double ElapsedSeconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  std::optional<double> RemainingSeconds(int64_t done, int64_t total) const {
    return telemetry::RemainingSeconds(done, total, ElapsedSeconds());
  }
  std::string Format(absl::string_view unit, int64_t done, int64_t total) const {
    return FormatProgress(unit, done, total, ElapsedSeconds());
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace flsailer::telemetry

#endif  // FLSAILER_LIBS_TELEMETRY_PROGRESS_H_
