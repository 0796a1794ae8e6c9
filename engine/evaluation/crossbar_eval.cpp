#include "engine/evaluation/crossbar_eval.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "engine/evaluation/sparse_forward.h"
#include "engine/crossbar/mapping.h"
#include "engine/crossbar/mapping_scale.h"
#include "engine/crossbar/weff_cache.h"
#include "engine/evaluation/readout_variants.h"
#include "kernels/common/error.h"
#include "engine/evaluation/crossbar_report.h"
#include "engine/io/json_file.h"
#include "engine/io/version.h"
#include "engine/io/stopwatch.h"

namespace sxb {

namespace {

// The W_eff of every layer of `layout`: from `cache` when it holds them
// (`hit` set), else solved on `backend` with progress lines and stored there.
// A cache entry not used or not written is a line on `warn`.
std::vector<LayerEffective> solved_or_cached(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                             const CrossbarConfig& xbar, SchedulerOptions so,
                                             const std::optional<WeffCacheEntry>& cache,
                                             const std::function<void(const std::string&)>& log,
                                             const CacheWarning& warn, bool& hit, ScheduleStats* stats = nullptr) {
  hit = false;
  if (cache)
    if (auto cached = load_weff_cache(*cache, layout, requested_calibrations(so, xbar), warn)) {
      hit = true;
      log("effective weights from the cache: " + cache->path);
      return std::move(*cached);
    }
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t tiles = 0;
  for (const LayerLayout& l : layout.layers) tiles += 2 * l.tiles.size();
  log(fmt::format("solving {} tiles of {} x {} on {}", tiles, layout.tile_rows, layout.tile_cols, to_string(so.backend)));
  so.progress = [&](std::size_t done, std::size_t total) {
    log(fmt::format("  tile positions {}/{} ({:.1f} s)", done, total, seconds_since(t0)));
  };
  std::vector<LayerEffective> solved = effective_weights(layers, layout, xbar, so, stats);
  if (cache) store_weff_cache(*cache, solved, warn);
  return solved;
}

}  // namespace

namespace {

std::size_t disagreements(const EvalResult& a, const EvalResult& b) {
  std::size_t n = 0;
  for (std::size_t k = 0; k < a.predicted.size() && k < b.predicted.size(); ++k) n += a.predicted[k] != b.predicted[k];
  return n;
}

AccuracyLoss summary(const EvalResult& r) { return {r.accuracy, r.loss}; }

VariantReport variant_report(const ReadoutVariant& v) {
  VariantReport out{v.calibration, v.bn_images, summary(v.result), nlohmann::json(nullptr), v.converters};
  if (v.bn) out.bn = to_json(*v.bn);
  return out;
}

}  // namespace

namespace {

using Log = std::function<void(const std::string&)>;

// The network as mapped onto tiles: layer matrices with their mapping scales,
// the layout that is evaluated and, with a rearrangement, the layout as given.
struct MappedNetwork {
  std::vector<MappedLayer> layers;
  std::map<std::string, std::string> scale_sources;  // layer -> kScaleFrom*
  NetworkLayout layout;
  NetworkLayout unarranged;  // with a rearrangement: the layout as given
  Rearrangement arranged;
};

// Stage 1 and 2: layer matrices, scales and layout; the rearrangement when asked.
MappedNetwork map_network(nn::Vgg& model, const CrossbarEvalOptions& o, Backend backend, const Log& log) {
  const CrossbarConfig& xbar = o.crossbar;
  MappedNetwork net;
  net.layers = mapped_layers(model);
  net.scale_sources = assign_mapping_scales(net.layers, xbar, o.wct);
  net.layout = o.layout ? *o.layout : dense_network_layout(net.layers, xbar.tile_rows, xbar.tile_cols);
  if (o.layout)
    SXB_REQUIRE(net.layout.tile_rows == xbar.tile_rows && net.layout.tile_cols == xbar.tile_cols,
                fmt::format("the layout is for {} x {} tiles but the crossbar configuration asks for {} x {}",
                            net.layout.tile_rows, net.layout.tile_cols, xbar.tile_rows, xbar.tile_cols));
  net.layout.check("layout");
  if (o.rearrange.policy != RearrangePolicy::None) {
    RearrangeOptions ro = o.rearrange;
    ro.backend = backend;
    log(fmt::format("column rearrangement '{}'", to_string(ro.policy)));
    net.arranged = rearrange(net.layers, net.layout, xbar, ro);
    net.unarranged = std::exchange(net.layout, net.arranged.layout);
  }
  return net;
}

std::optional<WeffCacheEntry> cache_entry_for(const MappedNetwork& net, const NetworkLayout& layout,
                                              const CrossbarEvalOptions& o, const SchedulerOptions& so,
                                              bool rearranged) {
  // The tile-level forward needs every pair's weights, which the cache does not hold.
  if (o.cache_dir.empty() || o.crossbar.tile_level()) return std::nullopt;
  // A rearrangement that keeps the layout as given shares the plain entry.
  const bool moved = rearranged && !rearranged_cache_key("", o.rearrange).empty();
  return weff_cache_entry(o.cache_dir, weff_cache_identity(net.layers, layout, o.crossbar, so,
                                                           moved ? o.rearrange.to_json() : nlohmann::json(nullptr)));
}

// The layers whose weights span more than kSuspectWeightSpan (a damaged
// weights file), one warning each.
std::vector<std::string> span_warnings(const std::vector<MappedLayer>& layers, const std::string& source) {
  std::vector<std::string> warnings;
  for (const MappedLayer& l : layers)
    if (const double span = weight_span(l.matrix); span > kSuspectWeightSpan)
      warnings.push_back(fmt::format(
          "{}: layer {}'s max |W| {:.4g} is {:.3g} times its median nonzero |W| {:.4g}: the weights look damaged "
          "(trained layers span a few hundred at most), and with one mapping scale per layer the other weights "
          "use less than a millionth of the conductance window",
          source.empty() ? std::string("the model") : source, l.layer, max_abs(l.matrix), span,
          percentile_abs(l.matrix, 50.0)));
  return warnings;
}

// Warnings when the run looks wrong: the ideal crossbar must equal the
// software model unless weights were clipped or span too much (`spans`,
// already warned about); a configuration scale that overrides WCT scales;
// software accuracy at chance level.
std::vector<std::string> self_checks(const CrossbarEvalResult& r, long long clipped, const CrossbarEvalOptions& o,
                                     int classes, std::vector<std::string> spans) {
  std::vector<std::string> warnings = std::move(spans);
  const bool damaged = !warnings.empty();
  const double scale = o.crossbar.scale;
  if (r.ideal.correct != r.software.correct || disagreements(r.ideal, r.software) > 0)
    warnings.push_back(
        clipped > 0
            ? fmt::format("the ideal crossbar disagrees with the software model on {} images: {} weights were clipped "
                          "because the mapping scale is below max |W| ({})",
                          disagreements(r.ideal, r.software), clipped,
                          scale > 0.0 ? fmt::format("the configuration's scale {}", scale)
                                      : fmt::format("scale_mode {}, scale_percentile {}", to_string(o.crossbar.scale_mode),
                                                    o.crossbar.scale_percentile))
            : fmt::format("the ideal crossbar disagrees with the software model on {} images although nothing was "
                          "clipped: {}",
                          disagreements(r.ideal, r.software),
                          damaged ? "the weights span more than the conductance window resolves (see above)"
                                  : "the mapping is wrong (please report this)"));
  if (o.wct && scale > 0.0 && o.crossbar.scale_mode == ScaleMode::LayerMax)
    warnings.push_back(fmt::format(
        "the crossbar configuration's scale {} replaces the weight-constrained training scales s_ref of {} (kappa {}): "
        "conductances are no longer limited to [G_min, G_min + kappa (G_max - G_min)]",
        scale, o.wct->file, o.wct->kappa));
  if (o.wct && o.crossbar.scale_mode != ScaleMode::LayerMax)
    warnings.push_back(fmt::format(
        "crossbar.scale_mode {} replaces the weight-constrained training scales s_ref of {} (kappa {}): "
        "conductances are no longer limited to [G_min, G_min + kappa (G_max - G_min)]",
        to_string(o.crossbar.scale_mode), o.wct->file, o.wct->kappa));
  if (classes > 1 && r.software.accuracy <= 1.5 / classes)
    warnings.push_back(fmt::format(
        "the software accuracy {:.2f}% is at chance level ({:.2f}% for {} classes): the weights are probably not "
        "trained or not the right ones for this model, width or class count, or the input normalisation is wrong",
        100.0 * r.software.accuracy, 100.0 / classes, classes));
  return warnings;
}

// The per-layer rows and network totals of the report; clears every w_eff.
void layer_reports(std::vector<LayerEffective>& layers, const std::map<std::string, std::string>& scale_sources,
                   const std::vector<LayerConverters>& converters, CrossbarReport& rep) {
  TileStats total;
  for (std::size_t k = 0; k < layers.size(); ++k) {
    LayerEffective& e = layers[k];
    const TileStats& s = e.stats;
    LayerReport l;
    l.layer = e.layer, l.inputs = e.inputs, l.outputs = e.outputs, l.positions = e.positions;
    l.clipped = e.clipped, l.scale = e.scale, l.scale_source = scale_sources.at(e.layer);
    l.nf_mean = s.nf_columns ? s.nf_sum / s.nf_columns : 0.0, l.nf_max = s.nf_max;
    l.low_conductance_share = s.devices ? static_cast<double>(s.low_devices) / s.devices : 0.0;
    l.high_conductance_share = s.devices ? static_cast<double>(s.devices - s.low_devices) / s.devices : 0.0;
    l.tile_high_share = e.tile_high_share;
    l.column_scale = e.column_scale;
    l.gain_mean = e.gains.mean();
    l.gain_min = e.gains.min;
    l.gain_max = e.gains.max;
    l.nf_by_source = e.nf_by_source;
    l.slices = e.slices;
    if (k < converters.size()) l.converters = converters[k];
    rep.layers.push_back(std::move(l));
    total.nf_sum += s.nf_sum;
    total.nf_columns += s.nf_columns;
    total.nf_max = std::max(total.nf_max, s.nf_max);
    total.low_devices += s.low_devices;
    total.devices += s.devices;
    e.w_eff.clear();
    e.w_eff.shrink_to_fit();
    e.other_variants.clear();
    e.pairs.clear();
    e.pairs.shrink_to_fit();
  }
  rep.nf_mean = total.nf_columns ? total.nf_sum / total.nf_columns : 0.0;
  rep.nf_max = total.nf_max;
  rep.low_conductance_share = total.devices ? static_cast<double>(total.low_devices) / total.devices : 0.0;
}

// What was evaluated, on which devices.
void describe_run(nn::Vgg& model, const Dataset& data, const CrossbarEvalOptions& o, const NetworkLayout& layout,
                  Backend backend, CrossbarReport& rep) {
  const nn::VggConfig& mc = model.config();
  rep.model = mc.model;
  rep.width = mc.width;
  rep.classes = mc.classes;
  rep.weights = o.model_source;
  rep.data_source = o.data_source.empty() ? data.source : o.data_source;
  rep.crossbar = o.crossbar;
  rep.layout_method = layout.method;
  rep.tile_rows = layout.tile_rows;
  rep.tile_cols = layout.tile_cols;
  rep.solver = to_string(backend);
  rep.solver_device = describe(backend);
  rep.network = model.backend().name();
  rep.network_device = model.backend().describe();
  rep.sparse_path = to_string(o.sparse);
  rep.reference_crossbars = o.reference_crossbars;
  if (o.wct) rep.wct = WctReport{o.wct->kappa, o.wct->file, o.wct->origin, o.crossbar.scale == 0.0 && o.crossbar.scale_mode == ScaleMode::LayerMax};
}

// One evaluation in progress: what every stage reads, and the result it fills.
struct Run {
  nn::Vgg& model;
  const Dataset& data;
  const Normalization& norm;
  const CrossbarEvalOptions& options;
  Backend backend;
  const Log& log;
  const CacheWarning& warn;
  MappedNetwork& net;
  CrossbarEvalResult& r;
};

// The software model's accuracy (given, or evaluated now); its logits must be finite.
void software_stage(Run& run, const EvalResult* software) {
  CrossbarEvalResult& r = run.r;
  const auto t0 = std::chrono::steady_clock::now();
  if (software) {
    r.software = *software;
  } else {
    run.log("evaluating the software model");
    r.software = evaluate(run.model, run.data, run.norm);
  }
  r.report.seconds["software"] = seconds_since(t0);
  // Weights so large that float arithmetic overflows (1e38) make every comparison meaningless.
  const std::size_t non_finite = static_cast<std::size_t>(
      std::count_if(r.software.logits.begin(), r.software.logits.end(), [](float v) { return !std::isfinite(v); }));
  SXB_REQUIRE(non_finite == 0,
              fmt::format("{}: the software model's outputs are not finite ({} of {} logits are inf or NaN): its "
                          "weights or batch-norm statistics overflow float arithmetic",
                          run.options.model_source.empty() ? std::string("the model") : run.options.model_source,
                          non_finite, r.software.logits.size()));
}

// The ideal crossbar: the mapping alone, with ideal converters and analog weights.
void ideal_stage(Run& run) {
  const auto t0 = std::chrono::steady_clock::now();
  SchedulerOptions ideal_options;
  ideal_options.backend = run.backend;
  ideal_options.ideal = true;
  ideal_options.calibrations = {Calibration::None};  // every gain is 1 on the ideal crossbar
  const std::vector<LayerEffective> ideal =
      effective_weights(run.net.layers, run.net.layout, run.options.crossbar.without_converters(), ideal_options);
  run.r.ideal = evaluate_with_weights(run.model, run.data, run.norm, ideal, run.options.sparse);
  for (const LayerEffective& e : ideal) run.r.report.clipped += e.clipped;
  run.r.report.seconds["ideal"] = seconds_since(t0);
}

// W_eff of every layer, solved or from the cache.
void solve_stage(Run& run) {
  const CrossbarEvalOptions& options = run.options;
  CrossbarReport& rep = run.r.report;
  const auto t0 = std::chrono::steady_clock::now();
  SchedulerOptions solve;
  solve.backend = run.backend;
  solve.calibrations = options.evaluation.calibrations;
  solve.nf_by_source = options.evaluation.nf_by_source;
  solve.pair_weights = options.crossbar.tile_level();
  const std::optional<WeffCacheEntry> cache =
      cache_entry_for(run.net, run.net.layout, options, solve, options.rearrange.policy != RearrangePolicy::None);
  rep.cache_file = cache ? cache->path : "";
  run.r.layers = solved_or_cached(run.net.layers, run.net.layout, options.crossbar, solve, cache, run.log, run.warn,
                                  rep.cache_hit, &rep.schedule);
  rep.seconds["map_and_solve"] = seconds_since(t0);
}

// The non-ideal crossbar's accuracy and every read-out variant; returns the
// converters of the tile-level forward (none without it).
std::vector<LayerConverters> nonideal_stage(Run& run, TileLevelReadout& tiles) {
  const CrossbarEvalOptions& options = run.options;
  CrossbarEvalResult& r = run.r;
  CrossbarReport& rep = r.report;
  std::vector<LayerConverters> converters;
  auto t0 = std::chrono::steady_clock::now();
  const auto add_variant = [&](const ReadoutVariant& v) {
    rep.variants.push_back(variant_report(v));
    r.variant_predicted.push_back(v.result.predicted);
  };
  if (options.crossbar.tile_level()) {
    run.log("setting the converters' ranges and evaluating the tile-level forward");
    const std::vector<ReadoutVariant> all =
        evaluate_readout_variants(run.model, run.data, run.norm, r.layers, options.evaluation.bn_recalibrate,
                                  options.bn_train, options.sparse, nullptr, &tiles);
    r.nonideal = all.front().result;
    converters = all.front().converters;
    if (all.size() > 1)
      for (const ReadoutVariant& v : all) add_variant(v);
    rep.seconds["nonideal"] = seconds_since(t0);
    return converters;
  }
  run.log("evaluating the non-ideal crossbar model");
  r.nonideal = evaluate_with_weights(run.model, run.data, run.norm, r.layers, options.sparse, &rep.sparse_layers);
  rep.seconds["nonideal"] = seconds_since(t0);
  if (r.layers.front().calibrations().size() > 1 || options.evaluation.bn_recalibrate > 0) {
    t0 = std::chrono::steady_clock::now();
    run.log("evaluating the read-out variants");
    for (const ReadoutVariant& v :
         evaluate_readout_variants(run.model, run.data, run.norm, r.layers, options.evaluation.bn_recalibrate,
                                   options.bn_train, options.sparse, &r.nonideal))
      add_variant(v);
    rep.seconds["variants"] = seconds_since(t0);
  }
  return converters;
}

// The layout before rearrangement, solved and evaluated for the comparison.
void unarranged_stage(Run& run) {
  const CrossbarEvalOptions& options = run.options;
  const CrossbarConfig& xbar = options.crossbar;
  CrossbarEvalResult& r = run.r;
  const auto t0 = std::chrono::steady_clock::now();
  run.log("solving and evaluating the layout without rearrangement, for the comparison");
  bool hit = false;
  SchedulerOptions first;  // the comparison is made on the first calibration only
  first.backend = run.backend;
  first.calibrations = {r.layers.front().calibration};
  first.pair_weights = xbar.tile_level();
  const std::vector<LayerEffective> before =
      solved_or_cached(run.net.layers, run.net.unarranged, xbar, first,
                       cache_entry_for(run.net, run.net.unarranged, options, first, false), run.log, run.warn, hit);
  TileLevelReadout unarranged{&run.net.unarranged, xbar, options.bn_train};
  const EvalResult none =
      xbar.tile_level()
          ? evaluate_readout_variants(run.model, run.data, run.norm, before, 0, nullptr, options.sparse, nullptr,
                                      &unarranged)
                .front()
                .result
          : evaluate_with_weights(run.model, run.data, run.norm, before, options.sparse);
  r.report.rearrangement = rearrangement_json(run.net.arranged, options.rearrange, run.net.layers, before, r.layers,
                                              none.accuracy, r.nonideal.accuracy);
  r.report.seconds["unarranged"] = seconds_since(t0);
}

// The tile heat maps of the report (and of the layout before rearrangement).
void heatmap_stage(Run& run) {
  const CrossbarEvalOptions& options = run.options;
  CrossbarReport& rep = run.r.report;
  const auto t0 = std::chrono::steady_clock::now();
  run.log("programming and solving the tiles of the heat maps");
  rep.heatmaps = tile_heatmaps(run.net.layers, run.net.layout, options.crossbar, run.backend, *options.heatmaps);
  if (options.rearrange.policy != RearrangePolicy::None)
    rep.heatmaps_before =
        tile_heatmaps(run.net.layers, run.net.unarranged, options.crossbar, run.backend, *options.heatmaps);
  rep.seconds["heatmaps"] = seconds_since(t0);
}

// inf or NaN would print as "inf" and be written as null: an error instead, naming the field and the settings.
void check_finite_report(const CrossbarReport& rep, const CrossbarEvalOptions& options) {
  const std::string where = first_non_finite(to_json(rep));
  if (where.empty()) return;
  const CrossbarConfig& c = options.crossbar;
  throw Error(fmt::format("the crossbar result's {} is not finite: the configuration (r_on {}, r_off {}, r_source {}, "
                          "r_sink {}, r_wire_row {}, r_wire_col {}) or the weights of {} are outside what double "
                          "precision can compute",
                          where, c.r_on, c.r_off, c.res.r_source, c.res.r_sink, c.res.r_wire_row, c.res.r_wire_col,
                          options.model_source.empty() ? std::string("the model") : options.model_source));
}

}  // namespace

CrossbarEvalResult evaluate_on_crossbars(nn::Vgg& model, const Dataset& data, const Normalization& norm,
                                         const CrossbarEvalOptions& options, const EvalResult* software) {
  const Log log = [&](const std::string& line) {
    if (options.log) options.log(line);
  };
  // Cache warnings are shown even without progress lines.
  const CacheWarning warn = [&](const std::string& line) {
    if (options.log) options.log("warning: " + line);
    else fmt::print(stderr, "warning: {}\n", line);
  };
  const auto t_start = std::chrono::steady_clock::now();
  const CrossbarConfig& xbar = options.crossbar;
  xbar.check("crossbar configuration");
  const Backend backend = resolve(options.backend);
  CrossbarEvalResult r;
  CrossbarReport& rep = r.report;

  MappedNetwork net = map_network(model, options, backend, log);
  if (options.heatmaps) check_heatmap_request(net.layout, *options.heatmaps);  // before the long stages
  rep.crossbars = net.layout.crossbars() * xbar.slices();
  // Converters or weight slicing: the tile-level forward (engine/converters/).
  SXB_REQUIRE(!xbar.tile_level() || (options.bn_train && options.bn_train->size() > 0),
              "crossbar.range_images: the converters' ranges need the training split of the data set");
  TileLevelReadout tiles{&net.layout, xbar, options.bn_train};
  if (options.rearrange.policy != RearrangePolicy::None) rep.seconds["rearrange"] = net.arranged.seconds;

  Run run{model, data, norm, options, backend, log, warn, net, r};
  software_stage(run, software);
  ideal_stage(run);
  solve_stage(run);
  const std::vector<LayerConverters> converters = nonideal_stage(run, tiles);
  if (options.rearrange.policy != RearrangePolicy::None) unarranged_stage(run);
  if (options.heatmaps) heatmap_stage(run);

  rep.warnings = self_checks(r, rep.clipped, options, model.config().classes, span_warnings(net.layers, options.model_source));
  layer_reports(r.layers, net.scale_sources, converters, rep);
  describe_run(model, data, options, net.layout, backend, rep);
  rep.images = r.software.images;
  rep.software = summary(r.software);
  rep.ideal = summary(r.ideal);
  rep.nonideal = summary(r.nonideal);
  rep.seconds["total"] = seconds_since(t_start);
  check_finite_report(rep, options);
  return r;
}

}  // namespace sxb
