#include "engine/evaluation/crossbar_render.h"

#include "kernels/common/error.h"

#include <fmt/format.h>

#include "engine/crossbar/wct.h"
#include "engine/rearrangement/rearrange.h"

namespace sxb {
namespace {

// The mapping scale of every layer and where it came from, a few layers per line.
// What a layer's mapping scale s was taken from, in words.
std::string scale_source_label(const CrossbarReport& r, const std::string& from) {
  if (from == kScaleFromWct && r.wct)
    return fmt::format("s_ref of weight-constrained training (kappa {}, __metadata__ of {})", r.wct->kappa, r.wct->file);
  if (from == kScaleFromConfig) return "the crossbar configuration's scale";
  if (from == kScaleFromPercentile)
    return fmt::format("the {}th percentile of |W| of the layer (larger weights clip)", r.crossbar.scale_percentile);
  if (from == kScaleFromTileMax) return "max|W| of the layer, each tile programmed to its own max|W|";
  if (from == kScaleFromColumnMax) return "max|W| of the layer, each tile column programmed to its own max|W|";
  return "max|W| of the layer";
}

std::string mapping_scale_lines(const CrossbarReport& r) {
  std::string source, s;
  int on_line = 0;
  for (const LayerReport& l : r.layers) {
    const std::string from = l.scale_source.empty() ? std::string(kScaleFromMaxAbs) : l.scale_source;
    if (from == source && on_line == 6) {
      s += "\n";
      on_line = 0;
    }
    if (from != source) {
      source = from;
      on_line = 0;
      s += "\nmapping scale s = " + scale_source_label(r, from) + ":\n";
    }
    s += fmt::format("  {} {:.4g}", l.layer, l.scale);
    ++on_line;
  }
  return s + "\n";
}

std::string header(const CrossbarReport& r) {
  const CrossbarConfig& x = r.crossbar;
  std::string s = fmt::format("{} width {} ({} classes) on {} ({} images), {} layout, tiles {} x {}\n", r.model, r.width,
                              r.classes, r.data_source, r.images, r.layout_method, x.tile_rows, x.tile_cols);
  s += fmt::format(
      "crossbar: R_on {} kOhm, R_off {} kOhm, r_source {} Ohm, r_sink {} Ohm, r_wire {}/{} Ohm, sigma {}, "
      "stuck {}/{}, levels {} (preset {})\n",
      x.r_on / 1e3, x.r_off / 1e3, x.res.r_source, x.res.r_sink, x.res.r_wire_row, x.res.r_wire_col,
      x.variation_sigma, x.stuck_at_gmin, x.stuck_at_gmax, x.levels, x.preset);
  return s;
}

std::string layer_lines(const CrossbarReport& r) {
  const bool sources = !r.layers.empty() && r.layers.front().nf_by_source.has_value();
  std::string s = fmt::format("\n{:<14} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7}", "layer", "K", "N", "crossbars",
                              "NF mean%", "NF max%", "low-g %", "gain");
  if (sources) s += fmt::format(" {:>9} {:>9} {:>9}", "r_source%", "r_sink%", "wires%");
  s += "\n";
  for (const LayerReport& l : r.layers) {
    s += fmt::format("{:<14} {:>6} {:>6} {:>9} {:>9.3f} {:>9.3f} {:>9.1f} {:>7.3f}", l.layer, l.inputs, l.outputs,
                     2 * static_cast<long long>(l.positions) * l.slices, 100.0 * l.nf_mean, 100.0 * l.nf_max,
                     100.0 * l.low_conductance_share, l.gain_mean);
    if (l.nf_by_source)
      s += fmt::format(" {:>9.3f} {:>9.3f} {:>9.3f}", 100.0 * l.nf_by_source->source.mean(),
                       100.0 * l.nf_by_source->sink.mean(), 100.0 * l.nf_by_source->wires.mean());
    s += "\n";
  }
  s += fmt::format("{:<14} {:>6} {:>6} {:>9} {:>9.3f} {:>9.3f} {:>9.1f}\n", "total", "", "", r.crossbars,
                   100.0 * r.nf_mean, 100.0 * r.nf_max, 100.0 * r.low_conductance_share);
  return s;
}

// The tile-level forward's converters per layer (the first read-out variant).
std::string converter_lines(const CrossbarReport& r) {
  if (r.layers.empty() || !r.layers.front().converters) return "";
  const CrossbarConfig& x = r.crossbar;
  std::string s = fmt::format(
      "\nconverters: DAC {} bits, ADC {} bits (range: {}th percentile of |u| over {} training images), weights {} "
      "bits in {}-bit cells ({} slices), {} input bits per pulse (0: ideal or off)\n",
      x.dac_bits, x.adc_bits, x.adc_range_percentile, x.range_images, x.weight_bits, x.bits_per_cell(), x.slices(),
      x.input_bits_per_pulse);
  s += fmt::format("{:<14} {:>10} {:>7} {:>24} {:>12}\n", "layer", "DAC range", "signed", "ADC range per slice",
                   "ADC clip %");
  for (const LayerReport& l : r.layers) {
    const LayerConverters& c = *l.converters;
    std::string ranges;
    for (double a : c.adc) ranges += fmt::format("{}{:.4g}", ranges.empty() ? "" : " ", a);
    s += fmt::format("{:<14} {:>10.4g} {:>7} {:>24} {:>12.4f}\n", l.layer, c.dac.range, c.dac.is_signed ? "yes" : "no",
                     ranges.empty() ? "-" : ranges, 100.0 * c.clipped_share());
  }
  return s;
}

}  // namespace

std::string crossbar_table(const CrossbarReport& r) {
  std::string s = header(r) + layer_lines(r) + converter_lines(r) + mapping_scale_lines(r);
  s += fmt::format("\naccuracy: software {:.2f}%  ideal crossbar {:.2f}%  non-ideal {:.2f}%  (loss {:.2f} points)\n",
                   100.0 * r.software.accuracy, 100.0 * r.ideal.accuracy, 100.0 * r.nonideal.accuracy,
                   100.0 * (r.software.accuracy - r.nonideal.accuracy));
  if (!r.variants.empty()) {
    s += "read-out variants of the same solved tiles (non-ideal accuracy, loss against software):\n";
    for (const VariantReport& v : r.variants)
      s += fmt::format("  {:<48} {:>6.2f}%  ({:.2f} points)\n", v.name(), 100.0 * v.result.accuracy,
                       100.0 * (r.software.accuracy - v.result.accuracy));
  }
  if (const auto ccr = r.ccr()) s += fmt::format("CCR {:.2f} ({} crossbars unpruned)\n", *ccr, r.reference_crossbars);
  if (!r.rearrangement.is_null()) s += rearrangement_table(r.rearrangement);
  const auto seconds = [&r](const char* stage) {
    const auto it = r.seconds.find(stage);
    return it == r.seconds.end() ? 0.0 : it->second;
  };
  s += fmt::format("time: map+solve {:.2f} s{}, total {:.2f} s; solver {}\n", seconds("map_and_solve"),
                   r.cache_hit ? " (cached)" : "", seconds("total"), r.solver_device);
  for (const std::string& w : r.warnings) s += "WARNING: " + w + "\n";
  return s;
}

std::string crossbar_summary(const std::vector<CrossbarReport>& runs) {
  std::string s = fmt::format("{:>7} {:>9} {:>9} {:>8} {:>10} {:>9} {:>10} {:>8}", "tile", "crossbars", "NF mean%",
                              "low-g%", "software%", "ideal%", "non-ideal%", "loss");
  // Extra columns: the variants after the first (the first is "non-ideal"), named in a legend.
  const std::size_t extra = runs.empty() || runs.front().variants.empty() ? 0 : runs.front().variants.size() - 1;
  for (const CrossbarReport& r : runs) {  // one legend for every row
    bool same = r.variants.size() == runs.front().variants.size();
    for (std::size_t k = 0; same && k < r.variants.size(); ++k)
      same = r.variants[k].name() == runs.front().variants[k].name();
    SXB_REQUIRE(same, "crossbar summary: every run must report the same read-out variants");
  }
  for (std::size_t k = 1; k <= extra; ++k) s += fmt::format(" {:>9}", fmt::format("[{}]%", k));
  s += "\n";
  for (const CrossbarReport& r : runs) {
    s += fmt::format("{:>7} {:>9} {:>9.3f} {:>8.1f} {:>10.2f} {:>9.2f} {:>10.2f} {:>8.2f}",
                     fmt::format("{}x{}", r.tile_rows, r.tile_cols), r.crossbars, 100.0 * r.nf_mean,
                     100.0 * r.low_conductance_share, 100.0 * r.software.accuracy, 100.0 * r.ideal.accuracy,
                     100.0 * r.nonideal.accuracy, 100.0 * (r.software.accuracy - r.nonideal.accuracy));
    for (std::size_t k = 1; k <= extra; ++k)
      s += fmt::format(" {:>9.2f}", 100.0 * r.variants[k].result.accuracy);
    s += "\n";
  }
  if (extra > 0) {
    s += fmt::format("non-ideal% = read-out calibration {}; ", runs.front().variants.front().name());
    for (std::size_t k = 1; k <= extra; ++k)
      s += fmt::format("[{}] = {}{}", k, runs.front().variants[k].name(), k < extra ? "; " : "\n");
  }
  return s;
}

std::string crossbar_predictions_csv(const CrossbarEvalResult& r, const Dataset& d) {
  const int k = r.nonideal.classes;
  std::string s = "index,label,software,nonideal";
  for (const VariantReport& v : r.report.variants) s += "," + v.column();
  for (int c = 0; c < k; ++c) s += fmt::format(",logit_{}", c);
  s += "\n";
  for (std::size_t i = 0; i < r.nonideal.images; ++i) {
    s += fmt::format("{},{},{},{}", i, d.labels[i], r.software.predicted[i], r.nonideal.predicted[i]);
    for (const std::vector<int>& p : r.variant_predicted) s += fmt::format(",{}", p.at(i));
    for (int c = 0; c < k; ++c) s += fmt::format(",{:.9g}", r.nonideal.logits[i * k + c]);
    s += "\n";
  }
  return s;
}

}  // namespace sxb
