// The "rearrangement" part of an evaluation report and its table.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/rearrangement/rearrange.h"

namespace sxb {

namespace {

double nf_mean(const TileStats& s) { return s.nf_columns ? s.nf_sum / static_cast<double>(s.nf_columns) : 0.0; }

// ||W_eff - W|| / ||W|| over the layer matrix; null without W_eff.
nlohmann::json relative_error(const LayerEffective& e, const std::vector<MappedLayer>& layers) {
  const auto it = std::find_if(layers.begin(), layers.end(), [&](const MappedLayer& m) { return m.layer == e.layer; });
  if (it == layers.end() || e.w_eff.size() != it->matrix.size()) return nullptr;
  double diff = 0.0, norm = 0.0;
  for (std::size_t k = 0; k < e.w_eff.size(); ++k) {
    const double w = it->matrix[k], d = static_cast<double>(e.w_eff[k]) - w;
    diff += d * d;
    norm += w * w;
  }
  return norm > 0.0 ? std::sqrt(diff / norm) : 0.0;
}

}  // namespace

nlohmann::json rearrangement_json(const Rearrangement& r, const RearrangeOptions& options,
                                  const std::vector<MappedLayer>& layers, const std::vector<LayerEffective>& before,
                                  const std::vector<LayerEffective>& after, double accuracy_before,
                                  double accuracy_after) {
  nlohmann::json j = options.to_json();
  j["seconds"] = r.seconds;
  if (options.policy == RearrangePolicy::Search)
    j["search"] = {
        {"rounds", r.rounds}, {"proposals", r.proposals}, {"accepted", r.accepted}, {"stopped_by", r.stopped_by}};
  j["accuracy"] = {{"before", accuracy_before}, {"after", accuracy_after}};
  TileStats total_before, total_after;
  long long crossbars_before = 0, crossbars_after = 0;
  nlohmann::json per_layer = nlohmann::json::array();
  for (std::size_t l = 0; l < r.layers.size() && l < before.size() && l < after.size(); ++l) {
    const LayerRearrangement& s = r.layers[l];
    const TileStats &b = before[l].stats, &a = after[l].stats;
    crossbars_before += s.crossbars_before;
    crossbars_after += s.crossbars_after;
    for (auto [from, to] : {std::pair{&b, &total_before}, std::pair{&a, &total_after}}) {
      to->nf_sum += from->nf_sum;
      to->nf_columns += from->nf_columns;
      to->nf_max = std::max(to->nf_max, from->nf_max);
    }
    nlohmann::json x = {
        {"layer", s.layer},
        {"row_blocks", s.row_blocks},
        {"tiles", s.tiles},
        {"moved_columns", s.moved_columns},
        {"crossbars_before", s.crossbars_before},
        {"crossbars_after", s.crossbars_after},
        {"nf_mean_before", nf_mean(b)},
        {"nf_mean_after", nf_mean(a)},
        {"nf_max_before", b.nf_max},
        {"nf_max_after", a.nf_max},
        {"weff_error_before", relative_error(before[l], layers)},
        {"weff_error_after", relative_error(after[l], layers)},
        {"tile_low_share_before",
         {{"min", s.low_share_min_before}, {"mean", s.low_share_mean_before}, {"max", s.low_share_max_before}}},
        {"tile_low_share_after",
         {{"min", s.low_share_min_after}, {"mean", s.low_share_mean_after}, {"max", s.low_share_max_after}}},
        {"max_tile_conductance_before", s.max_tile_conductance_before},
        {"max_tile_conductance_after", s.max_tile_conductance_after}};
    if (s.objective_before >= 0.0) {
      x["objective_before"] = s.objective_before;
      x["objective_after"] = s.objective_after;
    }
    per_layer.push_back(std::move(x));
  }
  j["nf"] = {{"mean_before", nf_mean(total_before)},
             {"mean_after", nf_mean(total_after)},
             {"max_before", total_before.nf_max},
             {"max_after", total_after.nf_max}};
  j["crossbars"] = {{"before", crossbars_before}, {"after", crossbars_after}};
  j["layers"] = std::move(per_layer);
  return j;
}

std::string rearrangement_table(const nlohmann::json& j) {
  const auto pair = [](double before, double after, int digits) {
    return fmt::format("{:.{}f} > {:.{}f}", before, digits, after, digits);
  };
  const auto percent = [&](const nlohmann::json& before, const nlohmann::json& after) {
    if (before.is_null() || after.is_null()) return std::string("-");
    return pair(100.0 * before.get<double>(), 100.0 * after.get<double>(), 2);
  };
  std::string s = fmt::format("\ncolumn rearrangement '{}' ({:.2f} s", j.at("policy").get<std::string>(),
                              j.at("seconds").get<double>());
  if (j.contains("search")) {
    const auto& x = j["search"];
    s += fmt::format("; search: {} rounds, {} of {} proposals accepted, stopped by {}", x["rounds"].get<int>(),
                     x["accepted"].get<long long>(), x["proposals"].get<long long>(),
                     x["stopped_by"].get<std::string>());
  }
  s += "), before > after; low-g: share of a tile's devices below (G_min + G_max) / 2, min-max over the tiles:\n";
  s += fmt::format("{:<14} {:>6} {:>17} {:>17} {:>17} {:>15} {:>15} {:>17}\n", "layer", "moved", "NF mean %",
                   "NF max %", "W_eff error %", "low-g % before", "low-g % after", "max tile G mS");
  for (const auto& l : j.at("layers")) {
    const auto& lb = l["tile_low_share_before"];
    const auto& la = l["tile_low_share_after"];
    s += fmt::format("{:<14} {:>6} {:>17} {:>17} {:>17} {:>15} {:>15} {:>17}\n", l["layer"].get<std::string>(),
                     l["moved_columns"].get<std::size_t>(), percent(l["nf_mean_before"], l["nf_mean_after"]),
                     percent(l["nf_max_before"], l["nf_max_after"]),
                     percent(l["weff_error_before"], l["weff_error_after"]),
                     fmt::format("{:.1f}-{:.1f}", 100.0 * lb["min"].get<double>(), 100.0 * lb["max"].get<double>()),
                     fmt::format("{:.1f}-{:.1f}", 100.0 * la["min"].get<double>(), 100.0 * la["max"].get<double>()),
                     pair(1e3 * l["max_tile_conductance_before"].get<double>(),
                          1e3 * l["max_tile_conductance_after"].get<double>(), 2));
  }
  const auto& nf = j.at("nf");
  s += fmt::format("{:<14} {:>6} {:>17} {:>17}\n", "total", "", percent(nf["mean_before"], nf["mean_after"]),
                   percent(nf["max_before"], nf["max_after"]));
  if (j.contains("crossbars") && j["crossbars"]["after"] != j["crossbars"]["before"])
    s += fmt::format("crossbars: {} > {}\n", j["crossbars"]["before"].get<long long>(),
                     j["crossbars"]["after"].get<long long>());
  s += fmt::format("non-ideal accuracy: none {:.2f}%, {} {:.2f}%\n", 100.0 * j["accuracy"]["before"].get<double>(),
                   j["policy"].get<std::string>(), 100.0 * j["accuracy"]["after"].get<double>());
  return s;
}

}  // namespace sxb
