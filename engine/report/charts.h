// Charts of the reports, drawn with the SVG writer: grouped bars, lines with
// standard-deviation bands, and the colour legend of the heat maps. Axis
// labels carry their units; colours come from viridis (engine/report/colormap.h)
// with dash patterns and marker shapes, so series still differ in grey.
#pragma once

#include <string>
#include <vector>

#include "engine/report/svg_writer.h"

namespace sxb {

// Bars: one group per label along x, one bar per series in each group.
// Every bar carries data-value="<its value>" (class "bar").
struct BarChart {
  std::string title, y_label;          // y_label with its unit
  std::vector<std::string> series;     // legend names (one series: no legend)
  std::vector<std::string> groups;     // x labels
  std::vector<std::vector<double>> values;  // values[group][series]; NaN: no bar
};
std::string bar_chart_svg(const BarChart& c);

// Lines: one per series, markers at the points, a band of +- one standard
// deviation where `sd` is given (same length as y, NaN or 0: none).
struct LineSeries {
  std::string name;
  std::vector<double> x, y, sd;
};
struct LineChart {
  std::string title, x_label, y_label;  // labels with their units
  std::vector<LineSeries> series;
};
std::string line_chart_svg(const LineChart& c);

// A vertical colour bar from `lo` (bottom) to `hi` (top) with ticks and a
// rotated `label` (with its unit), in the box x, y, 14 x h plus its labels.
void colour_legend(SvgWriter& svg, double x, double y, double h, double lo, double hi, const std::string& label);

}  // namespace sxb
