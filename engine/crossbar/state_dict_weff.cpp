#include "engine/crossbar/state_dict_weff.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cmath>
#include <iterator>
#include <optional>
#include <regex>

#include "engine/crossbar/mapping.h"
#include "engine/crossbar/wct.h"
#include "engine/io/version.h"
#include "engine/io/stopwatch.h"
#include "kernels/common/error.h"
#include "models/io/safetensors.h"

namespace sxb {
namespace {

std::regex compile(const std::string& pattern, const std::string& key) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw Error(Message{Key{key}, fmt::format(" '{}' is not a valid regular expression: {}", pattern, e.what())});
  }
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

std::string layer_name(const std::string& tensor) {
  const std::string suffix = ".weight";
  const bool strip = tensor.size() > suffix.size() && tensor.ends_with(suffix);
  return strip ? tensor.substr(0, tensor.size() - suffix.size()) : tensor;
}

// A tensor to map and the layer matrices of its groups.
struct Selected {
  std::string name;
  const RawTensor* raw = nullptr;
  std::vector<float> weight;
  int groups = 1, outputs = 0, inputs = 0;  // per group
  std::size_t first = 0;                    // index of its first group among the mapped layers
};

// The tensors `o` selects, in name order; the other names go to `copied`.
std::vector<Selected> select(const RawSafetensors& in, const std::string& source, const StateDictWeffOptions& o,
                             std::vector<std::string>& copied) {
  const std::regex include = compile(o.include, "weff.include");
  const std::optional<std::regex> exclude =
      o.exclude.empty() ? std::nullopt : std::optional<std::regex>(compile(o.exclude, "weff.exclude"));
  bool include_hit = false, exclude_hit = false;
  std::vector<Selected> out;
  for (const auto& [name, t] : in.tensors) {
    const bool included = std::regex_search(name, include);
    const bool excluded = exclude && std::regex_search(name, *exclude);
    include_hit |= included;
    exclude_hit |= excluded;
    const std::size_t rank = t.shape.size();
    if (!included || excluded || rank <= 1) {
      copied.push_back(name);
      continue;
    }
    SXB_REQUIRE(rank == 2 || rank == 4,
                Message{fmt::format("{}: tensor '{}' has shape {} ({}-D): only 2-D (linear) and 4-D (convolution) "
                                    "weights map onto crossbars; leave it out with ",
                                    source, name, shape_text(t.shape), rank),
                        Key{"weff.exclude"}});
    SXB_REQUIRE(
        is_float_dtype(t.dtype),
        Message{
            fmt::format(
                "{}: tensor '{}' has dtype {}: only F32, F64, F16 and BF16 weights can be mapped; leave it out with ",
                source, name, t.dtype),
            Key{"weff.exclude"}});
    SXB_REQUIRE(t.numel() > 0, fmt::format("{}: tensor '{}' has shape {}: nothing to map", source, name,
                                           shape_text(t.shape)));
    Selected s{name, &t, decode_floats(t, name)};
    for (std::size_t i = 0; i < s.weight.size(); ++i)
      SXB_REQUIRE(std::isfinite(s.weight[i]),
                  Message{fmt::format("{}: tensor '{}' has a non-finite weight ({}) at flat index {}: a weight must be "
                                      "a number to be mapped; leave the tensor out with ",
                                      source, name, s.weight[i], i),
                          Key{"weff.exclude"}});
    const auto g = o.groups.find(name);
    if (g != o.groups.end()) {
      SXB_REQUIRE(rank == 4, Message{Key{"weff.groups"},
                                     fmt::format(" names '{}', which is {}-D; groups apply to 4-D convolution weights",
                                                 name, rank)});
      SXB_REQUIRE(
          g->second >= 1 && t.shape[0] % g->second == 0,
          Message{Key{"weff.groups"}, fmt::format(": '{}' has {} output channels, which {} groups do not divide", name,
                                                  t.shape[0], g->second)});
      s.groups = g->second;
    }
    const std::int64_t n = t.shape[0] / s.groups, k = t.numel() / t.shape[0];
    SXB_REQUIRE(n < (std::int64_t{1} << 31) && k < (std::int64_t{1} << 31),
                fmt::format("{}: tensor '{}' of shape {} is too large", source, name, shape_text(t.shape)));
    s.outputs = static_cast<int>(n);
    s.inputs = static_cast<int>(k);
    out.push_back(std::move(s));
  }
  SXB_REQUIRE(include_hit,
              Message{Key{"weff.include"}, fmt::format(" '{}' matches no tensor of {}", o.include, source)});
  SXB_REQUIRE(!exclude || exclude_hit,
              Message{Key{"weff.exclude"}, fmt::format(" '{}' matches no tensor of {}", o.exclude, source)});
  SXB_REQUIRE(!out.empty(), o.exclude.empty() ? Message{Subject{source}, ": no 2-D or 4-D tensor matches ",
                                                        Key{"weff.include"}, " '" + o.include + "': nothing to map"}
                                              : Message{Subject{source}, ": no 2-D or 4-D tensor matches ",
                                                        Key{"weff.include"}, " '" + o.include + "' and not ",
                                                        Key{"weff.exclude"}, " '" + o.exclude + "': nothing to map"});
  for (const auto& [name, g] : o.groups) {
    bool mapped = false;
    for (const Selected& s : out) mapped |= s.name == name;
    SXB_REQUIRE(mapped, Message{Key{"weff.groups"},
                                fmt::format(" names '{}', which is not a mapped tensor of {}", name, source)});
  }
  return out;
}

// The layout's frame: the given layout's method and tile size (which must be
// the configuration's), else dense tiles of the configuration's size.
NetworkLayout start_layout(const StateDictWeffOptions& o, const CrossbarConfig& xbar) {
  NetworkLayout layout;
  layout.tile_rows = xbar.tile_rows;
  layout.tile_cols = xbar.tile_cols;
  if (o.layout) {
    SXB_REQUIRE(o.layout->tile_rows == xbar.tile_rows && o.layout->tile_cols == xbar.tile_cols,
                Message{Key{"weff.layout"},
                        fmt::format(" has tiles of {} x {}, the crossbar configuration {} x {}", o.layout->tile_rows,
                                    o.layout->tile_cols, xbar.tile_rows, xbar.tile_cols)});
    layout.method = o.layout->method;
  }
  return layout;
}

void add_gains(GainStats& total, const GainStats& part) {
  if (part.columns == 0) return;
  total.min = total.columns ? std::min(total.min, part.min) : part.min;
  total.max = total.columns ? std::max(total.max, part.max) : part.max;
  total.sum += part.sum;
  total.columns += part.columns;
}

// ||W_eff - W||_F / ||W||_F (0 for W = 0).
double relative_error(const std::vector<float>& weff, const std::vector<float>& w) {
  double diff = 0.0, norm = 0.0;
  for (std::size_t k = 0; k < weff.size(); ++k) {
    diff += (static_cast<double>(weff[k]) - w[k]) * (static_cast<double>(weff[k]) - w[k]);
    norm += static_cast<double>(w[k]) * w[k];
  }
  return norm > 0.0 ? std::sqrt(diff / norm) : 0.0;
}

// The report of tensor `s` (mapped as `whole`, its groups solved in `solved`),
// without its relative errors.
TensorWeff tensor_report(const Selected& s, const MappedLayer& whole, const std::string& scale_source,
                         const std::vector<LayerEffective>& solved) {
  TensorWeff w;
  w.name = s.name;
  w.layer = whole.layer;
  w.dtype = s.raw->dtype;
  w.shape = s.raw->shape;
  w.groups = s.groups;
  w.inputs = s.inputs;
  w.outputs = s.outputs;
  w.scale = whole.scale;
  w.scale_source = scale_source;
  long long low = 0, devices = 0;
  for (int g = 0; g < s.groups; ++g) {
    const LayerEffective& e = solved[s.first + static_cast<std::size_t>(g)];
    w.positions += e.positions * static_cast<std::size_t>(e.slices);
    w.clipped += e.clipped;
    w.nf.sum += e.stats.nf_sum;
    w.nf.max = std::max(w.nf.max, e.stats.nf_max);
    w.nf.columns += e.stats.nf_columns;
    add_gains(w.gains, e.gains);
    low += e.stats.low_devices;
    devices += e.stats.devices;
  }
  w.high_share = devices ? 1.0 - static_cast<double>(low) / static_cast<double>(devices) : 0.0;
  return w;
}

}  // namespace

long long StateDictWeff::crossbars() const {
  long long n = 0;
  for (const TensorWeff& t : tensors) n += 2 * static_cast<long long>(t.positions);
  return n;
}

StateDictWeff state_dict_weff(const RawSafetensors& in, const std::string& source, const StateDictWeffOptions& o) {
  const auto t_start = std::chrono::steady_clock::now();
  const CrossbarConfig& xbar = o.crossbar;
  xbar.check("crossbar configuration");
  SXB_REQUIRE(xbar.dac_bits == 0 && xbar.adc_bits == 0,
              "crossbar.dac_bits and crossbar.adc_bits act on each tile's partial sums and cannot be folded into "
              "W_eff (weight_bits can: W_eff is then the slices' digital combination)");
  StateDictWeff r;
  std::vector<Selected> chosen = select(in, source, o, r.copied);

  // Mapping scales per tensor (all groups share one), as evaluate assigns them.
  std::vector<MappedLayer> whole;
  for (const Selected& s : chosen) whole.push_back({layer_name(s.name), s.inputs, s.outputs * s.groups, s.weight, 0.0});
  std::map<std::string, std::string> tensor_of;  // layer -> tensor: names must not collide
  for (std::size_t t = 0; t < whole.size(); ++t) {
    const auto [it, fresh] = tensor_of.emplace(whole[t].layer, chosen[t].name);
    SXB_REQUIRE(fresh, Message{fmt::format("{}: tensors '{}' and '{}' would both be layer '{}'; leave one out with ",
                                           source, it->second, chosen[t].name, whole[t].layer),
                               Key{"weff.exclude"}});
  }
  SafetensorsFile meta;
  meta.metadata = in.metadata;
  const std::map<std::string, std::string> sources = assign_mapping_scales(whole, xbar, read_wct_metadata(meta, source));

  std::vector<MappedLayer> layers;
  NetworkLayout layout = start_layout(o, xbar);
  for (std::size_t t = 0; t < chosen.size(); ++t) {
    Selected& s = chosen[t];
    s.first = layers.size();
    const std::size_t group_size = static_cast<std::size_t>(s.outputs) * static_cast<std::size_t>(s.inputs);
    for (int g = 0; g < s.groups; ++g) {
      const std::string layer = s.groups == 1 ? whole[t].layer : fmt::format("{}#g{}", whole[t].layer, g);
      layers.push_back({layer, s.inputs, s.outputs, layer_matrix(s.weight.data() + g * group_size, s.outputs, s.inputs),
                        whole[t].scale});
      const LayerLayout* given = o.layout ? o.layout->find(layer) : nullptr;
      layout.layers.push_back(given ? *given : dense_layout(layer, s.inputs, s.outputs, xbar.tile_rows, xbar.tile_cols));
    }
  }
  if (o.layout)
    for (const LayerLayout& l : o.layout->layers) {
      bool mapped = false;
      for (const MappedLayer& m : layers) mapped |= m.layer == l.layer;
      SXB_REQUIRE(mapped,
                  Message{Key{"weff.layout"},
                          fmt::format(" names layer '{}', which is not a mapped layer of {}", l.layer, source)});
    }
  layout.check("weff.layout");

  r.backend = resolve(o.backend);
  SchedulerOptions so;
  so.backend = r.backend;
  so.calibrations = o.calibrations;
  r.calibrations = requested_calibrations(so, xbar);
  const auto log = [&](const std::string& line) {
    if (o.log) o.log(line);
  };
  const auto t0 = std::chrono::steady_clock::now();
  log(fmt::format("solving {} tiles of {} x {} on {} ({} tensors, {} layer matrices)", layout.crossbars(),
                  xbar.tile_rows, xbar.tile_cols, to_string(r.backend), chosen.size(), layers.size()));
  so.progress = [&](std::size_t done, std::size_t total) {
    log(fmt::format("  tile positions {}/{} ({:.1f} s)", done, total, seconds_since(t0)));
  };
  const std::vector<LayerEffective> solved = effective_weights(layers, layout, xbar, so, &r.schedule);

  std::vector<RawSafetensors> files(r.calibrations.size());
  for (RawSafetensors& f : files) {
    f.metadata = in.metadata;
    for (const std::string& name : r.copied) f.tensors.emplace(name, in.tensors.at(name));
  }
  for (std::size_t t = 0; t < chosen.size(); ++t) {
    const Selected& s = chosen[t];
    TensorWeff w = tensor_report(s, whole[t], sources.at(whole[t].layer), solved);
    const std::size_t group_size = static_cast<std::size_t>(s.outputs) * static_cast<std::size_t>(s.inputs);
    for (std::size_t c = 0; c < r.calibrations.size(); ++c) {
      std::vector<float> weff(s.weight.size());
      for (int g = 0; g < s.groups; ++g)
        weight_from_layer_matrix(solved[s.first + static_cast<std::size_t>(g)].weights(r.calibrations[c]).data(),
                                 s.outputs, s.inputs, weff.data() + g * group_size);
      w.relative_errors.push_back(relative_error(weff, s.weight));
      RawTensor out = *s.raw;
      encode_floats(weff, out, s.name);
      files[c].tensors.emplace(s.name, std::move(out));
    }
    w.relative_error = w.relative_errors.front();
    r.tensors.push_back(std::move(w));
  }
  r.file = std::move(files.front());
  r.other_files.assign(std::make_move_iterator(files.begin() + 1), std::make_move_iterator(files.end()));
  r.seconds = seconds_since(t_start);
  return r;
}

nlohmann::json to_json(const StateDictWeff& r, const std::string& source, const StateDictWeffOptions& o) {
  NfStats total;
  nlohmann::json layers = nlohmann::json::array();
  for (const TensorWeff& t : r.tensors) {
    total.sum += t.nf.sum;
    total.max = std::max(total.max, t.nf.max);
    total.columns += t.nf.columns;
    layers.push_back({{"tensor", t.name},
                      {"layer", t.layer},
                      {"shape", t.shape},
                      {"dtype", t.dtype},
                      {"groups", t.groups},
                      {"inputs", t.inputs},
                      {"outputs", t.outputs},
                      {"crossbars", 2 * static_cast<long long>(t.positions)},
                      {"scale", t.scale},
                      {"scale_source", t.scale_source},
                      {"clipped", t.clipped},
                      {"nf", {{"mean", t.nf.mean()}, {"max", t.nf.max}}},
                      {"gains", {{"mean", t.gains.mean()}, {"min", t.gains.min}, {"max", t.gains.max}}},
                      {"high_share", t.high_share},
                      {"relative_error", t.relative_error}});
    nlohmann::json& by_calibration = layers.back()["relative_errors"] = nlohmann::json::object();
    for (std::size_t c = 0; c < r.calibrations.size() && c < t.relative_errors.size(); ++c)
      by_calibration[to_string(r.calibrations[c])] = t.relative_errors[c];
  }
  std::vector<std::string> calibrations;
  for (Calibration c : r.calibrations) calibrations.push_back(to_string(c));
  return {{"source", source},
          {"crossbar", o.crossbar.to_json()},
          {"backend", to_string(r.backend)},
          {"tile_rows", o.crossbar.tile_rows},
          {"tile_cols", o.crossbar.tile_cols},
          {"layout", o.layout ? o.layout->method : "dense"},
          {"calibrations", calibrations},
          {"include", o.include},
          {"exclude", o.exclude},
          {"crossbars", r.crossbars()},
          {"nf", {{"mean", total.mean()}, {"max", total.max}}},
          {"layers", layers},
          {"copied", r.copied},
          {"seconds", r.seconds},
          {"version", version_line()}};
}

}  // namespace sxb
