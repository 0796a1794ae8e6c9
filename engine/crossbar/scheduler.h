// The host-side scheduler: gathers every tile of every mapped layer
// (the positive and the negative array of each position), programs them,
// solves them in as few large batches as the memory budget allows on the
// chosen backend, and assembles each layer's effective weight matrix W_eff
// with per-layer NF and low-conductance statistics.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "engine/crossbar/backend.h"
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

struct LayerEffective {
  std::string layer;
  int inputs = 0, outputs = 0;
  std::size_t positions = 0;  // tile positions (crossbars = 2 x positions)
  long long clipped = 0;      // weights with |w| > s
  double scale = 0.0;         // the layer's scale s (MappedLayer::scale)
  TileStats stats;
  // Share of a tile pair's devices (all R x C cells of both arrays) at or above
  // (G_min + G_max) / 2, over the layer's tiles; the layer's share is
  // 1 - stats.low_devices / stats.devices (= the tiles' mean).
  MinMeanMax tile_high_share;
  MinMeanMax column_scale;    // the scale s_j of every used tile column, over the layer
  std::vector<float> w_eff;   // K x N
};

struct SchedulerOptions {
  Backend backend = Backend::Cpu;  // resolved
  // Host bytes for the conductances and transfer matrices of one batch; 0:
  // a quarter of the available memory, at most 4 GiB.
  std::size_t max_batch_bytes = 0;
  // Ideal crossbar: zero parasitic resistances and ideal devices, so
  // G_eff = g exactly (no solve).
  bool ideal = false;
  std::function<void(std::size_t done, std::size_t total)> progress;
};

struct ScheduleStats {
  std::size_t tiles = 0, batches = 0;
  double program_seconds = 0.0, solve_seconds = 0.0, assemble_seconds = 0.0;
};

// A batch of `pairs` positive/negative tile pairs (tile 2k and 2k + 1) of
// R x C cells with the configuration's resistances; conductances sized, unset.
TileBatch pair_batch(std::size_t pairs, int R, int C, const CrossbarConfig& config);

// One LayerEffective per layout layer, in layout order. Every layout layer
// must have a MappedLayer of the same name and shape (an Error otherwise).
std::vector<LayerEffective> effective_weights(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                              const CrossbarConfig& config, const SchedulerOptions& options,
                                              ScheduleStats* stats = nullptr);

// The report's per-layer mapping statistics: "high_conductance_share" (the
// layer's), "tile_high_share" and "column_scale" ({"min", "mean", "max"}).
nlohmann::json scale_and_share_json(const LayerEffective& e);

}  // namespace sxb
