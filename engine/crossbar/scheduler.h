// The host-side scheduler: gathers every tile of every mapped layer
// (the positive and the negative array of each position), programs them,
// solves them in as few large batches as the memory budget allows on the
// chosen backend, and assembles each layer's effective weight matrix W_eff
// (one variant per requested read-out calibration, all from the same solve)
// with per-layer NF, column-gain and low-conductance statistics.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/crossbar/backend.h"
#include "engine/crossbar/calibration.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/crossbar/mapping.h"
#include "engine/crossbar/mapping_scale.h"

namespace sxb {

// A layer's weights as a layer matrix (engine/crossbar/mapping.h).
struct MappedLayer {
  std::string layer;
  int inputs = 0, outputs = 0;  // K, N
  std::vector<float> matrix;    // K x N
  double scale = 0.0;           // mapping scale s > 0 (see mapping_scale)
};

// The layer scale s (engine/crossbar/mapping_scale.h): config.scale when > 0,
// else the scale_percentile-th percentile of |w| for percentile, else max |W|
// (1 for an all-zero matrix). tile-max and column-max keep max |W| as the
// layer's reference scale; their tiles use their own.
double mapping_scale(const std::vector<float>& matrix, const CrossbarConfig& config);

// The effective weights of one tile pair (one slice of a position), for the
// tile-level forward (engine/converters/): W_eff,p = (T+ - T-) s_j / (G_max -
// G_min) in weight units, the read-out calibration applied, without the slice's
// digital weight.
struct PairEffective {
  std::vector<float> scale;  // s_j of every used column
  // One matrix per calibration of LayerEffective::calibrations(): used columns
  // x used rows, row-major (W_eff,p transposed: weights[c][j * rows + i]).
  std::vector<std::vector<float>> weights;
};

struct LayerEffective {
  std::string layer;
  int inputs = 0, outputs = 0;
  std::size_t positions = 0;  // tile positions (crossbars = 2 x positions x slices)
  int slices = 1;             // tile pairs per position (weight bit slicing)
  long long clipped = 0;      // weights with |w| > s
  double scale = 0.0;         // the layer's scale s (MappedLayer::scale)
  TileStats stats;
  GainStats gains;                         // column gains of both arrays, used columns
  std::optional<NfBySource> nf_by_source;  // with SchedulerOptions::nf_by_source
  // Share of a tile pair's devices (all R x C cells of both arrays) at or above
  // (G_min + G_max) / 2, over the layer's tiles; the layer's share is
  // 1 - stats.low_devices / stats.devices (= the tiles' mean).
  MinMeanMax tile_high_share;
  MinMeanMax column_scale;  // the scale s_j of every used tile column, over the layer
  Calibration calibration = Calibration::None;  // the calibration of w_eff
  std::vector<float> w_eff;                     // K x N
  // The other requested calibrations, in request order, from the same solved tiles.
  std::vector<std::pair<Calibration, std::vector<float>>> other_variants;
  // With SchedulerOptions::pair_weights: every tile pair, slice-major (pair
  // slice * positions + tile). w_eff is then the slices' digital combination.
  std::vector<PairEffective> pairs;

  // Every assembled calibration, w_eff's first.
  std::vector<Calibration> calibrations() const;
  // The W_eff of calibration c; Error when it was not assembled.
  const std::vector<float>& weights(Calibration c) const;
};

// Copies of `layers` whose w_eff (and pair weights) are their `c` variant (no other variants).
std::vector<LayerEffective> select_calibration(const std::vector<LayerEffective>& layers, Calibration c);

struct SchedulerOptions {
  Backend backend = Backend::Cpu;  // resolved
  // Host bytes for the conductances and transfer matrices of one batch; 0:
  // a quarter of the available memory, at most 4 GiB.
  std::size_t max_batch_bytes = 0;
  // Ideal crossbar: zero parasitic resistances and ideal devices, so
  // G_eff = g exactly (no solve).
  bool ideal = false;
  // Calibrations assembled from the one solve, in this order (repeats
  // dropped; LayerEffective::w_eff is the first). Empty: the configuration's.
  std::vector<Calibration> calibrations;
  // Also solve every batch with only r_source, only r_sink and only the wires
  // (up to three extra solves) for LayerEffective::nf_by_source.
  bool nf_by_source = false;
  // Keep every tile pair's effective weights (LayerEffective::pairs).
  bool pair_weights = false;
  std::function<void(std::size_t done, std::size_t total)> progress;
};

struct ScheduleStats {
  std::size_t tiles = 0, batches = 0;
  double program_seconds = 0.0, solve_seconds = 0.0, assemble_seconds = 0.0;
  double nf_source_seconds = 0.0;  // the extra solves of SchedulerOptions::nf_by_source
};

// options.calibrations without repeats, or {config.calibration} when empty.
std::vector<Calibration> requested_calibrations(const SchedulerOptions& options, const CrossbarConfig& config);

// A batch of `pairs` positive/negative tile pairs (tile 2k and 2k + 1) of
// R x C cells with the configuration's resistances; conductances sized, unset.
TileBatch pair_batch(std::size_t pairs, int R, int C, const CrossbarConfig& config);

// One LayerEffective per layout layer, in layout order. Every layout layer
// must have a MappedLayer of the same name and shape (an Error otherwise).
// With config.weight_bits > 0 every position holds config.slices() tile
// pairs (engine/crossbar/mapping.h: program_tile_slice) and W_eff is
// sum_k 2^(k b) (2^b - 1) / (2^B - 1) W_eff,k.
std::vector<LayerEffective> effective_weights(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                              const CrossbarConfig& config, const SchedulerOptions& options,
                                              ScheduleStats* stats = nullptr);

}  // namespace sxb
