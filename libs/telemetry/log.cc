#include "libs/telemetry/log.h"

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace flsailer::telemetry {
namespace {

struct LogState {
  absl::Mutex mu;
  LogOptions options ABSL_GUARDED_BY(mu);
};

LogState& State() {
  static LogState* state = new LogState();  // never destroyed: threads may log during exit
  return *state;
}

// Space, '"', '=' and control characters end or break a bare key or value.
bool BreaksToken(unsigned char c) { return c <= ' ' || c == '"' || c == '=' || c == 0x7f; }

bool NeedsQuoting(absl::string_view s) {
  if (s.empty()) return true;
  for (unsigned char c : s) {
    if (BreaksToken(c) || c == '\\') return true;
  }
  return false;
}

void AppendQuoted(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < ' ' || c == 0x7f) {
          static constexpr char kHex[] = "0123456789abcdef";
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

void AppendValue(absl::string_view s, std::string* out) {
  if (NeedsQuoting(s)) {
    AppendQuoted(s, out);
  } else {
    out->append(s.data(), s.size());
  }
}

void AppendValue(bool b, std::string* out) { out->append(b ? "true" : "false"); }
// Integers and doubles. to_chars gives the shortest text that parses back to the same double and,
// unlike printf, ignores the locale.
template <typename Number>
void AppendValue(Number n, std::string* out) {
  char buffer[32];
  const std::to_chars_result r = std::to_chars(buffer, buffer + sizeof(buffer), n);
  out->append(buffer, r.ptr);
}

void AppendKey(absl::string_view key, std::string* out) {
  if (key.empty()) {
    out->push_back('_');
    return;
  }
  for (unsigned char c : key) {
    out->push_back(BreaksToken(c) ? '_' : static_cast<char>(c));
  }
}

void AppendField(absl::string_view key, const LogValue& value, std::string* out) {
  out->push_back(' ');
  AppendKey(key, out);
  out->push_back('=');
  value.AppendTo(out);
}

// Writes all of `line`, retrying after signals and short writes (a pipe may accept part of a
// long line).
void WriteFully(int fd, absl::string_view line) {
  while (!line.empty()) {
    const ssize_t n = write(fd, line.data(), line.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    line.remove_prefix(static_cast<size_t>(n));
  }
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads a quoted value starting at line[*pos] == '"'; advances *pos past the closing quote.
absl::StatusOr<std::string> ParseQuoted(absl::string_view line, size_t* pos) {
  std::string value;
  size_t i = *pos + 1;
  while (i < line.size()) {
    const char c = line[i++];
    if (c == '"') {
      *pos = i;
      return value;
    }
    if (c != '\\') {
      value.push_back(c);
      continue;
    }
    if (i == line.size()) break;
    const char e = line[i++];
    switch (e) {
      case '"': value.push_back('"'); break;
      case '\\': value.push_back('\\'); break;
      case 'n': value.push_back('\n'); break;
      case 'r': value.push_back('\r'); break;
      case 't': value.push_back('\t'); break;
      case 'u': {
        // Only \u00XX below 0x80 is ever written (control bytes).
        if (i + 4 > line.size() || line.substr(i, 2) != "00" || HexDigit(line[i + 2]) < 0 ||
            HexDigit(line[i + 3]) < 0 || HexDigit(line[i + 2]) > 7) {
          return absl::InvalidArgumentError(
              absl::StrCat("bad \\u escape at column ", i, " of log line"));
        }
        value.push_back(static_cast<char>(HexDigit(line[i + 2]) * 16 + HexDigit(line[i + 3])));
        i += 4;
        break;
      }
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("unknown escape \\", absl::string_view(&e, 1), " in log line"));
    }
  }
  return absl::InvalidArgumentError("unterminated quoted value in log line");
}

}  // namespace

absl::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarning: return "warn";
    case Level::kError: return "error";
  }
  return "unknown";
}

void LogValue::AppendTo(std::string* out) const {
  std::visit([out](auto v) { AppendValue(v, out); }, value_);
}

void ConfigureLogging(LogOptions options) {
  LogState& state = State();
  absl::MutexLock lock(&state.mu);
  state.options = std::move(options);
}

std::string FormatLogLine(absl::Time time, Level level, absl::string_view service,
                          absl::string_view event, std::initializer_list<LogField> fields) {
  std::string line = absl::StrCat(
      "ts=", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone()));
  AppendField("level", LevelName(level), &line);
  AppendField("service", service, &line);
  AppendField("event", event, &line);
  for (const LogField& field : fields) AppendField(field.first, field.second, &line);
  return line;
}

void Log(Level level, absl::string_view event, std::initializer_list<LogField> fields) {
  LogState& state = State();
  const absl::Time now = absl::Now();
  absl::MutexLock lock(&state.mu);
  if (level < state.options.min_level) return;
  std::string line = FormatLogLine(now, level, state.options.service, event, fields);
  line.push_back('\n');
  WriteFully(state.options.fd, line);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseLogLine(
    absl::string_view line) {
  std::vector<std::pair<std::string, std::string>> fields;
  size_t pos = 0;
  while (true) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    if (pos == line.size()) return fields;
    const size_t eq = line.find('=', pos);
    const size_t space = line.find(' ', pos);
    if (eq == absl::string_view::npos || eq == pos || eq > space) {
      return absl::InvalidArgumentError(
          absl::StrCat("expected key=value at column ", pos, " of log line"));
    }
    std::string key(line.substr(pos, eq - pos));
    pos = eq + 1;
    if (pos < line.size() && line[pos] == '"') {
      auto value = ParseQuoted(line, &pos);
      if (!value.ok()) return value.status();
      if (pos < line.size() && line[pos] != ' ') {
        return absl::InvalidArgumentError(
            absl::StrCat("expected a space after the quoted value ending at column ", pos));
      }
      fields.emplace_back(std::move(key), *std::move(value));
    } else {
      const size_t end = std::min(line.find(' ', pos), line.size());
      fields.emplace_back(std::move(key), std::string(line.substr(pos, end - pos)));
      pos = end;
    }
  }
}

}  // namespace flsailer::telemetry
