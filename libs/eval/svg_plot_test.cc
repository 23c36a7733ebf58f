#include "libs/eval/svg_plot.h"

#include <unistd.h>

#include <cstdio>
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "libs/common/file_io.h"

namespace flsailer::eval {
namespace {

using ::testing::HasSubstr;

int Count(const std::string& text, const std::string& what) {
  int count = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

Layout Square() {
  Layout layout;
  layout.cells = {0, 1, 2, 3};
  layout.x = {0, 1, 0, 1};
  layout.y = {0, 0, 1, 1};
  return layout;
}

TEST(SvgPlotTest, DrawsEveryCellInEveryPanelWithLegends) {
  std::vector<PlotPanel> panels = {
      {"cell type", {0, 0, 1, -1}, {"T <cells>", "B & co"}},
      {"batch", {0, 1, 0, 1}, {"site1", "site2"}},
  };
  SvgOptions options;
  options.title = "demo \"run\"";
  auto svg = RenderEmbeddingSvg(Square(), panels, options);
  ASSERT_TRUE(svg.ok()) << svg.status();
  EXPECT_TRUE(absl::StartsWith(*svg, "<?xml"));
  EXPECT_TRUE(absl::EndsWith(*svg, "</svg>\n"));
  // 4 points per panel, plus one legend disc per category present (3 incl. NA, then 2).
  EXPECT_EQ(Count(*svg, "<circle"), 8 + 3 + 2);
  EXPECT_THAT(*svg, HasSubstr("T &lt;cells&gt;"));
  EXPECT_THAT(*svg, HasSubstr("B &amp; co"));
  EXPECT_THAT(*svg, HasSubstr("demo &quot;run&quot;"));
  EXPECT_THAT(*svg, HasSubstr(">NA</text>"));
  EXPECT_THAT(*svg, HasSubstr("#1f77b4"));  // Scanpy's first colour
  EXPECT_EQ(Count(*svg, "#c8c8c8"), 2);     // the missing cell and its legend entry
}

TEST(SvgPlotTest, ManyCategoriesGetDistinctColoursAndAShortLegend) {
  Layout layout;
  std::vector<int32_t> codes;
  std::vector<std::string> names;
  for (int i = 0; i < 50; ++i) {
    layout.cells.push_back(i);
    layout.x.push_back(i % 7);
    layout.y.push_back(i / 7);
    codes.push_back(i);
    names.push_back("type" + std::to_string(i));
  }
  SvgOptions options;
  options.max_legend_rows = 10;
  auto svg = RenderEmbeddingSvg(layout, {{"clusters", codes, names}}, options);
  ASSERT_TRUE(svg.ok());
  EXPECT_THAT(*svg, HasSubstr("... 41 more"));
  EXPECT_EQ(Count(*svg, "<circle"), 50 + 9);
  std::set<std::string> fills;
  for (size_t at = svg->find("fill=\"#"); at != std::string::npos;
       at = svg->find("fill=\"#", at + 1)) {
    fills.insert(svg->substr(at + 6, 7));
  }
  EXPECT_EQ(fills.size(), 50u);
}

TEST(SvgPlotTest, BadInputIsAnError) {
  EXPECT_THAT(RenderEmbeddingSvg(Square(), {}).status().message(), HasSubstr("no panels"));
  EXPECT_THAT(RenderEmbeddingSvg(Square(), {{"t", {0, 0, 0}, {"a"}}}).status().message(),
              HasSubstr("no code for cell 3"));
  EXPECT_THAT(RenderEmbeddingSvg(Square(), {{"t", {0, 0, 0, 2}, {"a"}}}).status().message(),
              HasSubstr("code 2 has no name"));
  Layout broken = Square();
  broken.x[1] = NAN;
  EXPECT_FALSE(RenderEmbeddingSvg(broken, {{"t", {0, 0, 0, 0}, {"a"}}}).ok());
}

TEST(SvgPlotTest, WritesTheFile) {
  const std::string path =
      ::testing::TempDir() + "/svg_plot_test_" + std::to_string(getpid()) + ".svg";
  ASSERT_TRUE(WriteEmbeddingSvg(path, Square(), {{"t", {0, 1, 0, 1}, {"a", "b"}}}).ok());
  auto text = ReadFileToString(path);
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("<svg"));
  std::remove(path.c_str());
  EXPECT_FALSE(
      WriteEmbeddingSvg("/nonexistent-dir/x.svg", Square(), {{"t", {0, 1, 0, 1}, {"a", "b"}}})
          .ok());
}

}  // namespace
}  // namespace flsailer::eval
