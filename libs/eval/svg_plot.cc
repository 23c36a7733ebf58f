#include "libs/eval/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "libs/common/file_io.h"
#include "libs/common/status_macros.h"
#include "libs/eval/random.h"

namespace flsailer::eval {
namespace {

// Scanpy's default palette for up to 20 categories (scanpy.plotting.palettes.default_20).
constexpr const char* kPalette20[] = {"#1f77b4", "#ff7f0e", "#279e68", "#d62728", "#aa40fc",
                                      "#8c564b", "#e377c2", "#b5bd61", "#17becf", "#aec7e8",
                                      "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
                                      "#f7b6d2", "#dbdb8d", "#9edae5", "#ad494a", "#8c6d31"};
constexpr const char* kMissingColour = "#c8c8c8";
constexpr int kLegendWidth = 190;
constexpr int kMargin = 16;
constexpr int kTitleHeight = 36;
constexpr int kPanelTitleHeight = 26;
constexpr int kLegendRow = 16;

// Colour of category `code` of `count`: Scanpy's palette, or for more categories hues spread by
// the golden angle with alternating lightness, so that neighbouring codes differ.
std::string Colour(int32_t code, size_t count) {
  if (count <= 20) return kPalette20[code];
  const double hue = std::fmod(code * 137.50776, 360.0) / 60.0;
  const double lightness = code % 2 == 0 ? 0.45 : 0.62, saturation = 0.7;
  const double chroma = (1 - std::fabs(2 * lightness - 1)) * saturation;
  const double second = chroma * (1 - std::fabs(std::fmod(hue, 2.0) - 1));
  // HSL to RGB: the hue's sextant decides which channel gets the chroma and which the second.
  const double sextants[6][3] = {{chroma, second, 0}, {second, chroma, 0}, {0, chroma, second},
                                 {0, second, chroma}, {second, 0, chroma}, {chroma, 0, second}};
  const double* rgb = sextants[std::min(5, static_cast<int>(hue))];
  const double m = lightness - chroma / 2;
  auto channel = [m](double v) { return static_cast<int>(std::lround((v + m) * 255)); };
  return absl::StrFormat("#%02x%02x%02x", channel(rgb[0]), channel(rgb[1]), channel(rgb[2]));
}

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // Control characters are not allowed in XML 1.0 text.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') out += c;
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> RenderEmbeddingSvg(const Layout& layout,
                                               const std::vector<PlotPanel>& panels,
                                               const SvgOptions& options) {
  if (panels.empty()) return absl::InvalidArgumentError("SVG: no panels to draw");
  const size_t n = layout.cells.size();
  if (layout.x.size() != n || layout.y.size() != n) {
    return absl::InvalidArgumentError("SVG: layout coordinates are not one per cell");
  }
  if (options.panel_size < 50 || options.max_legend_rows < 1) {
    return absl::InvalidArgumentError("SVG: panel_size must be >= 50 and max_legend_rows >= 1");
  }
  for (const PlotPanel& panel : panels) {
    for (size_t i = 0; i < n; ++i) {
      const int64_t cell = layout.cells[i];
      if (cell < 0 || cell >= static_cast<int64_t>(panel.codes.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("SVG panel \"", panel.title, "\": no code for cell ", cell));
      }
      const int32_t code = panel.codes[static_cast<size_t>(cell)];
      if (code >= static_cast<int64_t>(panel.names.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("SVG panel \"", panel.title, "\": code ", code, " has no name"));
      }
    }
  }
  double min_x = 0, max_x = 0, min_y = 0, max_y = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(layout.x[i]) || !std::isfinite(layout.y[i])) {
      return absl::InvalidArgumentError("SVG: layout coordinates are not finite");
    }
    min_x = i == 0 ? layout.x[i] : std::min(min_x, layout.x[i]);
    max_x = i == 0 ? layout.x[i] : std::max(max_x, layout.x[i]);
    min_y = i == 0 ? layout.y[i] : std::min(min_y, layout.y[i]);
    max_y = i == 0 ? layout.y[i] : std::max(max_y, layout.y[i]);
  }
  const int size = options.panel_size;
  const double radius =
      std::clamp(size / (2.5 * std::sqrt(static_cast<double>(std::max<size_t>(n, 1)))), 0.7, 5.0);
  // One scale for both axes keeps the layout's proportions.
  const double extent = std::max({max_x - min_x, max_y - min_y, 1e-12});
  const double pixels = (size - 2 * radius - 2) / extent;
  const double offset_x = (size - (max_x - min_x) * pixels) / 2;
  const double offset_y = (size - (max_y - min_y) * pixels) / 2;

  // Same shuffled drawing order in every panel; missing values underneath the rest.
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  internal::Random random(options.seed);
  random.Shuffle(&order);

  const int panel_width = size + kLegendWidth + kMargin;
  const int width = static_cast<int>(panels.size()) * panel_width + kMargin;
  const int height = kTitleHeight + kPanelTitleHeight + size + kMargin;
  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"Helvetica, Arial, sans-serif\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%d\" y=\"24\" font-size=\"18\" font-weight=\"bold\">%s</text>\n",
      width, height, width, height, kMargin, Escape(options.title));
  for (size_t p = 0; p < panels.size(); ++p) {
    const PlotPanel& panel = panels[p];
    const int left = kMargin + static_cast<int>(p) * panel_width;
    const int top = kTitleHeight + kPanelTitleHeight;
    absl::StrAppendFormat(&svg,
                          "<g>\n<text x=\"%d\" y=\"%d\" font-size=\"14\">%s</text>\n"
                          "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                          "stroke=\"#bbbbbb\"/>\n",
                          left, top - 8, Escape(panel.title), left, top, size, size);
    std::vector<std::string> colours;
    for (size_t c = 0; c < panel.names.size(); ++c) {
      colours.push_back(Colour(static_cast<int32_t>(c), panel.names.size()));
    }
    for (int pass = 0; pass < 2; ++pass) {  // pass 0: missing values, pass 1: the rest
      for (size_t i : order) {
        const int32_t code = panel.codes[static_cast<size_t>(layout.cells[i])];
        if ((code < 0) != (pass == 0)) continue;
        const double cx = left + offset_x + (layout.x[i] - min_x) * pixels;
        const double cy = top + size - offset_y - (layout.y[i] - min_y) * pixels;
        absl::StrAppendFormat(&svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.2g\" fill=\"%s\"/>\n",
                              cx, cy, radius,
                              code < 0 ? kMissingColour : colours[static_cast<size_t>(code)]);
      }
    }
    // Legend: categories present in the panel, in code order.
    std::vector<bool> present(panel.names.size(), false);
    bool missing = false;
    for (int64_t cell : layout.cells) {
      const int32_t code = panel.codes[static_cast<size_t>(cell)];
      if (code < 0) {
        missing = true;
      } else {
        present[static_cast<size_t>(code)] = true;
      }
    }
    std::vector<std::pair<std::string, std::string>> entries;  // (colour, name)
    for (size_t c = 0; c < present.size(); ++c) {
      if (present[c]) entries.emplace_back(colours[c], panel.names[c]);
    }
    if (missing) entries.emplace_back(kMissingColour, "NA");
    const int rows_fit = std::max(1, size / kLegendRow);
    const size_t rows = static_cast<size_t>(std::min(options.max_legend_rows, rows_fit));
    const int legend_left = left + size + 12;
    for (size_t e = 0; e < entries.size() && e < rows; ++e) {
      const int y = top + 10 + static_cast<int>(e) * kLegendRow;
      if (e + 1 == rows && entries.size() > rows) {
        absl::StrAppendFormat(&svg, "<text x=\"%d\" y=\"%d\" font-size=\"12\">... %d more</text>\n",
                              legend_left, y + 4, entries.size() - e);
        break;
      }
      std::string name = entries[e].second;
      if (name.size() > 26) {  // keep the legend inside its column; cut at a UTF-8 boundary
        size_t cut = 25;
        while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;
        name = name.substr(0, cut) + "~";
      }
      absl::StrAppendFormat(&svg,
                            "<circle cx=\"%d\" cy=\"%d\" r=\"5\" fill=\"%s\"/>"
                            "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n",
                            legend_left + 5, y, entries[e].first, legend_left + 15, y + 4,
                            Escape(name));
    }
    svg += "</g>\n";
  }
  svg += "</svg>\n";
  return svg;
}

absl::Status WriteEmbeddingSvg(const std::string& path, const Layout& layout,
                               const std::vector<PlotPanel>& panels, const SvgOptions& options) {
  FLS_ASSIGN_OR_RETURN(std::string svg, RenderEmbeddingSvg(layout, panels, options));
  FLS_ASSIGN_OR_RETURN(std::unique_ptr<AtomicOutputFile> file, AtomicOutputFile::Create(path));
  FLS_RETURN_IF_ERROR(file->Write(svg));
  return file->Close();
}

}  // namespace flsailer::eval
