#include "engine/crossbar/weff_cache.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "engine/io/content_hash.h"
#include "engine/io/version.h"
#include "kernels/common/error.h"
#include "models/io/safetensors.h"

namespace sxb {

std::string default_cache_dir() {
  if (const char* d = std::getenv("SPARSEXBAR_CACHE"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/sparsexbar";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/sparsexbar";
  return ".sparsexbar-cache";
}

nlohmann::json weff_cache_identity(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                   const CrossbarConfig& config, const SchedulerOptions& options,
                                   const nlohmann::json& extra) {
  nlohmann::json c = config.to_json();
  c.erase("preset");       // the values decide, not the name
  c.erase("calibration");  // the requested list below decides
  nlohmann::json request = nlohmann::json::array();
  for (Calibration k : requested_calibrations(options, config)) request.push_back(to_string(k));
  ContentHash weights;
  for (const MappedLayer& m : layers) {
    if (!layout.find(m.layer)) continue;
    weights.add(m.layer);
    weights.add(&m.inputs, sizeof m.inputs).add(&m.outputs, sizeof m.outputs).add(&m.scale, sizeof m.scale);
    weights.add(m.matrix.data(), m.matrix.size() * sizeof(float));
  }
  nlohmann::json id = {
      {"format", "weff-v3"},
      {"sparsexbar", std::string(version()) + " " + git_revision()},
      {"crossbar", c},
      // The solvers agree to rounding only: each has its own entries.
      {"request",
       {{"calibrations", request},
        {"nf_by_source", options.nf_by_source},
        {"ideal", options.ideal},
        {"solver", to_string(options.backend)}}},
      {"layout_sha256", ContentHash().add(to_json(layout).dump()).hex()},
      {"weights_sha256", weights.hex()}};
  if (!extra.is_null()) id["extra"] = extra;
  return id;
}

std::string weff_cache_key(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                           const CrossbarConfig& config, const SchedulerOptions& options) {
  return ContentHash().add(weff_cache_identity(layers, layout, config, options).dump()).hex();
}

std::string weff_cache_path(const std::string& dir, const std::string& key) {
  return dir + "/weff/" + key + ".safetensors";
}

WeffCacheEntry weff_cache_entry(const std::string& dir, nlohmann::json identity) {
  const std::string key = ContentHash().add(identity.dump()).hex();
  return {weff_cache_path(dir, key), std::move(identity)};
}

namespace {

std::string variant_tensor(const std::string& layer, Calibration c) { return layer + "#" + to_string(c); }

nlohmann::json nf_json(const NfStats& s) { return {s.sum, s.max, s.columns}; }

NfStats nf_from_json(const nlohmann::json& j) {
  return NfStats{j.at(0).get<double>(), j.at(1).get<double>(), j.at(2).get<long long>()};
}

// SHA-256 of the statistics and every tensor (name, shape, values) in name order.
std::string content_sha256(const SafetensorsFile& f) {
  ContentHash h;
  const auto layers = f.metadata.find("layers");
  h.add(layers == f.metadata.end() ? std::string() : layers->second);
  for (const auto& [name, t] : f.tensors) {
    h.add(name);
    h.add(t.shape.data(), t.shape.size() * sizeof(std::int64_t));
    h.add(t.data.data(), t.data.size() * sizeof(float));
  }
  return h.hex();
}

// "crossbar.r_wire_row" for the first key where `stored` differs from `want`.
std::string first_difference(const nlohmann::json& want, const nlohmann::json& stored, const std::string& prefix) {
  if (!want.is_object() || !stored.is_object()) return prefix.empty() ? "the whole identity" : prefix;
  for (const auto& [key, value] : want.items()) {
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    const auto it = stored.find(key);
    if (it == stored.end()) return path + " (absent)";
    if (*it != value) return first_difference(value, *it, path);
  }
  for (const auto& [key, value] : stored.items())
    if (!want.contains(key)) return (prefix.empty() ? key : prefix + "." + key) + " (extra)";
  return prefix;
}

// Why the file's content cannot be used as `entry`, or "" when it can.
std::string identity_problem(const SafetensorsFile& f, const WeffCacheEntry& entry) {
  const auto id = f.metadata.find("identity");
  const auto sum = f.metadata.find("sha256");
  if (id == f.metadata.end() || sum == f.metadata.end())
    return "no identity or checksum (an entry of an older version)";
  const nlohmann::json stored = nlohmann::json::parse(id->second, nullptr, false);
  if (stored.is_discarded()) return "its identity is not valid JSON";
  if (stored != entry.identity)
    return "computed for another configuration (differs in " + first_difference(entry.identity, stored, "") + ")";
  if (sum->second != content_sha256(f)) return "checksum mismatch (edited or damaged)";
  return "";
}

std::vector<LayerEffective> layers_from(const SafetensorsFile& f, const NetworkLayout& layout,
                                        const std::vector<Calibration>& calibrations) {
  const nlohmann::json meta = nlohmann::json::parse(f.metadata.at("layers"));
  SXB_REQUIRE(meta.is_array() && meta.size() == layout.layers.size(),
              fmt::format("holds {} layers, the layout {}", meta.size(), layout.layers.size()));
  std::vector<LayerEffective> out;
  for (std::size_t l = 0; l < layout.layers.size(); ++l) {
    const nlohmann::json& m = meta[l];
    LayerEffective e;
    e.layer = m.at("layer").get<std::string>();
    e.inputs = m.at("inputs").get<int>();
    e.outputs = m.at("outputs").get<int>();
    SXB_REQUIRE(e.layer == layout.layers[l].layer && e.inputs == layout.layers[l].inputs &&
                    e.outputs == layout.layers[l].outputs,
                fmt::format("layer {} is {} ({} x {}), the layout has {}", l, e.layer, e.inputs, e.outputs,
                            layout.layers[l].layer));
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
    for (const nlohmann::json& c : m.at("calibrations"))
      stored.push_back(parse_calibration(c.get<std::string>(), "calibrations"));
    SXB_REQUIRE(!stored.empty() && (calibrations.empty() || stored == calibrations),
                "holds other read-out calibrations than asked for");
    const std::size_t size = static_cast<std::size_t>(e.inputs) * e.outputs;
    for (std::size_t v = 0; v < stored.size(); ++v) {
      const std::string name = v == 0 ? e.layer : variant_tensor(e.layer, stored[v]);
      const auto t = f.tensors.find(name);
      SXB_REQUIRE(t != f.tensors.end() && t->second.data.size() == size,
                  fmt::format("tensor '{}' is missing or not {} x {}", name, e.inputs, e.outputs));
      for (std::size_t k = 0; k < size; ++k)
        SXB_REQUIRE(std::isfinite(t->second.data[k]),
                    fmt::format("tensor '{}' holds {} at flat index {}", name, t->second.data[k], k));
      if (v == 0) {
        e.calibration = stored[0];
        e.w_eff = t->second.data;
      } else {
        e.other_variants.emplace_back(stored[v], t->second.data);
      }
    }
    for (auto [x, key] :
         {std::pair{&e.tile_high_share, "tile_high_share"}, std::pair{&e.column_scale, "column_scale"}})
      *x = {m.at(key).at(0).get<double>(), m.at(key).at(1).get<double>(), m.at(key).at(2).get<double>()};
    for (double v : {e.scale, e.stats.nf_sum, e.stats.nf_max, e.gains.sum, e.gains.min, e.gains.max})
      SXB_REQUIRE(std::isfinite(v), fmt::format("layer {} has a non-finite statistic", e.layer));
    out.push_back(std::move(e));
  }
  return out;
}

void tell(const CacheWarning& warn, const std::string& line) {
  if (warn) warn(line);
}

}  // namespace

std::optional<std::vector<LayerEffective>> load_weff_cache(const WeffCacheEntry& entry, const NetworkLayout& layout,
                                                           const std::vector<Calibration>& calibrations,
                                                           const CacheWarning& warn) {
  std::error_code ec;
  if (!std::filesystem::exists(entry.path, ec)) return std::nullopt;  // a plain miss
  const std::string redo = "; solving again and overwriting it";
  SafetensorsFile f;
  try {
    f = read_safetensors(entry.path);
  } catch (const std::exception& e) {
    tell(warn, fmt::format("W_eff cache entry unreadable: {}{}", e.what(), redo));
    return std::nullopt;
  }
  if (const std::string problem = identity_problem(f, entry); !problem.empty()) {
    tell(warn, fmt::format("W_eff cache entry {}: {}{}", entry.path, problem, redo));
    return std::nullopt;
  }
  try {
    return layers_from(f, layout, calibrations);
  } catch (const std::exception& e) {
    tell(warn, fmt::format("W_eff cache entry {}: {}{}", entry.path, e.what(), redo));
    return std::nullopt;
  }
}

bool store_weff_cache(const WeffCacheEntry& entry, const std::vector<LayerEffective>& layers,
                      const CacheWarning& warn) {
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
  f.metadata["identity"] = entry.identity.dump();
  f.metadata["sha256"] = content_sha256(f);
  try {
    std::filesystem::create_directories(std::filesystem::path(entry.path).parent_path());
    write_safetensors(entry.path, f);
    return true;
  } catch (const std::exception& e) {
    tell(warn, fmt::format("W_eff cache entry {} not written ({}); going on without the cache", entry.path, e.what()));
    return false;
  }
}

}  // namespace sxb
