#include "engine/evaluation/crossbar_report.h"

#include "engine/io/version.h"

namespace sxb {

std::string VariantReport::name() const {
  return bn_images == 0 ? to_string(calibration)
                        : to_string(calibration) + " + BN re-estimation (" + std::to_string(bn_images) + " images)";
}

std::string VariantReport::column() const {
  return "nonideal_" + to_string(calibration) + (bn_images > 0 ? "_bn" : "");
}

std::optional<double> CrossbarReport::ccr() const {
  if (reference_crossbars <= 0 || crossbars <= 0) return std::nullopt;
  return static_cast<double>(reference_crossbars) / static_cast<double>(crossbars);
}

namespace {

nlohmann::json range_json(const MinMeanMax& x) { return {{"min", x.min}, {"mean", x.mean}, {"max", x.max}}; }

nlohmann::json nf_json(const NfStats& s) { return {{"mean", s.mean()}, {"max", s.max}}; }

nlohmann::json nf_sources_json(const NfBySource& n) {
  return {{"full", nf_json(n.full)}, {"r_source", nf_json(n.source)}, {"r_sink", nf_json(n.sink)},
          {"wires", nf_json(n.wires)}};
}

nlohmann::json layer_json(const LayerReport& l) {
  return {{"layer", l.layer},
          {"inputs", l.inputs},
          {"outputs", l.outputs},
          {"positions", l.positions},
          {"slices", l.slices},
          {"crossbars", 2 * static_cast<long long>(l.positions) * l.slices},
          {"clipped", l.clipped},
          {"scale", l.scale},
          {"scale_source", l.scale_source},
          {"nf_mean", l.nf_mean},
          {"nf_max", l.nf_max},
          {"low_conductance_share", l.low_conductance_share},
          {"high_conductance_share", l.high_conductance_share},
          {"tile_high_share", range_json(l.tile_high_share)},
          {"column_scale", range_json(l.column_scale)},
          {"column_gain", {{"mean", l.gain_mean}, {"min", l.gain_min}, {"max", l.gain_max}}},
          {"nf_by_source", l.nf_by_source ? nf_sources_json(*l.nf_by_source) : nlohmann::json(nullptr)},
          {"converters", l.converters ? to_json(*l.converters) : nlohmann::json(nullptr)}};
}

nlohmann::json converters_json(const std::vector<LayerConverters>& layers) {
  if (layers.empty()) return nullptr;
  nlohmann::json a = nlohmann::json::array();
  for (const LayerConverters& c : layers) a.push_back(to_json(c));
  return a;
}

nlohmann::json variant_json(const VariantReport& v) {
  return {{"calibration", to_string(v.calibration)}, {"bn_images", v.bn_images}, {"accuracy", v.result.accuracy},
          {"loss", v.result.loss}, {"bn", v.bn}, {"converters", converters_json(v.converters)}};
}

}  // namespace

nlohmann::json to_json(const CrossbarReport& r) {
  nlohmann::json j;
  j["sparsexbar"] = {{"version", version()}, {"git", git_revision()}};
  j["model"] = {{"model", r.model}, {"width", r.width}, {"classes", r.classes}, {"weights", r.weights}};
  j["data"] = {{"source", r.data_source}, {"split", "test"}, {"images", r.images}};
  j["crossbar"] = r.crossbar.to_json();
  j["layout"] = {{"method", r.layout_method}, {"tile_rows", r.tile_rows}, {"tile_cols", r.tile_cols}};
  j["backend"] = {{"solver", r.solver},   {"solver_device", r.solver_device},   {"network", r.network},
                  {"network_device", r.network_device}, {"sparse_path", r.sparse_path}, {"sparse_layers", r.sparse_layers}};
  j["seeds"] = {{"variation", r.crossbar.seed}};
  j["accuracy"] = {{"software", r.software.accuracy},
                   {"ideal", r.ideal.accuracy},
                   {"nonideal", r.nonideal.accuracy},
                   {"loss", r.software.accuracy - r.nonideal.accuracy}};
  j["variants"] = nlohmann::json::array();
  for (const VariantReport& v : r.variants) j["variants"].push_back(variant_json(v));
  j["cross_entropy"] = {{"software", r.software.loss}, {"ideal", r.ideal.loss}, {"nonideal", r.nonideal.loss}};
  j["crossbars"] = r.crossbars;
  j["reference_crossbars"] = r.reference_crossbars;
  const std::optional<double> ccr = r.ccr();
  j["ccr"] = ccr ? nlohmann::json(*ccr) : nlohmann::json(nullptr);
  j["clipped"] = r.clipped;
  j["wct"] = r.wct ? nlohmann::json{{"kappa", r.wct->kappa},
                                    {"file", r.wct->file},
                                    {"origin", r.wct->origin},
                                    {"scales_used", r.wct->scales_used}}
                   : nlohmann::json(nullptr);
  j["nf"] = {{"mean", r.nf_mean}, {"max", r.nf_max}};
  j["low_conductance_share"] = r.low_conductance_share;
  j["layers"] = nlohmann::json::array();
  for (const LayerReport& l : r.layers) j["layers"].push_back(layer_json(l));
  j["rearrangement"] = r.rearrangement;
  j["cache"] = {{"hit", r.cache_hit}, {"file", r.cache_file}};
  j["schedule"] = {{"tiles", r.schedule.tiles},
                   {"batches", r.schedule.batches},
                   {"program_seconds", r.schedule.program_seconds},
                   {"solve_seconds", r.schedule.solve_seconds},
                   {"assemble_seconds", r.schedule.assemble_seconds}};
  j["seconds"] = r.seconds;
  j["warnings"] = r.warnings;
  const auto heatmaps = [](const std::vector<LayerHeatmap>& maps) {
    if (maps.empty()) return nlohmann::json(nullptr);
    nlohmann::json a = nlohmann::json::array();
    for (const LayerHeatmap& h : maps) a.push_back(to_json(h));
    return a;
  };
  j["heatmaps"] = heatmaps(r.heatmaps);
  j["heatmaps_before"] = heatmaps(r.heatmaps_before);
  return j;
}

}  // namespace sxb
