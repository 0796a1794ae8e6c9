#include "engine/report/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/io/version.h"
#include "engine/rearrangement/rearrange.h"
#include "engine/report/charts.h"
#include "engine/report/heatmap.h"
#include "engine/report/svg_writer.h"

namespace sxb {
namespace {

const char* kStyle = R"(body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#111}
h1{font-size:1.5em}h2{font-size:1.25em;border-bottom:1px solid #999;margin-top:2em}h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #bbb;padding:2px 8px}
th{background:#eee;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}figcaption{font-size:.9em;color:#333}svg{max-width:100%;height:auto}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:.85em}.warn{color:#a00}
@media print{h2{page-break-before:auto}figure{page-break-inside:avoid}})";

std::string esc(const std::string& s) { return xml_escape(s); }

// A numeric cell: `value` shown with `decimals` after scaling, tied to the JSON report.
std::string num(double value, int decimals, const std::string& pointer = "", double scale = 1.0) {
  if (!std::isfinite(value)) return "<td class=\"num\">-</td>";
  const std::string tie =
      pointer.empty() ? "" : fmt::format(" data-json=\"{}\" data-scale=\"{:g}\"", esc(pointer), scale);
  return fmt::format("<td class=\"num\"{}>{:.{}f}</td>", tie, value * scale, decimals);
}
std::string cell(const std::string& s) { return "<td>" + esc(s) + "</td>"; }
std::string head(const std::vector<std::string>& names) {
  std::string s = "<tr>";
  for (const std::string& n : names) s += "<th>" + esc(n) + "</th>";
  return s + "</tr>\n";
}
std::string figure(const std::string& svg, const std::string& caption) {
  return "<figure>\n" + svg + "<figcaption>" + esc(caption) + "</figcaption>\n</figure>\n";
}

std::string run_label(const CrossbarReport& r) { return fmt::format("tiles {} x {}", r.tile_rows, r.tile_cols); }

// Read-out rows of a run: the non-ideal crossbar alone, or every variant.
struct Readout {
  std::string name, pointer;
  double accuracy;
  std::string label;  // short, for the chart
};
std::vector<Readout> readouts(const CrossbarReport& r, const std::string& run) {
  if (r.variants.empty()) return {{"non-ideal", run + "/accuracy/nonideal", r.nonideal.accuracy, "non-ideal"}};
  std::vector<Readout> out;
  for (std::size_t k = 0; k < r.variants.size(); ++k)
    out.push_back({"non-ideal, " + r.variants[k].name(), fmt::format("{}/variants/{}/accuracy", run, k),
                   r.variants[k].result.accuracy,
                   to_string(r.variants[k].calibration) +
                       (r.variants[k].bn_images ? fmt::format(" + BN ({})", r.variants[k].bn_images) : "")});
  return out;
}

// Flattened "a.b" keys of a JSON object, for the configuration table.
void flatten(const nlohmann::json& j, const std::string& prefix, std::string& rows) {
  for (const auto& [key, value] : j.items()) {
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object()) flatten(value, name, rows);
    else rows += "<tr>" + cell(name) + cell(value.is_string() ? value.get<std::string>() : value.dump()) + "</tr>\n";
  }
}

std::string configuration(const CrossbarReport& r, const std::string& run) {
  std::string s = "<h3>Configuration</h3>\n<table>\n";
  const auto row = [&](const std::string& k, const std::string& v) { s += "<tr>" + cell(k) + cell(v) + "</tr>\n"; };
  row("model", fmt::format("{} width {} ({} classes)", r.model, r.width, r.classes));
  row("weights", r.weights);
  row("data", fmt::format("{} ({} test images)", r.data_source, r.images));
  row("layout", fmt::format("{}, tiles {} x {}", r.layout_method, r.tile_rows, r.tile_cols));
  row("tile solver", r.solver_device);
  row("network engine", r.network_device);
  row("W_eff products", r.sparse_path);
  row("W_eff cache", r.cache_file.empty() ? "off" : (r.cache_hit ? "hit: " : "stored: ") + r.cache_file);
  if (r.wct) row("weight-constrained training", fmt::format("kappa {} ({})", r.wct->kappa, r.wct->file));
  s += "<tr><td>crossbars</td>" + num(static_cast<double>(r.crossbars), 0, run + "/crossbars") + "</tr>\n";
  if (const auto ccr = r.ccr())
    s += "<tr><td>CCR (crossbars of the unpruned model / these)</td>" + num(*ccr, 3, run + "/ccr") + "</tr>\n";
  s += "</table>\n<details><summary>crossbar configuration (every key)</summary>\n<table>\n";
  std::string rows;
  flatten(r.crossbar.to_json(), "crossbar", rows);
  s += rows + "</table>\n</details>\n";
  s += "<h3>Timings</h3>\n<table>\n" + head({"stage", "seconds"});
  for (const auto& [stage, seconds] : r.seconds)
    s += "<tr>" + cell(stage) + num(seconds, 3, run + "/seconds/" + stage) + "</tr>\n";
  s += fmt::format("</table>\n<p>{} tiles in {} batches: programming {:.3f} s, solving {:.3f} s, assembly {:.3f} s.</p>\n",
                   r.schedule.tiles, r.schedule.batches, r.schedule.program_seconds, r.schedule.solve_seconds,
                   r.schedule.assemble_seconds);
  return s;
}

std::string accuracy_section(const std::vector<CrossbarReport>& runs) {
  std::string s = "<h2 id=\"accuracy\">Accuracy</h2>\n<table>\n" +
                  head({"run", "read-out", "accuracy (%)", "loss against software (points)", "cross-entropy"});
  BarChart chart{"Accuracy loss against the software model", "accuracy loss (percentage points)", {}, {}, {}};
  for (std::size_t k = 0; k < runs.size(); ++k) {
    const CrossbarReport& r = runs[k];
    const std::string run = fmt::format("/runs/{}", k);
    chart.series.push_back(run_label(r));
    const auto row = [&](const std::string& name, const std::string& ptr, double acc, const std::string& loss_ptr,
                         double ce, const std::string& ce_ptr) {
      s += "<tr>" + cell(run_label(r)) + cell(name) + num(acc, 2, ptr, 100.0) +
           num(r.software.accuracy - acc, 2, loss_ptr, 100.0) + num(ce, 4, ce_ptr) + "</tr>\n";
    };
    row("software", run + "/accuracy/software", r.software.accuracy, "", r.software.loss,
        run + "/cross_entropy/software");
    row("ideal crossbar", run + "/accuracy/ideal", r.ideal.accuracy, "", r.ideal.loss, run + "/cross_entropy/ideal");
    for (const Readout& o : readouts(r, run)) {
      const bool first = o.pointer == run + "/accuracy/nonideal" || o.pointer == run + "/variants/0/accuracy";
      row(o.name, o.pointer, o.accuracy, first ? run + "/accuracy/loss" : "", first ? r.nonideal.loss : NAN,
          first ? run + "/cross_entropy/nonideal" : "");
      if (std::find(chart.groups.begin(), chart.groups.end(), o.label) == chart.groups.end()) {
        chart.groups.push_back(o.label);
        chart.values.emplace_back(runs.size(), NAN);
      }
      chart.values[std::find(chart.groups.begin(), chart.groups.end(), o.label) - chart.groups.begin()][k] =
          100.0 * (r.software.accuracy - o.accuracy);
    }
  }
  s += "</table>\n";
  if (runs.size() == 1) chart.series.clear();
  return s + figure(bar_chart_svg(chart), "Software accuracy minus crossbar accuracy, per read-out variant "
                                          "(calibration, + BN: batch-norm re-estimation over that many images)" +
                                              std::string(runs.size() > 1 ? " and tile size." : "."));
}

std::string layer_section(const CrossbarReport& r, const std::string& run) {
  const bool sources = !r.layers.empty() && r.layers.front().nf_by_source.has_value();
  std::vector<std::string> cols = {"layer", "K", "N", "crossbars", "NF mean (%)", "NF max (%)", "low-g share (%)",
                                   "column gain mean"};
  if (sources) cols.insert(cols.end(), {"NF r_source (%)", "NF r_sink (%)", "NF wires (%)"});
  std::string s = "<h3>Layers</h3>\n<table>\n" + head(cols);
  BarChart mean{"NF mean per layer", "NF mean (%)", {}, {}, {}}, max{"NF max per layer", "NF max (%)", {}, {}, {}};
  BarChart low{"Low-conductance share per layer", "devices below (G_min + G_max) / 2 (%)", {}, {}, {}};
  BarChart xbars{"Crossbars per layer", "crossbars (count)", {}, {}, {}};
  if (sources) mean.series = max.series = {"all resistances", "r_source only", "r_sink only", "wires only"};
  else {
    mean = BarChart{"NF per layer", "non-ideality factor NF (%)", {"mean", "max"}, {}, {}};
  }
  for (std::size_t l = 0; l < r.layers.size(); ++l) {
    const LayerReport& x = r.layers[l];
    const std::string p = fmt::format("{}/layers/{}/", run, l);
    s += "<tr>" + cell(x.layer) + num(x.inputs, 0, p + "inputs") + num(x.outputs, 0, p + "outputs") +
         num(2.0 * static_cast<double>(x.positions) * x.slices, 0, p + "crossbars") + num(x.nf_mean, 3, p + "nf_mean", 100.0) +
         num(x.nf_max, 3, p + "nf_max", 100.0) + num(x.low_conductance_share, 1, p + "low_conductance_share", 100.0) +
         num(x.gain_mean, 4, p + "column_gain/mean");
    if (x.nf_by_source) {
      const NfBySource& n = *x.nf_by_source;
      s += num(n.source.mean(), 3, p + "nf_by_source/r_source/mean", 100.0) +
           num(n.sink.mean(), 3, p + "nf_by_source/r_sink/mean", 100.0) +
           num(n.wires.mean(), 3, p + "nf_by_source/wires/mean", 100.0);
      mean.values.push_back({100 * n.full.mean(), 100 * n.source.mean(), 100 * n.sink.mean(), 100 * n.wires.mean()});
      max.values.push_back({100 * n.full.max, 100 * n.source.max, 100 * n.sink.max, 100 * n.wires.max});
      max.groups.push_back(x.layer);
    } else {
      mean.values.push_back({100.0 * x.nf_mean, 100.0 * x.nf_max});
    }
    s += "</tr>\n";
    mean.groups.push_back(x.layer);
    low.groups.push_back(x.layer);
    low.values.push_back({100.0 * x.low_conductance_share});
    xbars.groups.push_back(x.layer);
    xbars.values.push_back({2.0 * static_cast<double>(x.positions) * x.slices});
  }
  s += fmt::format("<tr><td>total</td><td></td><td></td>{}{}{}{}<td></td></tr>\n</table>\n", num(r.crossbars, 0, run + "/crossbars"),
                   num(r.nf_mean, 3, run + "/nf/mean", 100.0), num(r.nf_max, 3, run + "/nf/max", 100.0),
                   num(r.low_conductance_share, 1, run + "/low_conductance_share", 100.0));
  if (const auto ccr = r.ccr())
    s += fmt::format("<p>CCR {:.3f}: {} crossbars of the unpruned model over these {}.</p>\n", *ccr,
                     r.reference_crossbars, r.crossbars);
  s += figure(bar_chart_svg(mean), sources ? "Mean NF of the used columns, solved with every resistance and with "
                                             "each source alone."
                                           : "Mean and largest NF of the used columns of each layer.");
  if (sources) s += figure(bar_chart_svg(max), "Largest NF of each layer, with every resistance and each source alone.");
  s += figure(bar_chart_svg(low), "Share of the devices of both arrays below the middle of the conductance range.");
  s += figure(bar_chart_svg(xbars), "Crossbars (two per tile position) of each layer.");
  return s;
}

std::string heatmap_section(const CrossbarReport& r) {
  if (r.heatmaps.empty()) return "";
  std::string s = "<h3>Tile heat maps</h3>\n";
  for (const LayerHeatmap& after : r.heatmaps) {
    const LayerHeatmap* before = nullptr;
    for (const LayerHeatmap& b : r.heatmaps_before)
      if (b.layer == after.layer) before = &b;
    const std::string name = fmt::format("{} ({})", after.layer, run_label(r));
    const auto caption = [](const LayerHeatmap& h) {
      // Which block of the weight matrix (K inputs x N outputs) each drawn tile holds.
      std::string blocks;
      for (std::size_t k = 0; k < h.tiles.size(); ++k) {
        const TileHeatmap& t = h.tiles[k];
        blocks += fmt::format("{}tile {}: inputs {}-{}, outputs {}-{}", k ? "; " : "", t.tile, t.first_input,
                              t.last_input, t.first_output, t.last_output);
      }
      return fmt::format("{} of {} tiles drawn, in layout order, left to right and down ({}); NF of the drawn "
                         "columns: mean {:.3f} %, max {:.3f} %.",
                         h.tiles.size(), h.tiles_total, blocks, 100.0 * h.nf_mean(), 100.0 * h.nf_max());
    };
    if (before)
      s += figure(heatmap_svg(*before, name + ": before rearrangement"), "Before rearrangement: " + caption(*before));
    s += figure(heatmap_svg(after, name + (before ? ": after rearrangement" : "")),
                (before ? "After rearrangement: " : "") + caption(after));
  }
  return s;
}

std::string run_section(const CrossbarReport& r, std::size_t k) {
  const std::string run = fmt::format("/runs/{}", k);
  std::string s = fmt::format("<h2 id=\"run-{}\">{} {}: {}</h2>\n", k, esc(r.model), r.width, esc(run_label(r)));
  s += configuration(r, run) + layer_section(r, run);
  if (!r.rearrangement.is_null())
    s += "<h3>Rearrangement</h3>\n<pre>" + esc(rearrangement_table(r.rearrangement)) + "</pre>\n";
  s += heatmap_section(r);
  for (const std::string& w : r.warnings) s += "<p class=\"warn\">warning: " + esc(w) + "</p>\n";
  return s;
}

}  // namespace

std::string html_page(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
         "<meta charset=\"utf-8\"/>\n<title>" +
         esc(title) + "</title>\n<style>\n" + kStyle + "\n</style>\n</head>\n<body>\n" + body + "</body>\n</html>\n";
}

std::string crossbar_html_report(const std::vector<CrossbarReport>& runs, const HtmlReportInfo& info) {
  std::string title = "SparseXbar " + info.command;
  if (!runs.empty()) title += ": " + runs.front().model + " on " + runs.front().data_source;
  std::string body = "<h1>" + esc(title) + "</h1>\n";
  body += fmt::format("<p>sparsexbar {} (revision {}){}.</p>\n", version(), esc(git_revision()),
                      info.seconds > 0.0 ? fmt::format(", {:.1f} s in all", info.seconds) : "");
  if (!info.command_line.empty()) body += "<pre>" + esc(info.command_line) + "</pre>\n";
  if (runs.empty()) return html_page(title, body + "<p>No runs.</p>\n");
  body += "<p>Runs:";
  for (std::size_t k = 0; k < runs.size(); ++k)
    body += fmt::format(" <a href=\"#run-{}\">{}</a>", k, esc(run_label(runs[k])));
  body += "</p>\n" + accuracy_section(runs);
  for (std::size_t k = 0; k < runs.size(); ++k) body += run_section(runs[k], k);
  return html_page(title, body);
}

}  // namespace sxb
