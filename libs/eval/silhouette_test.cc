#include "libs/eval/silhouette.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/eval/categories.h"
#include "libs/eval/test_util.h"

namespace flsailer::eval {
namespace {

using ::testing::HasSubstr;

class SilhouetteTest : public testing::BlobsFixture {};

TEST_F(SilhouetteTest, SamplesMatchScikitLearn) {
  auto fixture = testing::ReadFixture("blobs_silhouette.tsv");
  ASSERT_TRUE(fixture.ok());
  auto s = SilhouetteSamples(blobs_.embedding, labels_, {});
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->size(), fixture->size());
  for (size_t i = 0; i < s->size(); ++i) EXPECT_NEAR((*s)[i], std::stod((*fixture)[i][1]), 1e-5);
  auto some = SilhouetteSamples(blobs_.embedding, labels_, {7, 3}, /*threads=*/2);
  ASSERT_TRUE(some.ok());
  EXPECT_EQ((*some)[0], (*s)[7]);
  EXPECT_EQ((*some)[1], (*s)[3]);
}

TEST_F(SilhouetteTest, LabelAndBatchAswMatchScib) {
  auto label_asw = LabelAsw(blobs_.embedding, labels_);
  ASSERT_TRUE(label_asw.ok());
  EXPECT_NEAR(*label_asw, expected_["label_asw"], 1e-6);
  auto batch_asw = BatchAsw(blobs_.embedding, labels_, batches_);
  ASSERT_TRUE(batch_asw.ok());
  EXPECT_NEAR(*batch_asw, expected_["batch_asw"], 1e-6);
}

TEST_F(SilhouetteTest, SampledScoresEstimateTheFullOnes) {
  SilhouetteOptions options;
  options.max_cells = 120;
  options.seed = 4;
  options.threads = 2;
  auto sampled = LabelAsw(blobs_.embedding, labels_, options);
  ASSERT_TRUE(sampled.ok());
  EXPECT_NE(*sampled, expected_["label_asw"]);
  EXPECT_NEAR(*sampled, expected_["label_asw"], 0.03);
  auto again = LabelAsw(blobs_.embedding, labels_, options);
  EXPECT_EQ(*sampled, *again);
}

TEST_F(SilhouetteTest, UnlabelledCellsAreLeftOut) {
  std::vector<int32_t> labels = labels_;
  labels[0] = labels[1] = -1;
  auto with_missing = SilhouetteSamples(blobs_.embedding, labels, {});
  ASSERT_TRUE(with_missing.ok());
  EXPECT_EQ(with_missing->size(), 238u);
  EXPECT_FALSE(SilhouetteSamples(blobs_.embedding, labels, {0}).ok());
}

TEST(SilhouetteEdgeTest, UndefinedCasesAreNaN) {
  data::DenseMatrix points{4, 1, {0, 1, 5, 6}};
  auto one_label = LabelAsw(points, {0, 0, 0, 0});
  ASSERT_TRUE(one_label.ok());
  EXPECT_TRUE(std::isnan(*one_label));
  auto singletons = LabelAsw(points, {0, 1, 2, 3});
  ASSERT_TRUE(singletons.ok());
  EXPECT_TRUE(std::isnan(*singletons));
  auto one_batch = BatchAsw(points, {0, 0, 1, 1}, {2, 2, 2, 2});
  ASSERT_TRUE(one_batch.ok());
  EXPECT_TRUE(std::isnan(*one_batch));
}

TEST(SilhouetteEdgeTest, HandComputedValues) {
  // Cells 0, 1 (label 0) and 5, 6 (label 1) on a line, plus a singleton label at 20.
  data::DenseMatrix points{5, 1, {0, 1, 5, 6, 20}};
  auto s = SilhouetteSamples(points, {0, 0, 1, 1, 2}, {});
  ASSERT_TRUE(s.ok());
  // Cell 0: a = 1, b = mean(5, 6) = 5.5 -> 1 - 1 / 5.5.
  EXPECT_NEAR((*s)[0], 1 - 1 / 5.5, 1e-12);
  // Cell 3: a = 1, b = min(mean(6, 5), 14) = 5.5.
  EXPECT_NEAR((*s)[3], 1 - 1 / 5.5, 1e-12);
  EXPECT_EQ((*s)[4], 0.0);  // alone in its label
  // Batch ASW: label 0 holds batches {0, 1} = as many batches as cells: skipped; label 1 holds
  // batches {0, 0}: skipped -> nothing left.
  auto batch = BatchAsw(points, {0, 0, 1, 1, 2}, {0, 1, 0, 0, 0});
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(std::isnan(*batch));
  // Perfectly interleaved batches within one label: cells 0,2 batch 0 at 0 and 2; 1,3 batch 1
  // at 1 and 3 -> s of cell 0: a = 2, b = mean(1, 3) = 2 -> 0 -> score 1; and so on.
  data::DenseMatrix line{4, 1, {0, 1, 2, 3}};
  auto mixed = BatchAsw(line, {0, 0, 0, 0}, {0, 1, 0, 1});
  ASSERT_TRUE(mixed.ok());
  // s: cell0 (2-2)/2=0; cell1 a=2 b=mean(1,1)=1 -> -0.5; cell2 a=2 b=1 -> -0.5; cell3 0.
  EXPECT_NEAR(*mixed, 1 - (0 + 0.5 + 0.5 + 0) / 4, 1e-12);
}

TEST(SilhouetteEdgeTest, BadInputIsAnError) {
  data::DenseMatrix points{2, 1, {0, 1}};
  EXPECT_THAT(LabelAsw(points, {0}).status().message(), HasSubstr("1 labels for 2 cells"));
  EXPECT_FALSE(BatchAsw(points, {0, 1}, {0}).ok());
  EXPECT_FALSE(BatchAsw(points, {0, 1}, {0, -1}).ok());
  EXPECT_FALSE(LabelAsw(data::DenseMatrix{}, {}).ok());
  EXPECT_FALSE(SilhouetteSamples(points, {0, 1}, {2}).ok());
}

}  // namespace
}  // namespace flsailer::eval
