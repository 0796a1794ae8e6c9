#include "engine/crossbar/weff_cache.h"

#include <cstdlib>
#include <filesystem>

#include "engine/io/content_hash.h"
#include "engine/io/version.h"
#include "models/io/safetensors.h"

namespace sxb {

std::string default_cache_dir() {
  if (const char* d = std::getenv("SPARSEXBAR_CACHE"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/sparsexbar";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/sparsexbar";
  return ".sparsexbar-cache";
}

std::string weff_cache_key(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                           const CrossbarConfig& config, const SchedulerOptions& options) {
  ContentHash h;
  h.add(std::string("weff-v2 ") + version() + " " + git_revision());
  nlohmann::json c = config.to_json();
  c.erase("preset");       // the values decide, not the name
  c.erase("calibration");  // the requested list below decides
  h.add(c.dump());
  nlohmann::json request = nlohmann::json::array();
  for (Calibration k : requested_calibrations(options, config)) request.push_back(to_string(k));
  h.add(nlohmann::json{{"calibrations", request}, {"nf_by_source", options.nf_by_source}, {"ideal", options.ideal}}
            .dump());
  h.add(to_json(layout).dump());
  for (const MappedLayer& m : layers) {
    if (!layout.find(m.layer)) continue;
    h.add(m.layer);
    h.add(&m.inputs, sizeof m.inputs).add(&m.outputs, sizeof m.outputs).add(&m.scale, sizeof m.scale);
    h.add(m.matrix.data(), m.matrix.size() * sizeof(float));
  }
  return h.hex();
}

std::string weff_cache_path(const std::string& dir, const std::string& key) {
  return dir + "/weff/" + key + ".safetensors";
}

namespace {

std::string variant_tensor(const std::string& layer, Calibration c) { return layer + "#" + to_string(c); }

nlohmann::json nf_json(const NfStats& s) { return {s.sum, s.max, s.columns}; }

NfStats nf_from_json(const nlohmann::json& j) {
  return NfStats{j.at(0).get<double>(), j.at(1).get<double>(), j.at(2).get<long long>()};
}

}  // namespace

std::optional<std::vector<LayerEffective>> load_weff_cache(const std::string& path, const NetworkLayout& layout,
                                                           const std::vector<Calibration>& calibrations) {
  if (!std::filesystem::exists(path)) return std::nullopt;
  try {
    const SafetensorsFile f = read_safetensors(path);
    const nlohmann::json meta = nlohmann::json::parse(f.metadata.at("layers"));
    if (meta.size() != layout.layers.size()) return std::nullopt;
    std::vector<LayerEffective> out;
    for (std::size_t l = 0; l < layout.layers.size(); ++l) {
      const nlohmann::json& m = meta[l];
      LayerEffective e;
      e.layer = m.at("layer").get<std::string>();
      e.inputs = m.at("inputs").get<int>();
      e.outputs = m.at("outputs").get<int>();
      if (e.layer != layout.layers[l].layer || e.inputs != layout.layers[l].inputs ||
          e.outputs != layout.layers[l].outputs)
        return std::nullopt;
      e.positions = m.at("positions").get<std::size_t>();
      e.clipped = m.at("clipped").get<long long>();
      e.scale = m.at("scale").get<double>();
      e.stats.nf_sum = m.at("nf_sum").get<double>();
      e.stats.nf_max = m.at("nf_max").get<double>();
      e.stats.nf_columns = m.at("nf_columns").get<long long>();
      e.stats.low_devices = m.at("low_devices").get<long long>();
      e.stats.devices = m.at("devices").get<long long>();
      e.gains.sum = m.at("gain_sum").get<double>();
      e.gains.min = m.at("gain_min").get<double>();
      e.gains.max = m.at("gain_max").get<double>();
      e.gains.columns = m.at("gain_columns").get<long long>();
      if (m.contains("nf_by_source")) {
        const nlohmann::json& n = m["nf_by_source"];
        e.nf_by_source = NfBySource{nf_from_json(n.at("full")), nf_from_json(n.at("source")),
                                    nf_from_json(n.at("sink")), nf_from_json(n.at("wires"))};
      }
      std::vector<Calibration> stored;
      for (const nlohmann::json& c : m.at("calibrations")) stored.push_back(parse_calibration(c.get<std::string>(), "calibrations"));
      if (stored.empty() || (!calibrations.empty() && stored != calibrations)) return std::nullopt;
      const std::size_t size = static_cast<std::size_t>(e.inputs) * e.outputs;
      for (std::size_t v = 0; v < stored.size(); ++v) {
        const HostTensor& t = f.tensors.at(v == 0 ? e.layer : variant_tensor(e.layer, stored[v]));
        if (t.data.size() != size) return std::nullopt;
        if (v == 0) {
          e.calibration = stored[0];
          e.w_eff = t.data;
        } else {
          e.other_variants.emplace_back(stored[v], t.data);
        }
      }
      for (auto [x, key] :
           {std::pair{&e.tile_high_share, "tile_high_share"}, std::pair{&e.column_scale, "column_scale"}})
        *x = {m.at(key).at(0).get<double>(), m.at(key).at(1).get<double>(), m.at(key).at(2).get<double>()};
      out.push_back(std::move(e));
    }
    return out;
  } catch (const std::exception&) {
    return std::nullopt;  // a damaged cache entry is recomputed and overwritten
  }
}

void store_weff_cache(const std::string& path, const std::vector<LayerEffective>& layers) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  SafetensorsFile f;
  nlohmann::json meta = nlohmann::json::array();
  for (const LayerEffective& e : layers) {
    nlohmann::json calibrations = nlohmann::json::array();
    for (Calibration c : e.calibrations()) calibrations.push_back(to_string(c));
    nlohmann::json m = {{"layer", e.layer},
                        {"inputs", e.inputs},
                        {"outputs", e.outputs},
                        {"positions", e.positions},
                        {"clipped", e.clipped},
                        {"scale", e.scale},
                        {"nf_sum", e.stats.nf_sum},
                        {"nf_max", e.stats.nf_max},
                        {"nf_columns", e.stats.nf_columns},
                        {"low_devices", e.stats.low_devices},
                        {"devices", e.stats.devices},
                        {"gain_sum", e.gains.sum},
                        {"gain_min", e.gains.min},
                        {"gain_max", e.gains.max},
                        {"gain_columns", e.gains.columns},
                        {"tile_high_share", {e.tile_high_share.min, e.tile_high_share.mean, e.tile_high_share.max}},
                        {"column_scale", {e.column_scale.min, e.column_scale.mean, e.column_scale.max}},
                        {"calibrations", calibrations}};
    if (e.nf_by_source)
      m["nf_by_source"] = {{"full", nf_json(e.nf_by_source->full)},
                           {"source", nf_json(e.nf_by_source->source)},
                           {"sink", nf_json(e.nf_by_source->sink)},
                           {"wires", nf_json(e.nf_by_source->wires)}};
    meta.push_back(std::move(m));
    f.tensors[e.layer] = HostTensor{{e.inputs, e.outputs}, e.w_eff, "F32"};
    for (const auto& [c, w] : e.other_variants)
      f.tensors[variant_tensor(e.layer, c)] = HostTensor{{e.inputs, e.outputs}, w, "F32"};
  }
  f.metadata["layers"] = meta.dump();
  write_safetensors(path, f);
}

}  // namespace sxb
