#include "libs/telemetry/shutdown.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "libs/telemetry/log.h"

namespace flsailer::telemetry {
namespace {

std::unique_ptr<ShutdownSignal> InstallOrDie() {
  auto shutdown = ShutdownSignal::Install();
  EXPECT_TRUE(shutdown.ok()) << shutdown.status();
  return shutdown.ok() ? *std::move(shutdown) : nullptr;
}

// Without the handler, SIGTERM would kill the test instead of failing it.
TEST(ShutdownSignalTest, SigtermWakesAWaitingThread) {
  auto shutdown = InstallOrDie();
  ASSERT_NE(shutdown, nullptr);
  EXPECT_FALSE(shutdown->requested());
  std::thread waiter([&] { shutdown->Wait(); });
  // Sent to the process, as kill and Kubernetes do: any thread may run the handler.
  ASSERT_EQ(kill(getpid(), SIGTERM), 0);
  waiter.join();
  EXPECT_TRUE(shutdown->requested());
  EXPECT_EQ(shutdown->signal_number(), SIGTERM);
}

TEST(ShutdownSignalTest, SigintIsAShutdownRequestToo) {
  auto shutdown = InstallOrDie();
  ASSERT_NE(shutdown, nullptr);
  ASSERT_EQ(raise(SIGINT), 0);
  EXPECT_TRUE(shutdown->WaitFor(absl::Seconds(10)));
  EXPECT_EQ(shutdown->signal_number(), SIGINT);
}

TEST(ShutdownSignalTest, WaitForTimesOutWithoutARequest) {
  auto shutdown = InstallOrDie();
  ASSERT_NE(shutdown, nullptr);
  const absl::Time start = absl::Now();
  EXPECT_FALSE(shutdown->WaitFor(absl::Milliseconds(50)));
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  EXPECT_FALSE(shutdown->requested());
  EXPECT_EQ(shutdown->signal_number(), 0);
}

TEST(ShutdownSignalTest, NotifyWakesEveryWaiterAndLaterOnes) {
  auto shutdown = InstallOrDie();
  ASSERT_NE(shutdown, nullptr);
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i) waiters.emplace_back([&] { shutdown->Wait(); });
  shutdown->Notify();
  shutdown->Notify();  // idempotent
  for (std::thread& waiter : waiters) waiter.join();
  shutdown->Wait();  // a waiter arriving after the request returns at once
  EXPECT_TRUE(shutdown->requested());
  EXPECT_EQ(shutdown->signal_number(), 0);
}

TEST(ShutdownSignalTest, OneAtATimeAndHandlersRestoredOnDestruction) {
  struct sigaction before {};
  ASSERT_EQ(sigaction(SIGTERM, nullptr, &before), 0);
  auto shutdown = InstallOrDie();
  ASSERT_NE(shutdown, nullptr);
  EXPECT_EQ(ShutdownSignal::Install().status().code(), absl::StatusCode::kFailedPrecondition);
  struct sigaction during {};
  ASSERT_EQ(sigaction(SIGTERM, nullptr, &during), 0);
  EXPECT_NE(during.sa_handler, before.sa_handler);

  shutdown.reset();
  struct sigaction after {};
  ASSERT_EQ(sigaction(SIGTERM, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
  // Installing again starts from a clean state.
  shutdown = InstallOrDie();
  ASSERT_NE(shutdown, nullptr);
  EXPECT_FALSE(shutdown->requested());
}

TEST(ShutdownSignalTest, WaitThenShutDownLogsAroundTheShutdown) {
  auto shutdown = InstallOrDie();
  ASSERT_NE(shutdown, nullptr);
  int log_pipe[2];
  ASSERT_EQ(pipe(log_pipe), 0);
  ConfigureLogging({"test", Level::kInfo, log_pipe[1]});
  shutdown->Notify();
  shutdown->WaitThenShutDown([] { Log(Level::kInfo, "server_shut_down"); });
  ConfigureLogging(LogOptions());
  close(log_pipe[1]);
  std::vector<std::string> events;
  std::string text(4096, '\0');
  text.resize(static_cast<size_t>(std::max<ssize_t>(0, read(log_pipe[0], text.data(), 4096))));
  close(log_pipe[0]);
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    auto fields = ParseLogLine(line);
    ASSERT_TRUE(fields.ok()) << line;
    for (const auto& [key, value] : *fields) {
      if (key == "event") events.push_back(value);
      if (key == "signal") {
        EXPECT_EQ(value, "0");  // Notify, not a signal
      }
    }
  }
  EXPECT_EQ(events, (std::vector<std::string>{"stopping", "server_shut_down", "stopped"}));
}

TEST(ShutdownSignalDeathTest, SecondSignalTerminatesAtOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto shutdown = ShutdownSignal::Install();
        if (!shutdown.ok()) _exit(1);
        raise(SIGTERM);  // the graceful request
        if (!(*shutdown)->requested()) _exit(2);
        raise(SIGTERM);  // the impatient one
        _exit(3);
      },
      ::testing::KilledBySignal(SIGTERM), "");
}

}  // namespace
}  // namespace flsailer::telemetry
