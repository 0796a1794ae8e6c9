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
        // 64 levels, as the legend: the PNG compresses far better and the eye sees no steps.
        const double t = std::clamp((v - lo) / (hi - lo), 0.0, 1.0);
        const Rgb c = viridis(std::isnan(v) ? v : (std::min(63.0, std::floor(64.0 * t)) + 0.5) / 64.0);
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
  // NF on its own scale, from the smallest to the largest column NF drawn.
  double nf_lo = INFINITY, nf_hi = -INFINITY;
  for (const TileHeatmap& t : h.tiles)
    for (const auto* nf : {&t.nf_pos, &t.nf_neg})
      for (float v : *nf)
        if (!std::isnan(v)) nf_lo = std::min<double>(nf_lo, 100.0 * v), nf_hi = std::max<double>(nf_hi, 100.0 * v);
  if (!(nf_lo < nf_hi)) nf_lo = std::isfinite(nf_lo) ? nf_lo : 0.0, nf_hi = nf_lo + 1e-3;

  const double img_w = gc * (C + 1) - 1.0, img_h = gr * (R + 1) - 1.0;
  const double f = std::clamp(std::min(380.0 / img_w, 380.0 / img_h), 0.25, 8.0);  // display pixels per cell
  const double pw = img_w * f, ph = img_h * f;
  const double row_h = std::max(3.0, 0.125 * R * f);  // display height of one NF image row
  const double nf_h = (3.0 * gr - 1.0) * row_h;
  const double left = 20, top = 58, slot = std::max(pw, 160.0) + 30;  // g+ at left, g- at left + slot
  const double width = std::max(left + 2 * slot + 100, 640.0);
  const double nf_top = top + ph + 58;
  const double height = nf_top + std::max(nf_h, 90.0) + 30;

  SvgWriter svg(width, height, title);
  svg.open_group(fmt::format("class=\"heatmap\" data-layer=\"{}\" data-tiles=\"{}\" data-tiles-drawn=\"{}\" "
                             "data-nf-column-max=\"{:.9g}\"",
                             xml_escape(h.layer), h.tiles_total, h.tiles.size(), h.nf_max()));
  svg.text(left, 20, title, "start", 14);
  svg.text(left, 38,
           fmt::format("{} of {} tiles of {} x {} ({} per row, layout order); in a tile: rows (inputs) down, "
                       "columns (outputs) across",
                       h.tiles.size(), h.tiles_total, R, C, gc),
           "start", 11);
  const auto g_cell = [](const std::vector<float> TileHeatmap::*g, int C) {
    return [g, C](const TileHeatmap& t, int i, int j) { return 1e6 * (t.*g)[static_cast<std::size_t>(i) * C + j]; };
  };
  svg.text(left, top - 6, "g\u207a (positive array)", "start", 12);
  svg.image(left, top, pw, ph, panel_png(h, R, C, g_lo, g_hi, g_cell(&TileHeatmap::g_pos, C)));
  svg.text(left + slot, top - 6, "g\u207b (negative array)", "start", 12);
  svg.image(left + slot, top, pw, ph, panel_png(h, R, C, g_lo, g_hi, g_cell(&TileHeatmap::g_neg, C)));
  colour_legend(svg, left + slot + pw + 16, top, std::max(ph, 80.0), g_lo, g_hi, "conductance g (\u00b5S)");

  svg.text(left, nf_top - 8, "NF per column (upper row: g\u207a array, lower row: g\u207b array; grey: unused)",
           "start", 12);
  const std::string nf_png = panel_png(h, 2, C, nf_lo, nf_hi, [](const TileHeatmap& t, int i, int j) {
    return 100.0 * (i == 0 ? t.nf_pos : t.nf_neg)[j];
  });
  svg.image(left, nf_top, pw, nf_h, nf_png);
  colour_legend(svg, left + pw + 16, nf_top, std::max(nf_h, 80.0), nf_lo, nf_hi, "NF (%)");
  svg.close_group();
  return svg.str();
}

}  // namespace sxb
