// Mapping a layer onto differential crossbar tiles.
//
// Layer matrix: a conv weight [N, C_in, k, k] or a linear weight [N, K] (host
// memory, PyTorch layout) becomes W, K x N row-major, W[k][n] = weight[n][k]
// with k ordered (c_in, ky, kx) as PyTorch's weight.view(N, -1).
//
// Differential pair with scale s (one per layer, or per tile column: the
// scale mode of engine/crossbar/mapping_scale.h):
//   g+ = G_min + (G_max - G_min) * max(w, 0) / s,  g- = ... max(-w, 0) / s,
// |w| > s clipped to s (and counted). Then, when enabled, in this order:
// quantisation to `levels` equally spaced conductances in [G_min, G_max];
// device-to-device variation g <- g (1 + sigma z), z ~ N(0, 1), clamped to
// [clamp_low G_min, clamp_high G_max]; stuck-at faults (a device is stuck at
// G_min with probability p_min, else at G_max with probability p_max).
// Every draw is a counter-based function of (seed, layer name, tile index,
// polarity, cell), so it does not depend on backend, batching or threads.
//
// Effective weights: W_eff = (G_eff+ - G_eff-) * s / (G_max - G_min), with
// G_eff = T^T of each tile and s the scale of the tile column, added into
// W_eff[rows[i]][cols[j]].
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/crossbar/layer_layout.h"

namespace sxb {

std::vector<float> layer_matrix(const float* weight, int outputs, int inputs);
void weight_from_layer_matrix(const float* matrix, int outputs, int inputs, float* weight);

// The device defaults (docs/model.md), defined here only: R_on, R_off and the read voltage.
inline constexpr double kDefaultROn = 20e3;    // ohm
inline constexpr double kDefaultROff = 200e3;  // ohm
inline constexpr double kDefaultVRead = 0.3;   // V

struct DeviceModel {
  double g_min = 1.0 / kDefaultROff, g_max = 1.0 / kDefaultROn;  // S
  int levels = 0;                                  // 0: continuous; else >= 2
  double sigma = 0.0;                              // relative device-to-device variation
  double clamp_low = 0.5, clamp_high = 1.5;        // variation clamp: [clamp_low G_min, clamp_high G_max]
  double stuck_min = 0.0, stuck_max = 0.0;         // fault rates
  std::uint64_t seed = 1;

  bool ideal() const { return levels == 0 && sigma == 0.0 && stuck_min == 0.0 && stuck_max == 0.0; }
};

// max |w| (0 for an all-zero matrix).
double max_abs(const std::vector<float>& matrix);

// Conductances of the tile `tile_index` of `layer` (placement p, geometry
// R x C), written to g_pos and g_neg (R x C row-major each); returns the
// number of clipped weights. `matrix` is K x N with N = outputs. With
// `devices.ideal()` and no clipping, no draws are made.
long long program_tile(const std::vector<float>& matrix, int outputs, const std::string& layer, std::size_t tile_index,
                       const TilePlacement& p, int tile_rows, int tile_cols, double scale,
                       const DeviceModel& devices, double* g_pos, double* g_neg);
// The same with a scale per used tile column: column_scales[j] > 0 for
// j < p.cols.size() (engine/crossbar/mapping_scale.h); with every entry equal
// to s it is the one-scale form bit for bit.
long long program_tile(const std::vector<float>& matrix, int outputs, const std::string& layer, std::size_t tile_index,
                       const TilePlacement& p, int tile_rows, int tile_cols, const std::vector<double>& column_scales,
                       const DeviceModel& devices, double* g_pos, double* g_neg);

// Weight bit slicing. A weight w of column scale s_j has the magnitude level
// q = round(min(|w|, s_j) / s_j (2^B - 1)) (B = weight_bits, rounding half
// away from zero); slice k (0: least significant) holds the digit
// d_k = (q >> k b) & (2^b - 1) (b = cell_bits) on its own tile pair, programmed
// g = G_min + (G_max - G_min) d_k / (2^b - 1) in the array of w's sign (G_min
// in the other). Slice k's draws are those of tile index tile + k positions.
struct WeightSlice {
  int weight_bits = 0, cell_bits = 0, slice = 0;
};
long long weight_level(double w, double scale, int weight_bits);  // q
int slice_digit(long long level, int slice, int cell_bits);       // d_k
// program_tile for slice `slice.slice`; the clipped weights are counted on slice 0 only.
long long program_tile_slice(const std::vector<float>& matrix, int outputs, const std::string& layer,
                             std::size_t tile_index, std::size_t positions, const TilePlacement& p, int tile_rows,
                             int tile_cols, const std::vector<double>& column_scales, const WeightSlice& slice,
                             const DeviceModel& devices, double* g_pos, double* g_neg);

// Adds the tile's effective weights into w_eff (K x N, double):
// w_eff[rows[i]][cols[j]] += (T+[j][i] - T-[j][i]) * scale / (G_max - G_min),
// T+- the C x R transfer matrices of the pair (row-major).
void add_effective_weights(const TilePlacement& p, int tile_rows, const double* t_pos, const double* t_neg,
                           double factor, int outputs, double* w_eff);
// The same with a factor per used tile column (s_j / (G_max - G_min)).
void add_effective_weights(const TilePlacement& p, int tile_rows, const double* t_pos, const double* t_neg,
                           const std::vector<double>& column_factors, int outputs, double* w_eff);

// Per-tile physics of a programmed pair, over the used rows (driven at
// V_read) and used columns: NF of every used column of both arrays and the
// share of devices (all R x C cells of both arrays) below (G_min + G_max) / 2;
// the high-conductance share is 1 - low_devices / devices.
struct TileStats {
  double nf_sum = 0.0, nf_max = 0.0;
  long long nf_columns = 0;
  long long low_devices = 0, devices = 0;
};
void accumulate_tile_stats(const TilePlacement& p, int tile_rows, int tile_cols, const double* g_pos,
                           const double* g_neg, const double* t_pos, const double* t_neg, double g_threshold,
                           TileStats& stats);

// NF of the all-V_read read (mean and max over used columns of both arrays).
struct NfStats {
  double sum = 0.0, max = 0.0;  // max starts at 0, as TileStats::nf_max
  long long columns = 0;

  double mean() const { return columns ? sum / static_cast<double>(columns) : 0.0; }
};
// Adds the NF of every used column of both arrays of a pair (the NF of
// accumulate_tile_stats, summed in the same order).
void accumulate_nf(const TilePlacement& p, int tile_rows, int tile_cols, const double* g_pos, const double* g_neg,
                   const double* t_pos, const double* t_neg, NfStats& stats);
// Adds `columns` columns of NF 0 (a read with no parasitic resistance).
void accumulate_zero_nf(long long columns, NfStats& stats);

// NF of the same programmed tiles solved with all resistances (full), with
// only r_source, only r_sink, and only the wires (r_wire_row, r_wire_col), the
// others at zero.
struct NfBySource {
  NfStats full, source, sink, wires;
};

}  // namespace sxb
