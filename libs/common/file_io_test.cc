#include "libs/common/file_io.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "libs/common/text.h"

namespace flsailer {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + std::to_string(getpid()) + "_" + name;
}

std::vector<std::string> ReadAll(LineReader& reader) {
  std::vector<std::string> lines;
  absl::string_view line;
  while (reader.Next(&line)) lines.emplace_back(line);
  return lines;
}

void WriteGzip(const std::string& path, const std::string& content) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, content.data(), content.size()), static_cast<int>(content.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

TEST(LineReaderTest, SplitsLinesAndStripsCarriageReturns) {
  auto reader = LineReader::FromString("a\r\nbb\n\nlast", "mem");
  EXPECT_EQ(ReadAll(*reader), (std::vector<std::string>{"a", "bb", "", "last"}));
  EXPECT_TRUE(reader->status().ok());
  EXPECT_EQ(reader->line_number(), 4);
}

TEST(LineReaderTest, ReadsGzipAndPlainTheSame) {
  std::string content;
  for (int i = 0; i < 200000; ++i) content += std::to_string(i) + "\tvalue\n";
  const std::string gz = TempPath("lines.gz");
  const std::string plain = TempPath("lines.txt");
  WriteGzip(gz, content);
  {
    auto out = AtomicOutputFile::Create(plain);
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE((*out)->Write(content).ok());
    ASSERT_TRUE((*out)->Close().ok());
  }
  for (const std::string& path : {gz, plain}) {
    auto reader = LineReader::OpenFile(path);
    ASSERT_TRUE(reader.ok()) << reader.status();
    auto lines = ReadAll(**reader);
    ASSERT_TRUE((*reader)->status().ok()) << (*reader)->status();
    ASSERT_EQ(lines.size(), 200000u);
    EXPECT_EQ(lines[123456], "123456\tvalue");
    EXPECT_EQ((*reader)->bytes_read(), static_cast<int64_t>(content.size()));
  }
}

TEST(LineReaderTest, TruncatedGzipIsAnErrorNotAnEarlyEnd) {
  std::string content;
  for (int i = 0; i < 100000; ++i) content += "line " + std::to_string(i * 7919) + "\n";
  const std::string gz = TempPath("trunc.gz");
  WriteGzip(gz, content);
  auto whole = ReadFileToString(gz);
  ASSERT_TRUE(whole.ok());
  // Cut the compressed file in half.
  FILE* f = std::fopen(gz.c_str(), "rb");
  std::string bytes(1 << 22, '\0');
  bytes.resize(std::fread(bytes.data(), 1, bytes.size(), f));
  std::fclose(f);
  f = std::fopen(gz.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size() / 2, f);
  std::fclose(f);

  auto reader = LineReader::OpenFile(gz);
  ASSERT_TRUE(reader.ok());
  ReadAll(**reader);
  EXPECT_FALSE((*reader)->status().ok());
  EXPECT_NE((*reader)->status().message().find("truncated"), std::string::npos)
      << (*reader)->status();
}

TEST(LineReaderTest, CorruptGzipIsAnError) {
  std::string content(100000, 'x');
  const std::string gz = TempPath("corrupt.gz");
  WriteGzip(gz, content);
  FILE* f = std::fopen(gz.c_str(), "r+b");
  std::fseek(f, 20, SEEK_SET);
  std::fputs("garbage-garbage-garbage", f);
  std::fclose(f);
  auto text = ReadFileToString(gz);
  EXPECT_FALSE(text.ok());
  EXPECT_NE(text.status().message().find(gz), std::string::npos);
}

TEST(LineReaderTest, MissingFileIsNotFound) {
  auto reader = LineReader::OpenFile(TempPath("does-not-exist"));
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
}

TEST(LineReaderTest, LineErrorNamesSourceAndLine) {
  auto reader = LineReader::FromString("a\nb\n", "x.tsv");
  absl::string_view line;
  reader->Next(&line);
  reader->Next(&line);
  EXPECT_EQ(reader->LineError("bad").message(), "x.tsv:2: bad");
}

TEST(AtomicOutputFileTest, NothingAppearsUntilClose) {
  const std::string path = TempPath("atomic.txt");
  {
    auto out = AtomicOutputFile::Create(path);
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE((*out)->Write("partial").ok());
    EXPECT_FALSE(FileExists(path));
  }  // destroyed without Close: abandoned
  EXPECT_FALSE(FileExists(path));
  auto out = AtomicOutputFile::Create(path);
  ASSERT_TRUE((*out)->Write("whole\n").ok());
  ASSERT_TRUE((*out)->Close().ok());
  EXPECT_EQ(*ReadFileToString(path), "whole\n");
}

TEST(AtomicOutputFileTest, ConcatenatedGzipMembersReadAsOneStream) {
  const std::string body = TempPath("body.gz");
  {
    auto out = AtomicOutputFile::Create(body, /*gzip=*/true);
    ASSERT_TRUE((*out)->Write("second\nthird\n").ok());
    ASSERT_TRUE((*out)->Close().ok());
  }
  const std::string path = TempPath("joined.gz");
  auto out = AtomicOutputFile::Create(path, /*gzip=*/true);
  ASSERT_TRUE((*out)->Write("first\n").ok());
  ASSERT_TRUE((*out)->AppendRawFile(body).ok());
  ASSERT_TRUE((*out)->Close().ok());
  EXPECT_EQ(*ReadFileToString(path), "first\nsecond\nthird\n");
}

TEST(AtomicOutputFileTest, OwnerOnlyReplacesAWorldReadableFile) {
  const std::string path = TempPath("secret.key");
  {
    auto out = AtomicOutputFile::Create(path);
    ASSERT_TRUE((*out)->Write("old").ok());
    ASSERT_TRUE((*out)->Close().ok());
  }
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto out = AtomicOutputFile::CreateOwnerOnly(path);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_TRUE((*out)->Write("new\n").ok());
  ASSERT_TRUE((*out)->Close().ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(*ReadFileToString(path), "new\n");
  EXPECT_FALSE(AtomicOutputFile::CreateOwnerOnly(TempPath("no-such-dir/x.key")).ok());
}

TEST(ReadBinaryFileTest, ReturnsTheExactBytes) {
  const std::string path = TempPath("binary.bin");
  const std::string bytes("\x1f\x8b\0no newline\r\n\0\xff", 16);
  auto out = AtomicOutputFile::Create(path);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE((*out)->Write(bytes).ok());
  ASSERT_TRUE((*out)->Close().ok());
  auto read = ReadBinaryFile(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, bytes);
  EXPECT_EQ(ReadBinaryFile(TempPath("missing.bin")).status().code(), absl::StatusCode::kNotFound);
}

TEST(MakeDirectoriesTest, CreatesParentsAndRefusesFiles) {
  const std::string base = TempPath("dirs");
  EXPECT_TRUE(MakeDirectories(base + "/a/b/c").ok());
  EXPECT_TRUE(IsDirectory(base + "/a/b/c"));
  EXPECT_TRUE(MakeDirectories(base + "/a/b").ok());  // exists already
  auto out = AtomicOutputFile::Create(base + "/file");
  ASSERT_TRUE((*out)->Close().ok());
  EXPECT_FALSE(MakeDirectories(base + "/file").ok());
  EXPECT_FALSE(MakeDirectories(base + "/file/sub").ok());
}

TEST(TextTest, ParsesNumbersStrictly) {
  int64_t i;
  EXPECT_TRUE(ParseInt64("-42", &i));
  EXPECT_EQ(i, -42);
  EXPECT_FALSE(ParseInt64("42x", &i));
  EXPECT_FALSE(ParseInt64("", &i));
  EXPECT_FALSE(ParseInt64("99999999999999999999", &i));
  double d;
  EXPECT_TRUE(ParseDouble("1.5e3", &d));
  EXPECT_EQ(d, 1500.0);
  EXPECT_FALSE(ParseDouble("1.5.3", &d));
}

TEST(TextTest, ParsesHostAndPort) {
  auto v4 = ParseHostPort("0.0.0.0:7444");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 7444);
  auto v6 = ParseHostPort("[::1]:0");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  for (const char* bad : {"7444", ":7444", "localhost:", "localhost:http", "localhost:70000"}) {
    EXPECT_EQ(ParseHostPort(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(TextTest, SplitsFields) {
  absl::string_view f[3];
  EXPECT_EQ(SplitFields("a\tb\tc\td", '\t', f, 3), 3u);
  EXPECT_EQ(f[2], "c\td");
  EXPECT_EQ(SplitWhitespace("  1 2\t 3 ", f, 3), 3u);
  EXPECT_EQ(f[2], "3");
  EXPECT_EQ(SplitWhitespace("1 2 3 4", f, 3), 4u);
}

}  // namespace
}  // namespace flsailer
