#include "libs/telemetry/log.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::telemetry {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;
using ::testing::ElementsAre;
using ::testing::Pair;
using ::testing::SizeIs;

absl::Time ExampleTime() {
  return absl::FromCivil(absl::CivilSecond(2026, 11, 29, 2, 31, 7), absl::UTCTimeZone()) +
         absl::Milliseconds(123);
}

Fields Parse(absl::string_view line) {
  auto fields = ParseLogLine(line);
  EXPECT_TRUE(fields.ok()) << fields.status() << " in: " << line;
  return fields.ok() ? *fields : Fields{};
}

// Everything written to a temporary file's descriptor while the test runs.
class LogFile {
 public:
  LogFile() : file_(std::tmpfile()) {}
  ~LogFile() { std::fclose(file_); }
  int fd() const { return fileno(file_); }
  std::vector<std::string> Lines() const {
    std::string text;
    char buffer[4096];
    ssize_t n;
    off_t offset = 0;
    while ((n = pread(fd(), buffer, sizeof(buffer), offset)) > 0) {
      text.append(buffer, static_cast<size_t>(n));
      offset += n;
    }
    EXPECT_TRUE(text.empty() || text.back() == '\n') << "last line unterminated";
    return absl::StrSplit(text, '\n', absl::SkipEmpty());
  }

 private:
  std::FILE* file_;
};

class LogTest : public ::testing::Test {
 protected:
  ~LogTest() override { ConfigureLogging(LogOptions()); }
};

TEST_F(LogTest, FormatsTheDocumentedExample) {
  EXPECT_EQ(FormatLogLine(ExampleTime(), Level::kInfo, "coordinator", "round_finished",
                          {{"job", "job-1"}, {"round", 3}, {"loss", 812.3}, {"seconds", 4.2}}),
            "ts=2026-11-29T02:31:07.123Z level=info service=coordinator event=round_finished "
            "job=job-1 round=3 loss=812.3 seconds=4.2");
}

TEST_F(LogTest, ValueTypes) {
  const std::string owned = "text";
  const Fields fields = Parse(FormatLogLine(
      ExampleTime(), Level::kWarning, "client", "e",
      {{"literal", "abc"},  // a string, not a pointer converted to bool
       {"owned", owned},
       {"int32", int32_t{-7}},
       {"int64_min", std::numeric_limits<int64_t>::min()},
       {"uint64_max", std::numeric_limits<uint64_t>::max()},
       {"size", size_t{12}},
       {"yes", true},
       {"no", false},
       {"tenth", 0.1},
       {"float", 2.5f},
       {"big", 1e300}}));
  EXPECT_THAT(fields,
              ElementsAre(Pair("ts", "2026-11-29T02:31:07.123Z"), Pair("level", "warn"),
                          Pair("service", "client"), Pair("event", "e"), Pair("literal", "abc"),
                          Pair("owned", "text"), Pair("int32", "-7"),
                          Pair("int64_min", "-9223372036854775808"),
                          Pair("uint64_max", "18446744073709551615"), Pair("size", "12"),
                          Pair("yes", "true"), Pair("no", "false"), Pair("tenth", "0.1"),
                          Pair("float", "2.5"), Pair("big", "1e+300")));
}

TEST_F(LogTest, DoublesRoundTripExactly) {
  const double third = 1.0 / 3.0;
  const Fields fields =
      Parse(FormatLogLine(ExampleTime(), Level::kInfo, "s", "e", {{"third", third}}));
  ASSERT_THAT(fields, SizeIs(5));
  double parsed = 0;
  ASSERT_TRUE(absl::SimpleAtod(fields[4].second, &parsed));
  EXPECT_EQ(parsed, third);
}

TEST_F(LogTest, QuotesAndEscapesValuesThatWouldBreakTheLine) {
  const std::vector<std::string> values = {
      "",          "two words",   "say \"hi\"", "a=b",        "back\\slash", "line\nbreak",
      "cr\rtab\t", "bell\x01\x7f", "caf\xc3\xa9", "ends with space "};
  for (const std::string& value : values) {
    const std::string line =
        FormatLogLine(ExampleTime(), Level::kError, "svc", "event", {{"v", value}, {"after", 1}});
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
    EXPECT_THAT(Parse(line), ElementsAre(Pair("ts", "2026-11-29T02:31:07.123Z"),
                                         Pair("level", "error"), Pair("service", "svc"),
                                         Pair("event", "event"), Pair("v", value),
                                         Pair("after", "1")))
        << line;
  }
  EXPECT_EQ(FormatLogLine(ExampleTime(), Level::kInfo, "s", "e", {{"v", "say \"hi\"\n"}}),
            "ts=2026-11-29T02:31:07.123Z level=info service=s event=e v=\"say \\\"hi\\\"\\n\"");
  // Bytes outside ASCII are not escaped: UTF-8 stays readable.
  EXPECT_EQ(FormatLogLine(ExampleTime(), Level::kInfo, "s", "e", {{"v", "caf\xc3\xa9"}}),
            "ts=2026-11-29T02:31:07.123Z level=info service=s event=e v=caf\xc3\xa9");
}

TEST_F(LogTest, EventAndServiceAreQuotedToo) {
  EXPECT_THAT(Parse(FormatLogLine(ExampleTime(), Level::kInfo, "my service", "a=b", {})),
              ElementsAre(Pair("ts", "2026-11-29T02:31:07.123Z"), Pair("level", "info"),
                          Pair("service", "my service"), Pair("event", "a=b")));
}

TEST_F(LogTest, KeysThatWouldBreakTheLineAreSanitised) {
  const Fields fields = Parse(FormatLogLine(ExampleTime(), Level::kInfo, "s", "e",
                                            {{"bad key=\"x\"", 1}, {"", 2}, {"ok.key-1", 3}}));
  ASSERT_THAT(fields, SizeIs(7));
  EXPECT_THAT(fields[4], Pair("bad_key__x_", "1"));
  EXPECT_THAT(fields[5], Pair("_", "2"));
  EXPECT_THAT(fields[6], Pair("ok.key-1", "3"));
}

TEST_F(LogTest, ParseRejectsMalformedLines) {
  for (absl::string_view line :
       {"novalue", "=value", "a=\"unterminated", "a=\"bad \\q escape\"", "a=\"x\"b=1",
        "a=\"\\u0100\"", "a=\"\\u00zz\"", "a=\"trailing backslash\\"}) {
    EXPECT_FALSE(ParseLogLine(line).ok()) << line;
  }
  EXPECT_THAT(Parse("  a=1   b=\"\"  "), ElementsAre(Pair("a", "1"), Pair("b", "")));
}

TEST_F(LogTest, LogWritesOneLineAtOrAboveTheThreshold) {
  LogFile file;
  LogOptions options;
  options.service = "coordinator";
  options.min_level = Level::kWarning;
  options.fd = file.fd();
  ConfigureLogging(options);

  const absl::Time before = absl::Now() - absl::Milliseconds(1);  // ts is truncated to the ms
  Log(Level::kInfo, "dropped", {{"x", 1}});
  Log(Level::kWarning, "client_dropped", {{"institution", "hospital a"}, {"round", 3}});
  Log(Level::kError, "no_fields");
  const absl::Time after = absl::Now();

  const std::vector<std::string> lines = file.Lines();
  ASSERT_THAT(lines, SizeIs(2));
  const Fields first = Parse(lines[0]);
  ASSERT_THAT(first, SizeIs(6));
  EXPECT_THAT(Fields(first.begin() + 1, first.end()),
              ElementsAre(Pair("level", "warn"), Pair("service", "coordinator"),
                          Pair("event", "client_dropped"), Pair("institution", "hospital a"),
                          Pair("round", "3")));
  absl::Time ts;
  std::string error;
  ASSERT_TRUE(absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", first[0].second, absl::UTCTimeZone(), &ts,
                              &error))
      << first[0].second << ": " << error;
  EXPECT_GE(ts, before);
  EXPECT_LE(ts, after);
  EXPECT_THAT(Parse(lines[1]), SizeIs(4));
  EXPECT_NE(lines[1].find(" level=error service=coordinator event=no_fields"), std::string::npos);
}

TEST_F(LogTest, ConcurrentLinesDoNotInterleave) {
  LogFile file;
  LogOptions options;
  options.service = "client";
  options.fd = file.fd();
  ConfigureLogging(options);

  constexpr int kThreads = 8;
  constexpr int kLinesPerThread = 200;
  const std::string payload(500, 'x');  // long lines make a torn write likely if unguarded
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &payload] {
      for (int i = 0; i < kLinesPerThread; ++i) {
        Log(Level::kInfo, "tick", {{"thread", t}, {"i", i}, {"payload", payload}});
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  const std::vector<std::string> lines = file.Lines();
  ASSERT_THAT(lines, SizeIs(kThreads * kLinesPerThread));
  std::vector<int> next_index(kThreads, 0);
  for (const std::string& line : lines) {
    const Fields fields = Parse(line);
    ASSERT_THAT(fields, SizeIs(7)) << line;
    int thread = -1;
    int index = -1;
    ASSERT_TRUE(absl::SimpleAtoi(fields[4].second, &thread));
    ASSERT_TRUE(absl::SimpleAtoi(fields[5].second, &index));
    ASSERT_GE(thread, 0);
    ASSERT_LT(thread, kThreads);
    // Each thread's lines appear complete and in its own order.
    EXPECT_EQ(index, next_index[thread]++);
    EXPECT_EQ(fields[6].second, payload);
  }
}

}  // namespace
}  // namespace flsailer::telemetry
