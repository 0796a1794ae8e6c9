#include "engine/crossbar/wct.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/mapping.h"
#include "engine/crossbar/scheduler.h"
#include "kernels/common/error.h"
#include "models/nn_backend.h"

namespace sxb {
namespace {

constexpr const char* kKappaKey = "wct_kappa";
constexpr const char* kScalesKey = "wct_scales";
constexpr const char* kOriginKey = "wct_origin";

std::string exact(double v) { return fmt::format("{:.17g}", v); }

bool valid_kappa(double kappa) { return std::isfinite(kappa) && kappa > 0.0 && kappa <= 1.0; }

}  // namespace

float WctScales::bound(const std::string& layer) const {
  const auto it = s_ref.find(layer);
  SXB_REQUIRE(it != s_ref.end(), "weight-constrained training: no reference scale for layer '" + layer + "'");
  const double limit = kappa * it->second;
  float b = static_cast<float>(limit);
  if (static_cast<double>(b) > limit) b = std::nextafter(b, 0.0f);  // never above kappa * s_ref
  return b;
}

void check_wct_kappa(double kappa, const std::string& option) {
  SXB_REQUIRE(
      valid_kappa(kappa),
      Message{Key{option}, fmt::format(" {} is not in (0, 1]: weights are clamped to |w| <= kappa * s_ref", kappa)});
}

std::map<std::string, double> max_abs_scales(nn::Vgg& model) {
  std::map<std::string, double> out;
  for (const std::string& layer : model.weight_layers()) {
    const double m = max_abs(nn::to_host(model.backend(), model.parameter(layer + ".weight").value));
    out[layer] = m > 0.0 ? m : 1.0;  // as mapping_scale (engine/crossbar/scheduler.h)
  }
  return out;
}

WctScales start_wct(nn::Vgg& model, double kappa, const std::optional<WctScales>& inherited,
                    const std::string& origin) {
  check_wct_kappa(kappa, "wct_kappa");
  WctScales w;
  w.kappa = kappa;
  if (inherited) {
    check_wct_layers(*inherited, model.weight_layers());
    w.s_ref = inherited->s_ref;
    w.origin = "wct_scales of " + origin;
  } else {
    w.s_ref = max_abs_scales(model);
    w.origin = "max|W| of " + origin;
  }
  return w;
}

void apply_wct_clamp(nn::Vgg& model, const WctScales& wct) {
  for (const std::string& layer : model.weight_layers()) {
    const float b = wct.bound(layer);
    model.backend().clamp(model.parameter(layer + ".weight").value, -b, b);
  }
}

void write_wct_metadata(const WctScales& wct, SafetensorsFile& file) {
  nlohmann::json scales = nlohmann::json::object();
  for (const auto& [layer, s] : wct.s_ref) scales[layer] = s;
  file.metadata[kKappaKey] = exact(wct.kappa);
  file.metadata[kScalesKey] = scales.dump();
  file.metadata[kOriginKey] = wct.origin;
}

std::optional<WctScales> read_wct_metadata(const SafetensorsFile& file, const std::string& path) {
  const auto kappa_it = file.metadata.find(kKappaKey), scales_it = file.metadata.find(kScalesKey);
  const bool has_kappa = kappa_it != file.metadata.end(), has_scales = scales_it != file.metadata.end();
  if (!has_kappa && !has_scales) return std::nullopt;
  SXB_REQUIRE(has_kappa && has_scales, fmt::format("{}: __metadata__ has {} but not {} (weight-constrained training "
                                                   "needs both)",
                                                   path, has_kappa ? kKappaKey : kScalesKey,
                                                   has_kappa ? kScalesKey : kKappaKey));
  WctScales w;
  w.file = path;
  const auto origin_it = file.metadata.find(kOriginKey);
  if (origin_it != file.metadata.end()) w.origin = origin_it->second;

  const std::string& kappa_text = kappa_it->second;
  std::size_t used = 0;
  try {
    w.kappa = std::stod(kappa_text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  SXB_REQUIRE(used > 0 && used == kappa_text.size() && valid_kappa(w.kappa),
              fmt::format("{}: __metadata__ {} = '{}' is not a number in (0, 1]", path, kKappaKey, kappa_text));

  nlohmann::json scales;
  try {
    scales = nlohmann::json::parse(scales_it->second);
  } catch (const nlohmann::json::parse_error&) {
    throw Error(fmt::format("{}: __metadata__ {} is not valid JSON", path, kScalesKey));
  }
  SXB_REQUIRE(scales.is_object() && !scales.empty(),
              fmt::format("{}: __metadata__ {} is not a JSON object {{\"layer\": scale, ...}}", path, kScalesKey));
  for (const auto& [layer, value] : scales.items()) {
    const bool positive = value.is_number() && std::isfinite(value.get<double>()) && value.get<double>() > 0.0;
    SXB_REQUIRE(positive, fmt::format("{}: __metadata__ {}: the scale of layer '{}' is {}, not a positive number",
                                      path, kScalesKey, layer, value.dump()));
    w.s_ref[layer] = value.get<double>();
  }
  return w;
}

void check_wct_layers(const WctScales& wct, const std::vector<std::string>& layers) {
  const std::string where = wct.file.empty() ? std::string("weight-constrained training") : wct.file;
  for (const std::string& layer : layers)
    SXB_REQUIRE(wct.s_ref.count(layer),
                fmt::format("{}: __metadata__ {} has no scale for layer '{}'", where, kScalesKey, layer));
  for (const auto& [layer, s] : wct.s_ref)
    SXB_REQUIRE(std::find(layers.begin(), layers.end(), layer) != layers.end(),
                fmt::format("{}: __metadata__ {} names layer '{}', which the model does not map", where, kScalesKey,
                            layer));
}

std::map<std::string, std::string> assign_mapping_scales(std::vector<MappedLayer>& layers,
                                                         const CrossbarConfig& config,
                                                         const std::optional<WctScales>& wct) {
  if (wct) {
    std::vector<std::string> names;
    for (const MappedLayer& m : layers) names.push_back(m.layer);
    check_wct_layers(*wct, names);
  }
  std::map<std::string, std::string> source;
  for (MappedLayer& m : layers) {
    if (config.scale_mode != ScaleMode::LayerMax) {  // the mode decides; config.scale and s_ref are layer-max's
      m.scale = mapping_scale(m.matrix, config);
      source[m.layer] = config.scale_mode == ScaleMode::Percentile ? kScaleFromPercentile
                        : config.scale_mode == ScaleMode::TileMax  ? kScaleFromTileMax
                                                                   : kScaleFromColumnMax;
    } else if (config.scale > 0.0) {
      m.scale = config.scale;
      source[m.layer] = kScaleFromConfig;
    } else if (wct) {
      m.scale = wct->s_ref.at(m.layer);
      source[m.layer] = kScaleFromWct;
    } else {
      m.scale = mapping_scale(m.matrix, config);
      source[m.layer] = kScaleFromMaxAbs;
    }
  }
  return source;
}

}  // namespace sxb
