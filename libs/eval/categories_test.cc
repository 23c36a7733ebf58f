#include "libs/eval/categories.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace flsailer::eval {
namespace {

using ::testing::ElementsAre;

TEST(CategoriesTest, CodesFollowNaturalOrder) {
  const Categories c = EncodeCategories({"type_10", "type_2", "", "B", "type_2", "A", "type_02"});
  EXPECT_THAT(c.names, ElementsAre("", "A", "B", "type_02", "type_2", "type_10"));
  EXPECT_THAT(c.codes, ElementsAre(5, 4, 0, 2, 4, 1, 3));
}

TEST(CategoriesTest, NaturalLessIsAStrictOrder) {
  EXPECT_TRUE(NaturalLess("a2", "a10"));
  EXPECT_FALSE(NaturalLess("a10", "a2"));
  EXPECT_TRUE(NaturalLess("a", "a1"));
  EXPECT_TRUE(NaturalLess("9", "10"));
  EXPECT_TRUE(NaturalLess("07", "7"));  // equal numbers: byte order
  EXPECT_FALSE(NaturalLess("7", "07"));
  EXPECT_FALSE(NaturalLess("x", "x"));
  EXPECT_TRUE(NaturalLess("01_HSC", "05_CMP.LMPP"));
}

TEST(CategoriesTest, DenseCodesKeepOrderAndMissing) {
  std::vector<int32_t> codes;
  EXPECT_EQ(DenseCodes({7, -1, 3, 7, 100, -5}, &codes), 3);
  EXPECT_THAT(codes, ElementsAre(1, -1, 0, 1, 2, -1));
  EXPECT_EQ(DenseCodes({}, &codes), 0);
  EXPECT_TRUE(codes.empty());
}

TEST(CategoriesTest, Empty) {
  const Categories c = EncodeCategories({});
  EXPECT_TRUE(c.names.empty());
  EXPECT_TRUE(c.codes.empty());
}

}  // namespace
}  // namespace flsailer::eval
