#include "engine/report/charts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/report/colormap.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

struct Range {
  double lo = INFINITY, hi = -INFINITY;
  void add(double v) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  // Widened when empty or flat; `pad` of the span on each side.
  void settle(double pad) {
    if (!(lo <= hi)) lo = 0.0, hi = 1.0;
    if (hi == lo) {
      const double d = 0.5 * std::max(1e-3, std::abs(lo));
      lo -= d, hi += d;
    }
    const double d = pad * (hi - lo);
    lo -= d, hi += d;
  }
};

// Frame, grid lines, ticks and axis labels of a plot area.
struct Plot {
  double left, top, right, bottom;  // plot area in pixels
  Range x, y;
  double px(double v) const { return left + (v - x.lo) / (x.hi - x.lo) * (right - left); }
  double py(double v) const { return bottom - (v - y.lo) / (y.hi - y.lo) * (bottom - top); }
};

void y_axis(SvgWriter& svg, const Plot& p, const std::string& label) {
  const std::vector<double> ticks = nice_ticks(p.y.lo, p.y.hi);
  for (double v : ticks) {
    svg.line(p.left, p.py(v), p.right, p.py(v), "#dddddd");
    svg.text(p.left - 6, p.py(v) + 4, tick_label(v, ticks), "end", 11);
  }
  svg.line(p.left, p.top, p.left, p.bottom, "black");
  svg.text(p.left - 50, 0.5 * (p.top + p.bottom), label, "middle", 12, -90.0);
}

void legend(SvgWriter& svg, double x, double y, const std::vector<std::string>& names, bool lines) {
  for (std::size_t k = 0; k < names.size(); ++k) {
    const double yk = y + 18.0 * k;
    const std::string colour = series_colour(k, names.size());
    if (lines) {
      svg.line(x, yk, x + 22, yk, colour, 1.5, series_dash(k));
      svg.marker(x + 11, yk, static_cast<int>(k), colour);
    } else {
      svg.rect(x, yk - 6, 14, 12, colour, "stroke=\"black\" stroke-width=\"0.5\"");
    }
    svg.text(x + 28, yk + 4, names[k], "start", 11);
  }
}

std::string value_attr(double v) { return fmt::format("class=\"bar\" data-value=\"{:.9g}\"", v); }

}  // namespace

std::string bar_chart_svg(const BarChart& c) {
  SXB_REQUIRE(c.values.size() == c.groups.size(), "bar chart: one row of values per group");
  const std::size_t ns = std::max<std::size_t>(1, c.series.size());
  std::size_t longest = 0;
  for (const std::string& g : c.groups) longest = std::max(longest, g.size());
  const bool slanted = c.groups.size() > 6 || longest > 10;
  const double legend_width = c.series.size() > 1 ? 170.0 : 20.0;
  const double group_width = std::max(28.0, 12.0 * static_cast<double>(ns) + 10.0);
  // Slanted labels reach left of their group by about 0.77 x their length in pixels.
  const double left = std::max(72.0, slanted ? 0.77 * 6.0 * static_cast<double>(longest) - 0.5 * group_width + 8 : 0.0);
  const double width =
      std::max(560.0, left + 8 + legend_width + group_width * static_cast<double>(c.groups.size()));
  const double bottom_room = slanted ? 24.0 + 4.2 * static_cast<double>(longest) : 36.0;
  const double height = 290 + bottom_room;
  Plot p{left, 36, width - legend_width, height - bottom_room, {}, {}};
  p.x = {0.0, static_cast<double>(c.groups.size())};
  p.y.add(0.0);
  for (const auto& row : c.values)
    for (double v : row) p.y.add(v);
  p.y.settle(0.0);
  p.y.hi += 0.08 * (p.y.hi - p.y.lo);
  if (p.y.lo < 0.0) {  // down to a tick below the lowest bar, so negative values have labels
    const std::vector<double> t = nice_ticks(p.y.lo, p.y.hi);
    if (t.size() > 1) p.y.lo = std::floor(p.y.lo / (t[1] - t[0]) - 1e-9) * (t[1] - t[0]);
  }
  SvgWriter svg(width, height, c.title);
  svg.text(p.left, 22, c.title, "start", 14);
  y_axis(svg, p, c.y_label);
  const double slot = (p.right - p.left) / std::max<std::size_t>(1, c.groups.size());
  const double bar = std::min(22.0, 0.8 * slot / static_cast<double>(ns));
  for (std::size_t g = 0; g < c.groups.size(); ++g) {
    const double x0 = p.left + slot * (g + 0.5) - 0.5 * bar * static_cast<double>(ns);
    for (std::size_t s = 0; s < c.values[g].size() && s < ns; ++s) {
      const double v = c.values[g][s];
      if (!std::isfinite(v)) continue;
      const double y0 = p.py(std::max(0.0, v)), y1 = p.py(std::min(0.0, v));
      svg.rect(x0 + bar * s, y0, bar - 1, std::max(0.5, y1 - y0), series_colour(s, ns),
               value_attr(v) + " stroke=\"black\" stroke-width=\"0.4\"");
    }
    const double xc = p.left + slot * (g + 0.5);
    if (slanted)
      svg.text(xc + 3, p.bottom + 12, c.groups[g], "end", 11, -40.0);
    else
      svg.text(xc, p.bottom + 16, c.groups[g], "middle", 11);
  }
  svg.line(p.left, p.py(0.0), p.right, p.py(0.0), "black");
  if (c.series.size() > 1) legend(svg, p.right + 14, p.top + 8, c.series, false);
  return svg.str();
}

std::string line_chart_svg(const LineChart& c) {
  SXB_REQUIRE(!c.series.empty(), "line chart: no series");
  Plot p{72, 40, 640 - 200, 420 - 56, {}, {}};
  for (const LineSeries& s : c.series) {
    SXB_REQUIRE(s.x.size() == s.y.size() && (s.sd.empty() || s.sd.size() == s.y.size()),
                fmt::format("line chart: series '{}' has unequal x, y and sd", s.name));
    for (std::size_t k = 0; k < s.x.size(); ++k) {
      p.x.add(s.x[k]);
      const double sd = s.sd.empty() || !std::isfinite(s.sd[k]) ? 0.0 : s.sd[k];
      p.y.add(s.y[k] - sd);
      p.y.add(s.y[k] + sd);
    }
  }
  p.x.settle(0.03);  // markers clear of the axes
  p.y.settle(0.05);
  SvgWriter svg(640, 420, c.title);
  svg.text(p.left, 22, c.title, "start", 14);
  y_axis(svg, p, c.y_label);
  const std::vector<double> xt = nice_ticks(p.x.lo, p.x.hi);
  for (double v : xt) {
    svg.line(p.px(v), p.bottom, p.px(v), p.bottom + 4, "black");
    svg.text(p.px(v), p.bottom + 17, tick_label(v, xt), "middle", 11);
  }
  svg.line(p.left, p.bottom, p.right, p.bottom, "black");
  svg.text(0.5 * (p.left + p.right), p.bottom + 40, c.x_label, "middle", 12);
  const std::size_t n = c.series.size();
  std::vector<std::string> names;
  for (std::size_t k = 0; k < n; ++k) {
    const LineSeries& s = c.series[k];
    names.push_back(s.name);
    const std::string colour = series_colour(k, n);
    std::vector<std::pair<double, double>> upper, lower, line;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      line.emplace_back(p.px(s.x[i]), p.py(s.y[i]));
      const double sd = s.sd.empty() || !std::isfinite(s.sd[i]) ? 0.0 : s.sd[i];
      upper.emplace_back(p.px(s.x[i]), p.py(s.y[i] + sd));
      lower.emplace_back(p.px(s.x[i]), p.py(s.y[i] - sd));
    }
    const bool band = std::any_of(s.sd.begin(), s.sd.end(), [](double v) { return std::isfinite(v) && v > 0.0; });
    if (band) {
      upper.insert(upper.end(), lower.rbegin(), lower.rend());
      svg.polygon(upper, colour, 0.18);
    }
    svg.polyline(line, colour, 2, series_dash(k));
    for (const auto& [x, y] : line) svg.marker(x, y, static_cast<int>(k), colour);
  }
  legend(svg, p.right + 16, p.top + 8, names, true);
  return svg.str();
}

void colour_legend(SvgWriter& svg, double x, double y, double h, double lo, double hi, const std::string& label) {
  const int steps = 64;
  for (int k = 0; k < steps; ++k) {
    const double t = (k + 0.5) / steps;
    svg.rect(x, y + h * (1.0 - static_cast<double>(k + 1) / steps), 14, h / steps + 0.6, hex(viridis(t)));
  }
  svg.rect(x, y, 14, h, "none", "stroke=\"black\" stroke-width=\"0.6\"");
  if (!(hi > lo)) hi = lo + 1.0;
  const std::vector<double> ticks = nice_ticks(lo, hi, 4);
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : hi - lo;
  const auto tick = [&](double v, const std::string& text) {
    const double yv = y + h * (1.0 - (v - lo) / (hi - lo));
    svg.line(x + 14, yv, x + 18, yv, "black");
    svg.text(x + 21, yv + 4, text, "start", 10);
  };
  // The ends of the bar are labelled too (a bar from 5 to 50 shows 5), unless a tick is close.
  if (ticks.front() - lo > 0.3 * step) tick(lo, fmt::format("{:.3g}", lo));
  for (double v : ticks) tick(v, tick_label(v, ticks));
  if (hi - ticks.back() > 0.3 * step) tick(hi, fmt::format("{:.3g}", hi));
  svg.text(x + 66, y + 0.5 * h, label, "middle", 11, -90.0);
}

}  // namespace sxb
