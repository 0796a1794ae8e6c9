#include "engine/report/heatmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/report/charts.h"
#include "engine/report/colormap.h"
#include "engine/report/svg_writer.h"

namespace sxb {
namespace {

// The tiles laid out in a grid, one pixel of white between tiles; `cell`
// gives the value of (tile, row, column) of a cell_rows x cell_cols tile.
template <typename Cell>
std::string panel_png(const LayerHeatmap& h, int cell_rows, int cell_cols, double lo, double hi, Cell cell) {
  const int gc = h.grid_cols, gr = static_cast<int>((h.tiles.size() + gc - 1) / gc);
  const int w = gc * (cell_cols + 1) - 1, ht = gr * (cell_rows + 1) - 1;
  std::vector<std::uint8_t> rgb(static_cast<std::size_t>(w) * ht * 3, 255);
  for (std::size_t k = 0; k < h.tiles.size(); ++k) {
    const int x0 = static_cast<int>(k % gc) * (cell_cols + 1), y0 = static_cast<int>(k / gc) * (cell_rows + 1);
    for (int i = 0; i < cell_rows; ++i)
      for (int j = 0; j < cell_cols; ++j) {
        const double v = cell(h.tiles[k], i, j);
        const Rgb c = viridis(std::isnan(v) ? v : (v - lo) / (hi - lo));
        std::uint8_t* px = &rgb[(static_cast<std::size_t>(y0 + i) * w + x0 + j) * 3];
        px[0] = c.r, px[1] = c.g, px[2] = c.b;
      }
  }
  return png_data_uri(rgb, w, ht);
}

}  // namespace

std::string heatmap_svg(const LayerHeatmap& h, const std::string& title) {
  const int R = h.tile_rows, C = h.tile_cols, gc = h.grid_cols;
  const int gr = static_cast<int>((h.tiles.size() + gc - 1) / gc);
  // One shared conductance scale: the device range, widened to what was programmed.
  double g_lo = h.g_min, g_hi = h.g_max;
  for (const TileHeatmap& t : h.tiles)
    for (const auto* g : {&t.g_pos, &t.g_neg})
      for (float v : *g) g_lo = std::min<double>(g_lo, v), g_hi = std::max<double>(g_hi, v);
  g_lo *= 1e6, g_hi *= 1e6;  // microsiemens
  const double nf_hi = std::max(1e-6, 100.0 * h.nf_max());

  const double img_w = gc * (C + 1) - 1.0, img_h = gr * (R + 1) - 1.0;
  const double f = std::clamp(300.0 / std::max(img_w, img_h), 0.25, 8.0);  // display pixels per cell
  const double pw = img_w * f, ph = img_h * f;
  const double strip = std::max(3.0, 0.125 * R * f);  // display height of one NF row
  const double nf_h = gr * (2 * strip + 3.0);
  const double left = 20, top = 58, gap = 36;
  const double width = std::max(left + 2 * pw + gap + 110, 560.0);
  const double nf_top = top + ph + 58;
  const double height = nf_top + std::max(nf_h, 90.0) + 30;

  SvgWriter svg(width, height, title);
  svg.open_group(fmt::format("class=\"heatmap\" data-layer=\"{}\" data-tiles=\"{}\" data-tiles-drawn=\"{}\" "
                             "data-nf-column-max=\"{:.9g}\"",
                             xml_escape(h.layer), h.tiles_total, h.tiles.size(), h.nf_max()));
  svg.text(left, 20, title, "start", 14);
  svg.text(left, 38,
           fmt::format("{} of {} tiles of {} x {}, {} per row; cell (i, j) = tile row i (input) down, tile column j "
                       "(output) across",
                       h.tiles.size(), h.tiles_total, R, C, gc),
           "start", 11);
  const auto g_cell = [](const std::vector<float> TileHeatmap::*g, int C) {
    return [g, C](const TileHeatmap& t, int i, int j) { return 1e6 * (t.*g)[static_cast<std::size_t>(i) * C + j]; };
  };
  svg.text(left, top - 6, "g\u207a (positive array)", "start", 12);
  svg.image(left, top, pw, ph, panel_png(h, R, C, g_lo, g_hi, g_cell(&TileHeatmap::g_pos, C)));
  svg.text(left + pw + gap, top - 6, "g\u207b (negative array)", "start", 12);
  svg.image(left + pw + gap, top, pw, ph, panel_png(h, R, C, g_lo, g_hi, g_cell(&TileHeatmap::g_neg, C)));
  colour_legend(svg, left + 2 * pw + gap + 14, top, std::max(ph, 80.0), g_lo, g_hi, "conductance g (\u00b5S)");

  svg.text(left, nf_top - 8, "NF per column (upper row: g\u207a array, lower row: g\u207b array; grey: unused)",
           "start", 12);
  const std::string nf_png = panel_png(h, 2, C, 0.0, nf_hi, [](const TileHeatmap& t, int i, int j) {
    return 100.0 * (i == 0 ? t.nf_pos : t.nf_neg)[j];
  });
  svg.image(left, nf_top, pw, nf_h, nf_png);
  colour_legend(svg, left + pw + 14, nf_top, std::max(nf_h, 80.0), 0.0, nf_hi, "NF (%)");
  svg.close_group();
  return svg.str();
}

}  // namespace sxb
