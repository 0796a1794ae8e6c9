#include "engine/report/sweep_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <cmath>
#include <array>
#include <map>

#include "engine/io/version.h"
#include "engine/report/charts.h"
#include "engine/report/html_report.h"
#include "engine/report/svg_writer.h"
#include "engine/studies/sweep_results.h"
#include "kernels/common/error.h"

namespace sxb {
namespace {

using json = nlohmann::json;

bool is_percent(const std::string& metric) {
  return metric == "software" || metric == "ideal" || metric.starts_with("nonideal") || metric == "loss";
}

std::string metric_label(const std::string& metric) {
  if (metric == "loss") return "accuracy loss, software - non-ideal (points)";
  if (metric.starts_with("nonideal_")) return "non-ideal accuracy, " + metric.substr(9) + " (%)";
  if (is_percent(metric)) return (metric == "nonideal" ? std::string("non-ideal") : metric) + " accuracy (%)";
  if (metric == "ccr") return "CCR (unpruned crossbars / crossbars)";
  if (metric == "nf_mean" || metric == "nf_max" || metric == "low_share") return metric + " (fraction)";
  if (metric == "seconds") return "seconds (s)";
  return metric;
}

// A grid key as an axis label, with the unit of the quantities that have one.
std::string key_label(const std::string& key) {
  const std::string name = key.substr(key.rfind('.') + 1);
  if (name.rfind("r_", 0) == 0) return key + " (\u03a9)";
  if (name == "sparsity" || name.find("stuck") != std::string::npos) return key + " (fraction)";
  if (name.find("sigma") != std::string::npos) return key + " (relative)";
  if (name == "tile" || name.find("tile_") == 0) return key + " (cells)";
  return key;
}

std::string value_name(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

bool is_seed_key(const std::string& key) { return key.find("seed") != std::string::npos; }

// Accumulates (x, y) per series and x group.
struct Cell {
  double x = 0.0, y = 0.0, yy = 0.0;
  int n = 0;
};
struct Lines {
  std::vector<std::pair<std::string, std::map<std::string, Cell>>> series;  // in point order
  void add(const std::string& name, const std::string& group, double x, double y) {
    auto s = std::find_if(series.begin(), series.end(), [&](const auto& l) { return l.first == name; });
    if (s == series.end()) s = series.insert(series.end(), {name, {}});
    Cell& c = s->second[group];
    c.x += x, c.y += y, c.yy += y * y, ++c.n;
  }
  // Means and sample standard deviations, sorted by x.
  std::vector<LineSeries> chart() const {
    std::vector<LineSeries> out;
    for (const auto& [name, cells] : series) {
      std::vector<std::array<double, 3>> pts;
      for (const auto& [group, c] : cells) {
        const double mean = c.y / c.n;
        const double var = c.n > 1 ? std::max(0.0, (c.yy - c.n * mean * mean) / (c.n - 1)) : NAN;
        pts.push_back({c.x / c.n, mean, std::sqrt(var)});
      }
      std::sort(pts.begin(), pts.end());
      LineSeries s{name, {}, {}, {}};
      for (const auto& p : pts) s.x.push_back(p[0]), s.y.push_back(p[1]), s.sd.push_back(p[2]);
      out.push_back(std::move(s));
    }
    return out;
  }
};

const json& varied_of(const json& r) {
  static const json empty = json::object();
  return r.contains("varied") && r["varied"].is_object() ? r["varied"] : empty;
}

std::string series_name(const json& varied, const std::string& series, const std::string& metric) {
  return series.empty() ? metric : series + "=" + value_name(varied[series]);
}

// `metric` against the grid key `x`; `averaged` gets the other varied keys.
Lines lines_over_key(const std::vector<json>& records, const std::string& x, const std::string& metric,
                     const std::string& series, std::vector<std::string>& averaged) {
  Lines lines;
  const double scale = is_percent(metric) ? 100.0 : 1.0;
  for (const json& r : records) {
    const json& varied = varied_of(r);
    SXB_REQUIRE(varied.contains(x), Message{Key{"plot.x"}, fmt::format(" '{}' is not a grid key of point {}", x, r.value("id", ""))});
    SXB_REQUIRE(varied[x].is_number(), Message{Key{"plot.x"}, fmt::format(" '{}' must have numeric values (got {})", x, varied[x].dump())});
    SXB_REQUIRE(series.empty() || varied.contains(series),
                Message{Key{"plot.series"}, fmt::format(" '{}' is not a grid key of point {}", series, r.value("id", ""))});
    for (const auto& [key, value] : varied.items())
      if (key != x && key != series && std::find(averaged.begin(), averaged.end(), key) == averaged.end())
        averaged.push_back(key);
    const double y = sweep_metric(r, metric);
    if (!std::isfinite(y)) continue;
    lines.add(series_name(varied, series, metric), varied[x].dump(), varied[x].get<double>(), scale * y);
  }
  SXB_REQUIRE(!lines.series.empty(), fmt::format("plot: no point has a value of '{}'", metric));
  return lines;
}

std::string title_of(const std::string& metric, const std::string& x, const std::vector<std::string>& averaged) {
  std::string title = metric + " vs " + x;
  if (!averaged.empty()) {
    title += " (mean over";
    for (const std::string& k : averaged) title += " " + k;
    title += ")";
  }
  return title;
}

// `metric` against CCR: points that differ only in seed keys are averaged.
// None when the CCR does not vary (an unpruned sweep: every point at CCR 1).
std::string ccr_chart(const std::vector<json>& records, const std::string& metric, const std::string& series) {
  Lines lines;
  const double scale = is_percent(metric) ? 100.0 : 1.0;
  std::set<double> ccrs;
  for (const json& r : records) {
    const json& varied = varied_of(r);
    const double x = sweep_metric(r, "ccr"), y = sweep_metric(r, metric);
    if (!std::isfinite(x) || !std::isfinite(y) || (!series.empty() && !varied.contains(series))) continue;
    ccrs.insert(x);
    std::string group;
    for (const auto& [key, value] : varied.items())
      if (!is_seed_key(key)) group += key + "=" + value.dump() + ";";
    lines.add(series_name(varied, series, metric), group, x, scale * y);
  }
  if (lines.series.empty() || ccrs.size() < 2) return "";
  return line_chart_svg({metric + " vs CCR" + (series.empty() ? "" : " by " + series),
                         "CCR (crossbars of the unpruned model / crossbars)", metric_label(metric), lines.chart()});
}

}  // namespace

std::string sweep_svg(const std::vector<json>& records, const std::string& x, const std::string& metric,
                      const std::string& series) {
  SXB_REQUIRE(!records.empty(), "plot: no finished points");
  std::vector<std::string> averaged;
  const Lines lines = lines_over_key(records, x, metric, series, averaged);
  return line_chart_svg({title_of(metric, x, averaged), key_label(x), metric_label(metric), lines.chart()});
}

std::string sweep_html_report(const std::vector<json>& records, const std::string& metric, const std::string& series,
                              const std::string& command_line) {
  SXB_REQUIRE(!records.empty(), "report: no finished points");
  sweep_metric(records.front(), metric);  // an unknown metric is an Error naming the known ones
  const SweepTable t = sweep_table(records);
  std::string body = fmt::format("<h1>SparseXbar sweep: {} points</h1>\n<p>sparsexbar {} (revision {}).</p>\n",
                                 records.size(), version(), xml_escape(git_revision()));
  if (!command_line.empty()) body += "<pre>" + xml_escape(command_line) + "</pre>\n";
  // The grid keys: the table's columns between "id" and the metrics.
  const std::vector<std::string>& keys = t.keys;
  SXB_REQUIRE(series.empty() || std::find(keys.begin(), keys.end(), series) != keys.end(),
              Message{Key{"plot.series"}, fmt::format(" '{}' is not a grid key of these results", series)});
  body += "<h2>Charts</h2>\n";
  for (const std::string& key : keys) {
    if (key == series || is_seed_key(key)) continue;
    const bool numeric = std::all_of(records.begin(), records.end(), [&](const json& r) {
      const json& v = varied_of(r);
      return v.contains(key) && v[key].is_number();
    });
    if (!numeric) continue;
    std::vector<std::string> averaged;
    const Lines lines = lines_over_key(records, key, metric, series, averaged);
    body += "<figure>\n" +
            line_chart_svg({title_of(metric, key, averaged), key_label(key), metric_label(metric), lines.chart()}) +
            "<figcaption>Mean over the points of each line and x; the band is +- one standard deviation where "
            "there are several.</figcaption>\n</figure>\n";
  }
  const std::string ccr = ccr_chart(records, metric, series);
  if (!ccr.empty())
    body += "<figure>\n" + ccr +
            "<figcaption>Points that differ only in seeds are averaged (band: +- one standard "
            "deviation).</figcaption>\n</figure>\n";
  // Accuracies in % as in the charts; a table wider than the page scrolls in its own box.
  std::vector<bool> percent;
  for (const std::string& c : t.columns) percent.push_back(is_percent(c));
  body += "<h2>Points</h2>\n<p>Accuracies and the loss in %.</p>\n<div style=\"overflow-x:auto;max-width:100%\">"
          "<table>\n<tr>";
  for (std::size_t c = 0; c < t.columns.size(); ++c)
    body += "<th>" + xml_escape(t.columns[c]) + (percent[c] ? " (%)" : "") + "</th>";
  body += "</tr>\n";
  for (const auto& row : t.rows) {
    body += "<tr>";
    for (std::size_t c = 0; c < row.size(); ++c) {
      char* end = nullptr;
      const double v = std::strtod(row[c].c_str(), &end);
      const bool number = !row[c].empty() && end == row[c].c_str() + row[c].size() && std::isfinite(v);
      body += "<td>" + xml_escape(c < percent.size() && percent[c] && number ? fmt::format("{:.2f}", 100.0 * v) : row[c]) +
              "</td>";
    }
    body += "</tr>\n";
  }
  body += "</table></div>\n";
  return html_page("SparseXbar sweep", body);
}

}  // namespace sxb
