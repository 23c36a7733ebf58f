#include "libs/telemetry/progress.h"

#include <thread>

#include "gtest/gtest.h"

namespace flsailer::telemetry {
namespace {

TEST(ProgressTest, RemainingSecondsExtrapolatesTheAveragePace) {
  EXPECT_EQ(RemainingSeconds(0, 20, 5.0), std::nullopt);
  EXPECT_DOUBLE_EQ(*RemainingSeconds(3, 20, 6.0), 34.0);
  EXPECT_DOUBLE_EQ(*RemainingSeconds(19, 20, 19.0), 1.0);
  EXPECT_EQ(*RemainingSeconds(20, 20, 100.0), 0.0);
  EXPECT_EQ(*RemainingSeconds(21, 20, 100.0), 0.0);
}

TEST(ProgressTest, FormatSecondsUsesTheLargestUnitsThatFit) {
  EXPECT_EQ(FormatSeconds(0), "0 s");
  EXPECT_EQ(FormatSeconds(-3), "0 s");
  EXPECT_EQ(FormatSeconds(40.6), "41 s");
  EXPECT_EQ(FormatSeconds(59.4), "59 s");
  EXPECT_EQ(FormatSeconds(59.6), "1 min");
  EXPECT_EQ(FormatSeconds(725), "12 min 5 s");
  EXPECT_EQ(FormatSeconds(3599), "59 min 59 s");
  EXPECT_EQ(FormatSeconds(7200), "2 h");
  EXPECT_EQ(FormatSeconds(7500), "2 h 5 min");
  EXPECT_EQ(FormatSeconds(90061), "25 h 1 min");
}

TEST(ProgressTest, FormatProgress) {
  EXPECT_EQ(FormatProgress("round", 3, 20, 7.235), "round 3/20, ETA 41 s");
  EXPECT_EQ(FormatProgress("round", 0, 20, 7.0), "round 0/20");
  EXPECT_EQ(FormatProgress("epoch", 10, 100, 60.0), "epoch 10/100, ETA 9 min");
  EXPECT_EQ(FormatProgress("round", 20, 20, 600.0), "round 20/20, ETA 0 s");
}

TEST(ProgressTest, TimerMeasuresFromConstruction) {
  const ProgressTimer timer;
  EXPECT_EQ(timer.Format("round", 0, 5), "round 0/5");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double elapsed = timer.ElapsedSeconds();
  EXPECT_GE(elapsed, 0.02);
  EXPECT_LT(elapsed, 60.0);
  // One step of four done in `elapsed`: three more to go.
  EXPECT_GE(*timer.RemainingSeconds(1, 4), 3 * elapsed);
}

}  // namespace
}  // namespace flsailer::telemetry
