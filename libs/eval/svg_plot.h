// An SVG picture of a 2-D layout of the cells, coloured by cluster, label and batch: single-cell
// users look at their cells before they read numbers.
//
// Thread safety: thread-compatible (pure functions, plus a file write).
#ifndef FLSAILER_LIBS_EVAL_SVG_PLOT_H_
#define FLSAILER_LIBS_EVAL_SVG_PLOT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "libs/eval/layout.h"

namespace flsailer::eval {

// One panel of the picture: the layout coloured by one per-cell category.
struct PlotPanel {
  std::string title;               // e.g. "cell type", "batch", "Leiden clusters"
  std::vector<int32_t> codes;      // per cell of the embedding; negative = missing (grey, "NA")
  std::vector<std::string> names;  // legend text of each code
};

struct SvgOptions {
  std::string title;         // drawn above the panels
  int panel_size = 480;      // width and height of each panel's plot area, in pixels
  int max_legend_rows = 30;  // more categories are summarised as "... N more"
  uint64_t seed = 0;         // order in which points are drawn (shuffled, so that no category
                             // systematically covers another)
};

// An SVG image: the panels side by side, each a scatter plot of the layout (small discs, one
// colour per category: Scanpy's 20-colour palette, then evenly spread hues) with its legend.
// Errors (InvalidArgument): no panels, a layout cell without a code in some panel, a code without
// a name, layout coordinates that are not finite or not one per cell.
absl::StatusOr<std::string> RenderEmbeddingSvg(const Layout& layout,
                                               const std::vector<PlotPanel>& panels,
                                               const SvgOptions& options = {});

// RenderEmbeddingSvg written atomically to `path`.
absl::Status WriteEmbeddingSvg(const std::string& path, const Layout& layout,
                               const std::vector<PlotPanel>& panels,
                               const SvgOptions& options = {});

}  // namespace flsailer::eval

#endif  // FLSAILER_LIBS_EVAL_SVG_PLOT_H_
