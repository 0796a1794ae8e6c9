#include "engine/evaluation/crossbar_eval.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <map>
#include <utility>

#include "engine/evaluation/sparse_forward.h"
#include "engine/crossbar/weff_cache.h"
#include "kernels/common/error.h"
#include "engine/io/version.h"

namespace sxb {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The W_eff of every layer of `layout`: from `cache_file` when it holds them
// (`hit` set), else solved on `backend` with progress lines and stored there.
std::vector<LayerEffective> solved_or_cached(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                             const CrossbarConfig& xbar, Backend backend, const std::string& cache_file,
                                             const std::function<void(const std::string&)>& log, bool& hit,
                                             ScheduleStats* stats = nullptr) {
  hit = false;
  if (!cache_file.empty())
    if (auto cached = load_weff_cache(cache_file, layout)) {
      hit = true;
      log("effective weights from the cache: " + cache_file);
      return std::move(*cached);
    }
  const auto t0 = std::chrono::steady_clock::now();
  SchedulerOptions so;
  so.backend = backend;
  std::size_t tiles = 0;
  for (const LayerLayout& l : layout.layers) tiles += 2 * l.tiles.size();
  log(fmt::format("solving {} tiles of {} x {} on {}", tiles, layout.tile_rows, layout.tile_cols, to_string(backend)));
  so.progress = [&](std::size_t done, std::size_t total) {
    log(fmt::format("  tile positions {}/{} ({:.1f} s)", done, total, seconds_since(t0)));
  };
  std::vector<LayerEffective> solved = effective_weights(layers, layout, xbar, so, stats);
  if (!cache_file.empty()) store_weff_cache(cache_file, solved);
  return solved;
}

}  // namespace

EvalResult evaluate_with_weights(nn::Vgg& model, const Dataset& data, const Normalization& norm,
                                 const std::vector<LayerEffective>& layers, SparsePath path,
                                 std::vector<std::string>* sparse_layers) {
  nn::Backend& b = model.backend();
  std::map<std::string, nn::Tensor> dense;
  std::map<std::string, nn::SparseWeight> sparse;
  for (const LayerEffective& e : layers) {
    const nn::Tensor& w = model.parameter(e.layer + ".weight").value;
    std::vector<float> host(w.numel());
    weight_from_layer_matrix(e.w_eff.data(), e.outputs, e.inputs, host.data());
    if (use_sparse(path, density(e.w_eff), b.name())) {
      sparse.emplace(e.layer, nn::sparse_from_dense(b, host.data(), e.outputs, e.inputs));
      if (sparse_layers) sparse_layers->push_back(e.layer);
      continue;
    }
    nn::Tensor t = b.empty(w.shape());
    b.upload(host.data(), t);
    dense.emplace(e.layer, t);
  }
  model.set_weight_hook([&dense](const std::string& layer, const nn::Tensor&) -> std::optional<nn::Tensor> {
    const auto it = dense.find(layer);
    if (it == dense.end()) return std::nullopt;
    return it->second;
  });
  model.set_sparse_weight_hook([&sparse](const std::string& layer) -> const nn::SparseWeight* {
    const auto it = sparse.find(layer);
    return it == sparse.end() ? nullptr : &it->second;
  });
  const auto clear = [&model] {
    model.set_weight_hook(nullptr);
    model.set_sparse_weight_hook(nullptr);
  };
  try {
    EvalResult r = evaluate(model, data, norm);
    clear();
    return r;
  } catch (...) {
    clear();
    throw;
  }
}

namespace {

nlohmann::json layer_json(const LayerEffective& e) {
  return {{"layer", e.layer},
          {"inputs", e.inputs},
          {"outputs", e.outputs},
          {"positions", e.positions},
          {"crossbars", 2 * e.positions},
          {"clipped", e.clipped},
          {"scale", e.scale},
          {"nf_mean", e.stats.nf_columns ? e.stats.nf_sum / e.stats.nf_columns : 0.0},
          {"nf_max", e.stats.nf_max},
          {"low_conductance_share",
           e.stats.devices ? static_cast<double>(e.stats.low_devices) / e.stats.devices : 0.0}};
}

std::size_t disagreements(const EvalResult& a, const EvalResult& b) {
  std::size_t n = 0;
  for (std::size_t k = 0; k < a.predicted.size() && k < b.predicted.size(); ++k) n += a.predicted[k] != b.predicted[k];
  return n;
}

}  // namespace

std::vector<MappedLayer> mapped_layers(nn::Vgg& model) {
  std::vector<MappedLayer> out;
  for (const std::string& name : model.weight_layers()) {
    const nn::Tensor& w = model.parameter(name + ".weight").value;
    const int outputs = w.dim(0);
    const int inputs = static_cast<int>(w.numel() / static_cast<std::size_t>(outputs));
    std::vector<float> host(w.numel());
    model.backend().download(w, host.data());
    out.push_back({name, inputs, outputs, layer_matrix(host.data(), outputs, inputs), 0.0});
  }
  return out;
}

NetworkLayout dense_network_layout(const std::vector<MappedLayer>& layers, int tile_rows, int tile_cols) {
  NetworkLayout layout;
  layout.tile_rows = tile_rows;
  layout.tile_cols = tile_cols;
  for (const MappedLayer& m : layers)
    layout.layers.push_back(dense_layout(m.layer, m.inputs, m.outputs, tile_rows, tile_cols));
  return layout;
}

CrossbarEvalResult evaluate_on_crossbars(nn::Vgg& model, const Dataset& data, const Normalization& norm,
                                         const CrossbarEvalOptions& options, const EvalResult* software) {
  const auto log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  const auto t_start = std::chrono::steady_clock::now();
  const CrossbarConfig& xbar = options.crossbar;
  xbar.check("crossbar configuration");
  const Backend backend = resolve(options.backend);
  CrossbarEvalResult r;
  nlohmann::json seconds;

  std::vector<MappedLayer> layers = mapped_layers(model);
  const std::map<std::string, std::string> scale_sources = assign_mapping_scales(layers, xbar, options.wct);
  NetworkLayout layout = options.layout ? *options.layout : dense_network_layout(layers, xbar.tile_rows, xbar.tile_cols);
  if (options.layout)
    SXB_REQUIRE(layout.tile_rows == xbar.tile_rows && layout.tile_cols == xbar.tile_cols,
                fmt::format("the layout is for {} x {} tiles but the crossbar configuration asks for {} x {}",
                            layout.tile_rows, layout.tile_cols, xbar.tile_rows, xbar.tile_cols));
  layout.check("layout");
  r.crossbars = layout.crossbars();
  NetworkLayout unarranged;  // the layout as given, when a rearrangement replaces it
  Rearrangement arranged;
  if (options.rearrange.policy != RearrangePolicy::None) {
    RearrangeOptions ro = options.rearrange;
    ro.backend = backend;
    log(fmt::format("column rearrangement '{}'", to_string(ro.policy)));
    arranged = rearrange(layers, layout, xbar, ro);
    unarranged = std::exchange(layout, arranged.layout);
    seconds["rearrange"] = arranged.seconds;
  }

  auto t0 = std::chrono::steady_clock::now();
  if (software) {
    r.software = *software;
  } else {
    log("evaluating the software model");
    r.software = evaluate(model, data, norm);
  }
  seconds["software"] = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  SchedulerOptions ideal_options;
  ideal_options.backend = backend;
  ideal_options.ideal = true;
  std::vector<LayerEffective> ideal = effective_weights(layers, layout, xbar, ideal_options);
  r.ideal = evaluate_with_weights(model, data, norm, ideal, options.sparse);
  seconds["ideal"] = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  const std::string cache_file =
      options.cache_dir.empty()
          ? ""
          : weff_cache_path(options.cache_dir,
                            rearranged_cache_key(weff_cache_key(layers, layout, xbar), options.rearrange));
  ScheduleStats sched;
  r.layers = solved_or_cached(layers, layout, xbar, backend, cache_file, log, r.cache_hit, &sched);
  seconds["map_and_solve"] = seconds_since(t0);

  t0 = std::chrono::steady_clock::now();
  log("evaluating the non-ideal crossbar model");
  std::vector<std::string> sparse_layers;
  r.nonideal = evaluate_with_weights(model, data, norm, r.layers, options.sparse, &sparse_layers);
  seconds["nonideal"] = seconds_since(t0);

  nlohmann::json rearrangement;  // null without a rearrangement
  if (options.rearrange.policy != RearrangePolicy::None) {
    t0 = std::chrono::steady_clock::now();
    log("solving and evaluating the layout without rearrangement, for the comparison");
    const std::string file =
        options.cache_dir.empty() ? "" : weff_cache_path(options.cache_dir, weff_cache_key(layers, unarranged, xbar));
    bool hit = false;
    const std::vector<LayerEffective> before = solved_or_cached(layers, unarranged, xbar, backend, file, log, hit);
    const EvalResult none = evaluate_with_weights(model, data, norm, before, options.sparse);
    rearrangement = rearrangement_json(arranged, options.rearrange, layers, before, r.layers, none.accuracy,
                                       r.nonideal.accuracy);
    seconds["unarranged"] = seconds_since(t0);
  }

  // Self-checks.
  const int classes = model.config().classes;
  long long clipped = 0;
  for (const LayerEffective& e : ideal) clipped += e.clipped;
  if (r.ideal.correct != r.software.correct || disagreements(r.ideal, r.software) > 0) {
    r.warnings.push_back(
        clipped > 0
            ? fmt::format("the ideal crossbar disagrees with the software model on {} images: {} weights were clipped "
                          "because the mapping scale ({}) is below max |W|",
                          disagreements(r.ideal, r.software), clipped, xbar.scale)
            : fmt::format("the ideal crossbar disagrees with the software model on {} images although nothing was "
                          "clipped: the mapping is wrong (please report this)",
                          disagreements(r.ideal, r.software)));
  }
  if (options.wct && xbar.scale > 0.0)
    r.warnings.push_back(fmt::format(
        "the crossbar configuration's scale {} replaces the weight-constrained training scales s_ref of {} (kappa {}): "
        "conductances are no longer limited to [G_min, G_min + kappa (G_max - G_min)]",
        xbar.scale, options.wct->file, options.wct->kappa));
  if (classes > 1 && r.software.accuracy <= 1.5 / classes)
    r.warnings.push_back(fmt::format(
        "the software accuracy {:.2f}% is at chance level ({:.2f}% for {} classes): the weights are probably not "
        "trained or not the right ones for this model, width or class count, or the input normalisation is wrong",
        100.0 * r.software.accuracy, 100.0 / classes, classes));

  nlohmann::json layer_reports = nlohmann::json::array();
  TileStats total;
  for (LayerEffective& e : r.layers) {
    layer_reports.push_back(layer_json(e));
    layer_reports.back()["scale_source"] = scale_sources.at(e.layer);
    layer_reports.back().update(scale_and_share_json(e));
    total.nf_sum += e.stats.nf_sum;
    total.nf_columns += e.stats.nf_columns;
    total.nf_max = std::max(total.nf_max, e.stats.nf_max);
    total.low_devices += e.stats.low_devices;
    total.devices += e.stats.devices;
    e.w_eff.clear();
    e.w_eff.shrink_to_fit();
  }
  seconds["total"] = seconds_since(t_start);
  const nn::VggConfig& mc = model.config();
  nlohmann::json& j = r.report;
  j["sparsexbar"] = {{"version", version()}, {"git", git_revision()}};
  j["model"] = {{"model", mc.model}, {"width", mc.width}, {"classes", mc.classes}, {"weights", options.model_source}};
  j["data"] = {{"source", options.data_source.empty() ? data.source : options.data_source},
               {"split", "test"},
               {"images", r.software.images}};
  j["crossbar"] = xbar.to_json();
  j["layout"] = {{"method", layout.method}, {"tile_rows", layout.tile_rows}, {"tile_cols", layout.tile_cols}};
  j["backend"] = {{"solver", to_string(backend)}, {"solver_device", describe(backend)},
                  {"network", model.backend().name()}, {"network_device", model.backend().describe()},
                  {"sparse_path", to_string(options.sparse)}, {"sparse_layers", sparse_layers}};
  j["seeds"] = {{"variation", xbar.seed}};
  j["accuracy"] = {{"software", r.software.accuracy},
                   {"ideal", r.ideal.accuracy},
                   {"nonideal", r.nonideal.accuracy},
                   {"loss", r.software.accuracy - r.nonideal.accuracy}};
  j["cross_entropy"] = {{"software", r.software.loss}, {"ideal", r.ideal.loss}, {"nonideal", r.nonideal.loss}};
  j["crossbars"] = r.crossbars;
  j["reference_crossbars"] = options.reference_crossbars;
  j["ccr"] = options.reference_crossbars > 0 ? nlohmann::json(static_cast<double>(options.reference_crossbars) /
                                                              static_cast<double>(r.crossbars))
                                             : nlohmann::json(nullptr);
  j["clipped"] = clipped;
  j["wct"] = options.wct ? nlohmann::json{{"kappa", options.wct->kappa},
                                          {"file", options.wct->file},
                                          {"origin", options.wct->origin},
                                          {"scales_used", xbar.scale == 0.0}}
                         : nlohmann::json(nullptr);
  j["nf"] = {{"mean", total.nf_columns ? total.nf_sum / total.nf_columns : 0.0}, {"max", total.nf_max}};
  j["low_conductance_share"] = total.devices ? static_cast<double>(total.low_devices) / total.devices : 0.0;
  j["layers"] = layer_reports;
  j["rearrangement"] = rearrangement;
  j["cache"] = {{"hit", r.cache_hit}, {"file", cache_file}};
  j["schedule"] = {{"tiles", sched.tiles},
                   {"batches", sched.batches},
                   {"program_seconds", sched.program_seconds},
                   {"solve_seconds", sched.solve_seconds},
                   {"assemble_seconds", sched.assemble_seconds}};
  j["seconds"] = seconds;
  j["warnings"] = r.warnings;
  return r;
}

namespace {

// The mapping scale of every layer and where it came from (engine/crossbar/wct.h), a
// few layers per line.
std::string mapping_scale_lines(const nlohmann::json& j) {
  const auto& layers = j.at("layers");
  std::string source, s;
  int on_line = 0;
  for (const auto& l : layers) {
    const std::string from = l.value("scale_source", std::string(kScaleFromMaxAbs));
    if (from == source && on_line == 6) {
      s += "\n";
      on_line = 0;
    }
    if (from != source) {
      source = from;
      on_line = 0;
      s += from == kScaleFromWct
               ? fmt::format("\nmapping scale s = s_ref of weight-constrained training (kappa {}, __metadata__ of {}):\n",
                             j["wct"]["kappa"].get<double>(), j["wct"]["file"].get<std::string>())
           : from == kScaleFromConfig ? std::string("\nmapping scale s = the crossbar configuration's scale:\n")
                                      : std::string("\nmapping scale s = max|W| of the layer:\n");
    }
    s += fmt::format("  {} {:.4g}", l["layer"].get<std::string>(), l["scale"].get<double>());
    ++on_line;
  }
  return s + "\n";
}

}  // namespace

std::string crossbar_table(const nlohmann::json& j) {
  std::string s;
  const auto& a = j.at("accuracy");
  const auto& x = j.at("crossbar");
  s += fmt::format("{} width {} ({} classes) on {} ({} images), {} layout, tiles {} x {}\n",
                   j["model"]["model"].get<std::string>(), j["model"]["width"].get<double>(),
                   j["model"]["classes"].get<int>(), j["data"]["source"].get<std::string>(),
                   j["data"]["images"].get<std::size_t>(), j["layout"]["method"].get<std::string>(),
                   x["tile_rows"].get<int>(), x["tile_cols"].get<int>());
  s += fmt::format(
      "crossbar: R_on {} kOhm, R_off {} kOhm, r_source {} Ohm, r_sink {} Ohm, r_wire {}/{} Ohm, sigma {}, "
      "stuck {}/{}, levels {} (preset {})\n",
      x["r_on"].get<double>() / 1e3, x["r_off"].get<double>() / 1e3, x["r_source"].get<double>(),
      x["r_sink"].get<double>(), x["r_wire_row"].get<double>(), x["r_wire_col"].get<double>(),
      x["variation_sigma"].get<double>(), x["stuck_at_gmin"].get<double>(), x["stuck_at_gmax"].get<double>(),
      x["levels"].get<int>(), x["preset"].get<std::string>());
  s += fmt::format("\n{:<14} {:>6} {:>6} {:>9} {:>9} {:>9} {:>9}\n", "layer", "K", "N", "crossbars", "NF mean%",
                   "NF max%", "low-g %");
  for (const auto& l : j.at("layers"))
    s += fmt::format("{:<14} {:>6} {:>6} {:>9} {:>9.3f} {:>9.3f} {:>9.1f}\n", l["layer"].get<std::string>(),
                     l["inputs"].get<int>(), l["outputs"].get<int>(), l["crossbars"].get<long long>(),
                     100.0 * l["nf_mean"].get<double>(), 100.0 * l["nf_max"].get<double>(),
                     100.0 * l["low_conductance_share"].get<double>());
  s += fmt::format("{:<14} {:>6} {:>6} {:>9} {:>9.3f} {:>9.3f} {:>9.1f}\n", "total", "", "",
                   j["crossbars"].get<long long>(), 100.0 * j["nf"]["mean"].get<double>(),
                   100.0 * j["nf"]["max"].get<double>(), 100.0 * j["low_conductance_share"].get<double>());
  s += mapping_scale_lines(j);
  s += fmt::format("\naccuracy: software {:.2f}%  ideal crossbar {:.2f}%  non-ideal {:.2f}%  (loss {:.2f} points)\n",
                   100.0 * a["software"].get<double>(), 100.0 * a["ideal"].get<double>(),
                   100.0 * a["nonideal"].get<double>(), 100.0 * a["loss"].get<double>());
  if (!j["ccr"].is_null())
    s += fmt::format("CCR {:.2f} ({} crossbars unpruned)\n", j["ccr"].get<double>(),
                     j["reference_crossbars"].get<long long>());
  if (j.contains("rearrangement") && !j["rearrangement"].is_null()) s += rearrangement_table(j["rearrangement"]);
  s += fmt::format("time: map+solve {:.2f} s{}, total {:.2f} s; solver {}\n",
                   j["seconds"]["map_and_solve"].get<double>(), j["cache"]["hit"].get<bool>() ? " (cached)" : "",
                   j["seconds"]["total"].get<double>(), j["backend"]["solver_device"].get<std::string>());
  for (const auto& w : j.at("warnings")) s += "WARNING: " + w.get<std::string>() + "\n";
  return s;
}

std::string crossbar_predictions_csv(const CrossbarEvalResult& r, const Dataset& d) {
  const int k = r.nonideal.classes;
  std::string s = "index,label,software,nonideal";
  for (int c = 0; c < k; ++c) s += fmt::format(",logit_{}", c);
  s += "\n";
  for (std::size_t i = 0; i < r.nonideal.images; ++i) {
    s += fmt::format("{},{},{},{}", i, d.labels[i], r.software.predicted[i], r.nonideal.predicted[i]);
    for (int c = 0; c < k; ++c) s += fmt::format(",{:.9g}", r.nonideal.logits[i * k + c]);
    s += "\n";
  }
  return s;
}

long long dense_crossbars(const std::string& path, int tile_rows, int tile_cols) {
  return dense_crossbars(read_safetensors(path), path, tile_rows, tile_cols);
}

long long dense_crossbars(const SafetensorsFile& f, const std::string& path, int tile_rows, int tile_cols) {
  long long positions = 0;
  for (const auto& [name, t] : f.tensors) {
    const bool conv = name.starts_with("features.") && name.ends_with(".weight") && t.shape.size() == 4;
    if (!conv && name != "classifier.weight") continue;
    const long long n = t.shape[0], k = t.numel() / std::max<std::int64_t>(1, t.shape[0]);
    positions += ((k + tile_rows - 1) / tile_rows) * ((n + tile_cols - 1) / tile_cols);
  }
  SXB_REQUIRE(positions > 0, path + ": no conv or linear weights found (for the CCR reference)");
  return 2 * positions;
}

}  // namespace sxb
