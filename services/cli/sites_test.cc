#include "services/cli/sites.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Batches(int a, int b) {
  std::vector<std::string> batches(a, "donor-a");
  batches.insert(batches.end(), b, "donor-b");
  return batches;
}

// Every cell in exactly one site.
void ExpectPartition(const std::vector<Site>& sites, int64_t cells) {
  std::set<int64_t> seen;
  for (const Site& site : sites) {
    EXPECT_TRUE(std::is_sorted(site.rows.begin(), site.rows.end()));
    for (int64_t r : site.rows) EXPECT_TRUE(seen.insert(r).second) << r;
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), cells);
}

TEST(PlanSitesTest, OneSitePerBatchByDefault) {
  auto sites = PlanSites(Batches(3, 2), 0, 1);
  ASSERT_TRUE(sites.ok()) << sites.status();
  ASSERT_EQ(sites->size(), 2u);
  EXPECT_EQ((*sites)[0].id, "donor-a");
  EXPECT_THAT((*sites)[0].rows, ElementsAre(0, 1, 2));
  EXPECT_EQ((*sites)[1].id, "donor-b");
  EXPECT_THAT((*sites)[1].rows, ElementsAre(3, 4));
}

TEST(PlanSitesTest, MoreInstitutionsHalveTheLargestBatch) {
  auto sites = PlanSites(Batches(10, 4), 3, 7);
  ASSERT_TRUE(sites.ok()) << sites.status();
  ASSERT_EQ(sites->size(), 3u);
  EXPECT_EQ((*sites)[0].id, "donor-a-1");
  EXPECT_EQ((*sites)[1].id, "donor-a-2");
  EXPECT_EQ((*sites)[2].id, "donor-b");
  EXPECT_EQ((*sites)[0].rows.size(), 5u);
  EXPECT_EQ((*sites)[1].rows.size(), 5u);
  for (int64_t r : (*sites)[0].rows) EXPECT_LT(r, 10);  // halves keep to their batch
  ExpectPartition(*sites, 14);
  // A seed decides which cells go to which half, reproducibly.
  EXPECT_EQ(PlanSites(Batches(10, 4), 3, 7)->at(0).rows, (*sites)[0].rows);
}

TEST(PlanSitesTest, FewerInstitutionsMergeWholeBatches) {
  std::vector<std::string> batches = Batches(6, 1);
  batches.insert(batches.end(), 5, "donor-c");
  auto sites = PlanSites(batches, 2, 1);
  ASSERT_TRUE(sites.ok()) << sites.status();
  ASSERT_EQ(sites->size(), 2u);
  EXPECT_EQ((*sites)[0].id, "site-1");
  EXPECT_EQ((*sites)[0].rows.size(), 6u);  // donor-a alone
  EXPECT_EQ((*sites)[1].rows.size(), 6u);  // donor-c and donor-b
  ExpectPartition(*sites, 12);
}

TEST(PlanSitesTest, BatchValuesThatAreNotIdsAreNumbered) {
  auto sites = PlanSites({"Donor 1", "Donor 2", "Donor 1"}, 0, 1);
  ASSERT_TRUE(sites.ok()) << sites.status();
  EXPECT_EQ((*sites)[0].id, "site-1");
  EXPECT_THAT((*sites)[0].rows, ElementsAre(0, 2));
}

TEST(PlanSitesTest, RefusesImpossiblePlans) {
  EXPECT_THAT(PlanSites({}, 0, 1).status().message(), HasSubstr("no cells"));
  EXPECT_THAT(PlanSites(Batches(1, 1), 3, 1).status().message(),
              HasSubstr("cannot make 3 institutions of 2 cells"));
}

TEST(SubsetCellsTest, KeepsBarcodesAndMetadataInOrder) {
  data::Dataset ds;
  ds.matrix.rows = 3;
  ds.matrix.cols = 2;
  ds.matrix.indptr = {0, 1, 2, 4};
  ds.matrix.indices = {0, 1, 0, 1};
  ds.matrix.values = {1, 2, 3, 4};
  ds.barcodes = {"a", "b", "c"};
  ds.metadata.names = {"cell_type"};
  ds.metadata.columns = {{"x", "y", "z"}};
  const data::Dataset sub = SubsetCells(ds, {2, 0});
  EXPECT_THAT(sub.barcodes, ElementsAre("c", "a"));
  EXPECT_THAT(sub.metadata.columns[0], ElementsAre("z", "x"));
  EXPECT_EQ(sub.matrix.rows, 2);
  EXPECT_THAT(sub.matrix.values, ElementsAre(3, 4, 1));
}

}  // namespace
}  // namespace flsailer::cli
