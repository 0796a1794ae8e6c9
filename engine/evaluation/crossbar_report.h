// The result of a crossbar evaluation as a typed report: what was evaluated
// (model, data, crossbar configuration, layout, devices), the accuracies of the
// software model, the ideal and the non-ideal crossbar, per-layer physics,
// crossbar counts, timings and warnings. The JSON form (to_json, schema in
// docs/cli.md), the table, the CSV and the demo summary
// (engine/evaluation/crossbar_render.h) are renderings of it.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/converters/converter_network.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/calibration.h"
#include "engine/crossbar/mapping.h"
#include "engine/crossbar/mapping_scale.h"
#include "engine/crossbar/scheduler.h"
#include "engine/evaluation/tile_heatmap.h"

namespace sxb {

struct AccuracyLoss {
  double accuracy = 0.0;  // correct / images
  double loss = 0.0;      // mean cross-entropy
};

struct LayerReport {
  std::string layer;
  int inputs = 0, outputs = 0;  // K, N
  std::size_t positions = 0;    // tile positions (crossbars = 2 x positions x slices)
  long long clipped = 0;
  double scale = 0.0;
  std::string scale_source;  // kScaleFrom* of engine/crossbar/wct.h
  double nf_mean = 0.0, nf_max = 0.0;
  double low_conductance_share = 0.0;  // devices below (G_min + G_max) / 2
  double high_conductance_share = 0.0;  // devices at or above (G_min + G_max) / 2
  MinMeanMax tile_high_share;           // the same share per tile pair, over the layer's tiles
  MinMeanMax column_scale;              // mapping scale s_j of every used tile column
  double gain_mean = 1.0, gain_min = 1.0, gain_max = 1.0;  // column gains, both arrays, used columns
  std::optional<NfBySource> nf_by_source;                   // when the evaluation asked for it
  // The tile-level forward's DAC and ADC ranges and ADC clipping on the test
  // set (the first read-out variant); only with a converter or slicing key.
  std::optional<LayerConverters> converters;
  int slices = 1;  // tile pairs per position (weight bit slicing)
};

// One read-out of the same solved tiles: a calibration, with or without
// batch-norm re-estimation.
struct VariantReport {
  Calibration calibration = Calibration::None;
  std::size_t bn_images = 0;  // 0: the model's own batch-norm statistics
  AccuracyLoss result;
  nlohmann::json bn;  // engine/evaluation/bn_reestimation.h to_json; null without
  std::vector<LayerConverters> converters;  // per layer, with the tile-level forward

  std::string name() const;  // "column", "column + BN re-estimation (512 images)"
  // Its column in tables and prediction files: "nonideal_column", "nonideal_column_bn".
  std::string column() const;
};

struct WctReport {
  double kappa = 0.0;
  std::string file, origin;
  bool scales_used = false;  // false when the configuration's scale replaced s_ref
};

struct CrossbarReport {
  // What was evaluated.
  std::string model, weights;
  double width = 0.0;
  int classes = 0;
  std::string data_source;
  std::size_t images = 0;
  CrossbarConfig crossbar;
  std::string layout_method;
  int tile_rows = 0, tile_cols = 0;
  std::string solver, solver_device, network, network_device, sparse_path;
  std::vector<std::string> sparse_layers;  // layers run as CSR products
  // Results.
  AccuracyLoss software, ideal, nonideal;  // nonideal: the first calibration, own batch-norm statistics
  std::vector<VariantReport> variants;      // every read-out variant (empty: only `nonideal`)
  long long crossbars = 0, reference_crossbars = 0;  // reference 0: no CCR
  long long clipped = 0;
  std::optional<WctReport> wct;
  double nf_mean = 0.0, nf_max = 0.0, low_conductance_share = 0.0;
  std::vector<LayerReport> layers;
  nlohmann::json rearrangement;  // engine/rearrangement/rearrange.h; null without one
  bool cache_hit = false;
  std::string cache_file;
  ScheduleStats schedule;
  std::map<std::string, double> seconds;  // per stage and "total"
  std::vector<std::string> warnings;
  // Tile heat maps (engine/evaluation/tile_heatmap.h), only when asked; with a
  // rearrangement `heatmaps_before` holds the same layers as given.
  std::vector<LayerHeatmap> heatmaps, heatmaps_before;

  // reference_crossbars / crossbars, when there is a reference.
  std::optional<double> ccr() const;
};

nlohmann::json to_json(const CrossbarReport& r);

}  // namespace sxb
