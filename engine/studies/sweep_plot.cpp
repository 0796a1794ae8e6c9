// sweep_svg (engine/studies/sweep_results.h): a plain SVG line plot, mean of the
// metric over the points that share (series, x).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "engine/studies/sweep_results.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

using json = nlohmann::json;

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

// About five round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi) {
  const double span = hi - lo, raw = span / 5.0, mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) t.push_back(v);
  return t;
}

}  // namespace

std::string sweep_svg(const std::vector<json>& records, const std::string& x, const std::string& metric,
                      const std::string& series) {
  SXB_REQUIRE(!records.empty(), "plot: no finished points");
  std::vector<std::string> averaged;  // other varied keys
  // series (in point order) -> x -> (sum, count)
  std::vector<std::pair<std::string, std::map<double, std::pair<double, int>>>> lines;
  for (const json& r : records) {
    const json& varied = r.contains("varied") ? r["varied"] : json::object();
    SXB_REQUIRE(varied.contains(x), fmt::format("plot: x '{}' is not a grid key of point {}", x, r.value("id", "")));
    SXB_REQUIRE(varied[x].is_number(), fmt::format("plot: x '{}' must have numeric values (got {})", x,
                                                   varied[x].dump()));
    SXB_REQUIRE(series.empty() || varied.contains(series),
                fmt::format("plot: series '{}' is not a grid key of point {}", series, r.value("id", "")));
    for (const auto& [key, value] : varied.items())
      if (key != x && key != series && std::find(averaged.begin(), averaged.end(), key) == averaged.end())
        averaged.push_back(key);
    const double y = sweep_metric(r, metric);
    if (!std::isfinite(y)) continue;
    const std::string name = series.empty() ? metric
                             : varied[series].is_string() ? varied[series].get<std::string>()
                                                          : varied[series].dump();
    const std::string label = series.empty() ? name : series + "=" + name;
    auto line = std::find_if(lines.begin(), lines.end(), [&](const auto& l) { return l.first == label; });
    if (line == lines.end()) line = lines.insert(lines.end(), {label, {}});
    auto& cell = line->second[varied[x].get<double>()];
    cell.first += y;
    cell.second += 1;
  }
  SXB_REQUIRE(!lines.empty(), fmt::format("plot: no point has a value of '{}'", metric));
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const auto& [name, pts] : lines)
    for (const auto& [xv, cell] : pts) {
      const double yv = cell.first / cell.second;
      x0 = std::min(x0, xv), x1 = std::max(x1, xv), y0 = std::min(y0, yv), y1 = std::max(y1, yv);
    }
  if (x1 == x0) x0 -= 0.5, x1 += 0.5;
  if (y1 == y0) y0 -= 0.5 * std::max(1e-3, std::abs(y0)), y1 += 0.5 * std::max(1e-3, std::abs(y1));
  const double xpad = 0.03 * (x1 - x0), ypad = 0.05 * (y1 - y0);  // markers clear of the axes
  x0 -= xpad, x1 += xpad, y0 -= ypad, y1 += ypad;
  const double W = 640, H = 420, L = 70, R = 180, T = 40, B = 50;
  const auto px = [&](double v) { return L + (v - x0) / (x1 - x0) * (W - L - R); };
  const auto py = [&](double v) { return H - B - (v - y0) / (y1 - y0) * (H - T - B); };
  std::string title = metric + " vs " + x;
  if (!averaged.empty()) {
    title += " (mean over";
    for (const std::string& k : averaged) title += " " + k;
    title += ")";
  }
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"22\" font-size=\"14\">{3}</text>\n",
      W, H, L, xml_escape(title));
  s += fmt::format("<path d=\"M{0} {1}V{2}H{3}\" stroke=\"black\" fill=\"none\"/>\n", L, T, H - B, W - R);
  for (double v : ticks(x0, x1))
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:g}</text>\n", px(v), H - B + 18, v);
  for (double v : ticks(y0, y1))
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:g}</text>\n"
                     "<path d=\"M{} {:.1f}H{}\" stroke=\"#ddd\"/>\n",
                     L - 6, py(v) + 4, v, L, py(v), W - R);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (L + W - R) / 2, H - 12,
                   xml_escape(x));
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
                                  "#7f7f7f"};
  int n = 0;
  for (const auto& [name, pts] : lines) {
    const char* colour = colours[n % 8];
    std::string d;
    for (const auto& [xv, cell] : pts)
      d += fmt::format("{}{:.1f} {:.1f}", d.empty() ? "M" : "L", px(xv), py(cell.first / cell.second));
    s += fmt::format("<path d=\"{}\" stroke=\"{}\" stroke-width=\"2\" fill=\"none\"/>\n", d, colour);
    for (const auto& [xv, cell] : pts)
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n", px(xv),
                       py(cell.first / cell.second), colour);
    s += fmt::format("<text x=\"{}\" y=\"{}\" fill=\"{}\">{}</text>\n", W - R + 12, T + 16 * n + 10, colour,
                     xml_escape(name));
    ++n;
  }
  return s + "</svg>\n";
}

}  // namespace sxb
