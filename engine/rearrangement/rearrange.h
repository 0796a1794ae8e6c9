// Crossbar column rearrangement: a permutation of the
// columns (output neurons) that share a row-block, applied before the columns
// are placed into tiles and undone digitally. A column n keeps every weight it
// had; only the tile and the tile column that hold it change, so the ideal
// W_eff does not change, nor (except for `spread`) the tile count.
//
// Row-block: the tiles of a layer whose row maps hold the same set of rows
// (a dense row-block; an XCS row-block; cf layers are dense). Only tiles of a
// row-block can exchange columns, because a column carries its weights on
// those rows. XRS tiles of a column-block hold different surviving rows, so
// each usually forms a row-block of its own and only the order of its columns
// can change. Every tile keeps its rows and (except for `spread`) its number
// of columns.
//
// Conductances for ranking come from the ideal mapping (engine/crossbar/mapping.h:
// scale s, G_min, G_max; no quantisation, variation or faults). The column
// total of column n is sum over the row-block's rows of g+ + g-.
//
// Policies (docs/model.md, "Column rearrangement"):
//   none          the layout as given;
//   sort          within each tile, column totals decreasing from tile column
//                 0 (next to the row drivers) to C-1 (the open far end of the
//                 word lines): the largest currents cross the fewest word-line
//                 segments;
//   sort-reverse  increasing from tile column 0;
//   balance       the row-block's columns dealt to its tiles largest total
//                 first, each to the tile with the lowest total conductance so
//                 far (kept only if the largest tile total does not grow);
//                 columns in increasing index order within each tile;
//   search        greedy local search from `none` on the solved W_eff error;
//   spread        up to floor(extra x P) more tile positions for a layer of P
//                 (crossbars <= (1 + extra) x the layer's), each given to the
//                 row-block with the most columns per tile; a row-block that
//                 gets some deals its columns over its old and new tiles
//                 (sizes differing by at most one) largest total first, each to
//                 the tile with room and the lowest total conductance; new
//                 tiles are appended to the layer, so the old tiles keep their
//                 index (and device draws); extra = 0 is `none`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/crossbar/backend.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/crossbar/scheduler.h"

namespace sxb {

enum class RearrangePolicy { None, Sort, SortReverse, Balance, Search, Spread };

std::vector<std::string> rearrange_policy_names();  // none, sort, sort-reverse, balance, search, spread
// Error naming the accepted names for anything else.
RearrangePolicy parse_rearrange_policy(const std::string& name, const std::string& field = "rearrange.policy");
std::string to_string(RearrangePolicy policy);

struct RearrangeOptions {
  RearrangePolicy policy = RearrangePolicy::None;
  // search: wall-time budget for the whole network, checked between rounds.
  double budget_seconds = 60.0;
  // search: most rounds after the initial solve (3 heuristic rounds, then
  // random swaps); 0: until the budget. The result is a function of
  // (weights, layout, configuration, seed, rounds done), and the report says
  // how many rounds were done and what stopped the search.
  int rounds = 20;
  std::uint64_t seed = 1;          // search: random proposals
  Backend backend = Backend::Cpu;  // search: tile solver
  // spread: extra crossbars allowed, as a share of each layer's (0.25: up to
  // 25 % more); in [0, 100]; must be 0 for the other policies.
  double extra = 0.0;

  // {"policy", and for search "budget_seconds", "rounds", "seed", for spread "extra"}
  nlohmann::json to_json() const;
};

// The row-blocks of a layer: tile indices grouped by the set of rows they
// hold, groups in order of their first tile, tiles in layout order.
std::vector<std::vector<std::size_t>> row_blocks(const LayerLayout& layer);

// Ideal-mapping conductance of column n over `rows`: total = sum of g+ + g-,
// low = devices (of both arrays) below (G_min + G_max) / 2.
struct ColumnConductance {
  double total = 0.0;
  long long low = 0;
};
ColumnConductance column_conductance(const MappedLayer& m, const std::vector<int>& rows, int n,
                                     const DeviceModel& devices);

// Ideal-mapping totals of a programmed tile pair, all R x C cells of both
// arrays (unused cells at G_min): total conductance and low-device share.
struct TileConductance {
  double total = 0.0;
  double low_share = 0.0;
};
std::vector<TileConductance> tile_conductances(const MappedLayer& m, const LayerLayout& layer, int tile_rows,
                                               int tile_cols, const DeviceModel& devices);

// sort, sort-reverse, balance or spread (with `extra`) of one layer (none:
// unchanged). `search` is network-wide: rearrange().
LayerLayout rearrange_layer(const MappedLayer& m, const LayerLayout& layer, int tile_rows, int tile_cols,
                            const DeviceModel& devices, RearrangePolicy policy, double extra = 0.0);

// spread: the extra tile positions a layer of `positions` may use,
// floor(extra x positions) (1e-9 relative tolerance, so 0.29 x 100 is 29).
// Error naming rearrange.extra unless 0 <= extra <= 100.
long long spread_budget(std::size_t positions, double extra);
LayerLayout spread_layer(const MappedLayer& m, const LayerLayout& layer, int tile_rows, int tile_cols,
                         const DeviceModel& devices, double extra);

// The objective of `search`: per layer, sum over the tiles of
// ||W_eff - W_map||^2 (weight units squared) over the weights each tile holds,
// W_map the ideal mapping's weights (clipped to s), W_eff solved with the
// configuration's resistances and ideal devices on `backend`.
std::vector<double> weff_squared_error(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                                       const CrossbarConfig& config, Backend backend);

struct LayerRearrangement {
  std::string layer;
  std::size_t row_blocks = 0, tiles = 0;
  std::size_t moved_columns = 0;  // tile column slots that hold another output than before, or none
  long long crossbars_before = 0, crossbars_after = 0;  // 2 x tile positions
  // Per-tile low-conductance share (ideal mapping), min / mean / max over the tiles.
  double low_share_min_before = 0, low_share_mean_before = 0, low_share_max_before = 0;
  double low_share_min_after = 0, low_share_mean_after = 0, low_share_max_after = 0;
  // Largest per-tile total conductance (S), over the tiles of the layer.
  double max_tile_conductance_before = 0, max_tile_conductance_after = 0;
  // search only: the objective before and after (weight units squared); -1 otherwise.
  double objective_before = -1, objective_after = -1;
};

struct Rearrangement {
  NetworkLayout layout;
  std::vector<LayerRearrangement> layers;  // in layout order
  double seconds = 0.0;
  // search only
  int rounds = 0;
  long long proposals = 0, accepted = 0;
  std::string stopped_by;  // "rounds", "budget" or "" (not search)
};

// The rearranged layout with its statistics. Every layout layer needs a
// MappedLayer with its scale set (engine/crossbar/scheduler.h).
Rearrangement rearrange(const std::vector<MappedLayer>& layers, const NetworkLayout& layout,
                        const CrossbarConfig& config, const RearrangeOptions& options);

// The W_eff cache key of a rearranged layout: `key` itself for none (and
// spread with extra 0, which is none), else a
// hash of `key` and the policy settings (the layout in `key` already holds
// the permuted index maps; the policy is added so entries say what made them).
std::string rearranged_cache_key(const std::string& key, const RearrangeOptions& options);

// The report's "rearrangement" object (docs/cli.md): settings, search
// counters, accuracy before (policy none) and after, per layer NF before and
// after (from the solved layers), relative W_eff error ||W_eff - W|| / ||W||
// before and after, and the per-tile statistics of `r`.
nlohmann::json rearrangement_json(const Rearrangement& r, const RearrangeOptions& options,
                                  const std::vector<MappedLayer>& layers, const std::vector<LayerEffective>& before,
                                  const std::vector<LayerEffective>& after, double accuracy_before,
                                  double accuracy_after);
// Its human-readable table.
std::string rearrangement_table(const nlohmann::json& rearrangement);

}  // namespace sxb
