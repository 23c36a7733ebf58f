#include "libs/sampling/subspace.h"

#include <numeric>

#include "Eigen/SVD"
#include "gtest/gtest.h"
#include "libs/data/dataset.h"
#include "libs/sampling/leverage.h"
#include "libs/sampling/sampling_test_util.h"
#include "libs/sampling/tfidf.h"

namespace flsailer::sampling {
namespace {

std::vector<double> Leverage(const std::vector<const data::CsrMatrix*>& clients,
                             const SubspaceOptions& options, int threads = 1) {
  auto it = RunSubspaceIteration(clients, options, threads);
  EXPECT_TRUE(it.ok()) << it.status();
  return LeverageScores(it->right_vectors());
}

TEST(SubspaceTest, AgreesWithExactSvdOnRealData) {
  auto ds = data::LoadDataset("../shared/data/granja2019_bmmc");
  if (!ds.ok()) GTEST_SKIP() << ds.status();
  const data::CsrMatrix t = TfIdfOf(ds->matrix);
  SubspaceOptions options;  // defaults: k 30, oversampling 30, q 6
  const std::vector<double> approx = Leverage({&t}, options);
  const std::vector<double> exact = ExactLeverage(t, options.rank);
  EXPECT_NEAR(std::accumulate(approx.begin(), approx.end(), 0.0), 1.0, 1e-9);
  EXPECT_GE(Spearman(approx, exact), 0.99);
  EXPECT_GE(TopOverlap(approx, exact, 0.2), 0.95);
}

TEST(SubspaceTest, ExactWhenTheBasisSpansEverything) {
  const data::CsrMatrix t = TfIdfOf(BlockMatrix(120, 40, 4, 0.1, 5));
  SubspaceOptions options;
  options.rank = 6;
  options.oversampling = 40;  // l = p
  options.power_iterations = 0;
  const std::vector<double> approx = Leverage({&t}, options);
  const std::vector<double> exact = ExactLeverage(t, options.rank);
  for (size_t j = 0; j < exact.size(); ++j) EXPECT_NEAR(approx[j], exact[j], 1e-10) << j;
}

TEST(SubspaceTest, SplittingRowsAmongClientsGivesTheSameScores) {
  const data::CsrMatrix t = TfIdfOf(BlockMatrix(500, 300, 5, 0.03, 9));
  SubspaceOptions options;
  options.rank = 10;
  const std::vector<double> one = Leverage({&t}, options);
  const data::CsrMatrix a = Rows(t, 0, 250), b = Rows(t, 250, 500);
  const std::vector<double> two = Leverage({&a, &b}, options);
  std::vector<data::CsrMatrix> five;
  for (int i = 0; i < 5; ++i) five.push_back(Rows(t, i * 100, (i + 1) * 100));
  const std::vector<double> five_scores =
      Leverage({&five[0], &five[1], &five[2], &five[3], &five[4]}, options);
  const std::vector<double> threaded = Leverage({&t}, options, /*threads=*/2);
  for (size_t j = 0; j < one.size(); ++j) {
    EXPECT_NEAR(one[j], two[j], 1e-9);
    EXPECT_NEAR(one[j], five_scores[j], 1e-9);
    EXPECT_EQ(one[j], threaded[j]);  // threads do not change the order of any sum
  }
}

TEST(SubspaceTest, WarmStartFromAConvergedBasisNeedsNoPowerSteps) {
  const data::CsrMatrix t = TfIdfOf(BlockMatrix(300, 120, 4, 0.05, 11));
  Eigen::BDCSVD<Eigen::MatrixXd> svd(Dense(t));
  SubspaceOptions options;
  options.rank = 4;
  options.power_iterations = 10;
  auto cold = RunSubspaceIteration({&t}, options);
  ASSERT_TRUE(cold.ok());
  options.power_iterations = 0;
  options.seed = 99;
  auto warm = SubspaceIteration::WarmStart(cold->right_vectors(), options);
  ASSERT_TRUE(warm.ok());
  EXPECT_FALSE(warm->needs_power_step());
  while (!warm->done()) {
    ASSERT_TRUE(warm->Update(*LocalSubspaceSums(t, warm->basis())).ok());
  }
  // A cold start without power steps is far off; the warm one is on the exact values.
  auto cold_no_power = RunSubspaceIteration({&t}, options);
  ASSERT_TRUE(cold_no_power.ok());
  const double exact = svd.singularValues()(3);
  EXPECT_NEAR(warm->singular_values()[3], exact, 1e-6 * exact);
  EXPECT_GT(std::abs(cold_no_power->singular_values()[3] - exact), 1e-3 * exact);
}

TEST(SubspaceTest, BadInputIsAnErrorNotACrash) {
  const data::CsrMatrix t = TfIdfOf(BlockMatrix(50, 20, 2, 0.2, 1));
  SubspaceOptions options;
  options.rank = 21;
  EXPECT_FALSE(RunSubspaceIteration({&t}, options).ok());  // rank > peaks
  options.rank = 0;
  EXPECT_FALSE(RunSubspaceIteration({&t}, options).ok());
  EXPECT_FALSE(RunSubspaceIteration({}, SubspaceOptions{}).ok());
  options.rank = 3;
  auto it = SubspaceIteration::Start(20, options);
  ASSERT_TRUE(it.ok());
  EXPECT_FALSE(SumLocalSubspaceSums({}, it->basis()).ok());
  SubspaceSums sums = *LocalSubspaceSums(t, it->basis());
  sums.power(0, 0) = std::nan("");
  EXPECT_FALSE(it->Update(sums).ok());
  const data::CsrMatrix other = BlockMatrix(10, 25, 2, 0.2, 1);
  EXPECT_FALSE(LocalSubspaceSums(other, it->basis()).ok());  // wrong number of peaks
  // k larger than the rank of T: documented behaviour is trailing singular values near zero.
  const data::CsrMatrix tiny = TfIdfOf(BlockMatrix(3, 20, 1, 0.3, 2));
  options.rank = 5;
  auto low = RunSubspaceIteration({&tiny}, options);
  ASSERT_TRUE(low.ok());
  EXPECT_LT(low->singular_values()[4], 1e-8 * low->singular_values()[0]);
}

}  // namespace
}  // namespace flsailer::sampling
