// The tile-level product of one mapped layer on a network backend: every tile
// pair's partial sums through the DAC and ADC, added up per column (the
// definitions are engine/converters/tile_forward.h's and docs/model.md's).
// The engine's own CPU forward (engine/converters/tile_forward.cpp) is the
// reference. This header is the contract of the CUDA path
// (cuda/tile_product.cu) and of its CPU emulation (cpu/tile_product.cpp):
// the layer in flat arrays, the plan both follow (which operand each tile
// pair's GEMM reads, where its partial sums go, which sums each output
// gathers and in what order) and the per-element converter arithmetic both
// run, so the emulation checks everything of the CUDA path but the kernels'
// indexing.
//
// Per chunk of images (M = images x output pixels columns): the column
// matrix X [K, M] (im2col, or a linear layer's input transposed); the DAC in
// place (x_q, or its levels with bit-serial inputs); per plane (x_q, or one
// pulse of one sign pass) the rows of the tile pairs whose rows are not one
// run gathered; one GEMM per tile pair, Y_q [c_q, M] = W_q [c_q, r_q] A_q
// [r_q, M], batched over pairs of the same shape; then every output o adds
// its entries (pair q, column j), in the order (position, slice), as
// coefficient f_k s_j ADC(Y_q[j] / s_j). Sums are in float, in that fixed
// order, so a result does not depend on the chunking.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/nn/layers.h"

#if defined(__CUDACC__)
#define SXB_NN_HOST_DEVICE __host__ __device__
#else
#define SXB_NN_HOST_DEVICE
#endif

namespace sxb::nn {

// A mapped layer on its tile pairs, one read-out calibration.
struct TileProductLayer {
  int inputs = 0, outputs = 0;  // K, N
  int positions = 0, slices = 1;
  // Tile pair q (slice-major: slice q / positions, position q % positions)
  // holds layer rows rows[row_begin[q] .. row_begin[q + 1]) and columns
  // cols[col_begin[q] .. col_begin[q + 1]); W_eff,p transposed (used columns
  // x used rows, row-major) at w[w_begin[q]], the column scales s_j at
  // scale[col_begin[q]].
  std::vector<int> row_begin, rows, col_begin, cols;
  std::vector<std::size_t> w_begin;
  std::vector<float> w, scale;
  std::vector<double> slice_weight;  // f_k = 2^(k b) (2^b - 1) / (2^B - 1); 1 unsliced

  int pairs() const { return positions * slices; }
  int pair_rows(int q) const { return row_begin[q + 1] - row_begin[q]; }
  int pair_cols(int q) const { return col_begin[q + 1] - col_begin[q]; }
  void check() const;  // sizes and indices consistent (Error otherwise)
};

// A layer's converters for one call.
struct TileConverters {
  int dac_bits = 0, adc_bits = 0, bits_per_pulse = 0;  // 0: ideal / all bits at once
  double dac_range = 0.0;                              // r_x
  bool dac_signed = false;
  std::vector<double> adc_range;  // r_u per slice (adc_bits > 0)
};

struct TileProductCounts {
  long long reads = 0, clipped = 0;  // ADC reads and saturated reads
};

// What the CUDA path and its emulation follow (see the header comment).
struct TileProductPlan {
  int inputs = 0, outputs = 0, pairs = 0;
  // A operand of pair q: rows a_row[q] .. of the plane, or of the gathered block when a_gathered[q].
  std::vector<int> a_row;
  std::vector<std::uint8_t> a_gathered;
  std::vector<int> gather_src;  // gathered row g = plane row gather_src[g]
  std::vector<int> y_row;       // Y_q is rows y_row[q] .. y_row[q] + c_q of Y
  int y_rows = 0;
  std::vector<std::vector<int>> groups;  // pairs of one (r_q, c_q), ascending; groups by first pair
  // Output o: entries entry_begin[o] .. entry_begin[o + 1], (position, slice) ascending:
  // Y row entry_y[e], slice entry_slice[e], column scale entry_scale[e].
  std::vector<int> entry_begin, entry_y, entry_slice;
  std::vector<float> entry_scale;

  static TileProductPlan of(const TileProductLayer& layer);
  int entries() const { return static_cast<int>(entry_y.size()); }
};

// The DAC as levels: level = clip(round(x to_level), lo, top), x_q = level step.
struct DacLevels {
  double to_level = 0.0, lo = 0.0, top = 0.0, step = 0.0;
};
DacLevels dac_levels(const TileConverters& c);

// The planes of a call: 1 (x or x_q), or passes x pulses with bit-serial inputs.
struct TilePlanes {
  int count = 1, pulses = 1;
  bool bit_serial = false;
  // The coefficient plane i's digitised sums are added with (sign 2^(m p) (2^p - 1) step).
  double coefficient(int i, const TileConverters& c) const;
};
TilePlanes tile_planes(const TileConverters& c);

// Images per chunk: the chunk's scratch (column matrix, plane, gathered rows,
// partial sums, output) within `budget_floats`, at least 1; shape and batch only.
int tile_chunk_images(const TileProductPlan& plan, std::size_t pixels, int batch, bool bit_serial,
                      std::size_t budget_floats);

// Per entry of one plane: the ADC's to_level = L / (r_u s_j) and the factor
// back = coefficient f_k r_u / L s_j its level is added with; without an ADC
// to_level = 0 and back = coefficient f_k.
void tile_entry_factors(const TileProductPlan& plan, const TileProductLayer& layer, const TileConverters& c,
                        double coefficient, std::vector<double>& to_level, std::vector<float>& back);

// round(t), half away from zero (as std::round), on host and device.
SXB_NN_HOST_DEVICE inline double round_half_away_from_zero(double t) {
  const double r = trunc(t), f = t - r;
  return r + (f >= 0.5 ? 1.0 : 0.0) - (f <= -0.5 ? 1.0 : 0.0);
}

SXB_NN_HOST_DEVICE inline double clip_to(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

// x's DAC level (as_levels) or x_q.
SXB_NN_HOST_DEVICE inline float dac_value(float x, const DacLevels& d, bool as_levels) {
  const double level = clip_to(round_half_away_from_zero(x * d.to_level), d.lo, d.top);
  return static_cast<float>(as_levels ? level : level * d.step);
}

// Pulse `pulse` of the sign pass `sign` (+1, -1) of a DAC level: its digit of
// `bits` bits as a fraction of V_read.
SXB_NN_HOST_DEVICE inline float pulse_value(float level, int sign, int pulse, int bits) {
  const int mask = (1 << bits) - 1;
  const int l = sign * static_cast<int>(level);
  const int digit = ((l > 0 ? l : 0) >> (pulse * bits)) & mask;
  return digit == mask ? 1.0f : static_cast<float>(digit) * (1.0f / static_cast<float>(mask));
}

// One entry's term: the ADC level of y (clip(round(y to_level), -top, top))
// times back; `clipped` when it saturated. top = 0: no ADC, back y.
SXB_NN_HOST_DEVICE inline float adc_term(float y, double to_level, double top, float back, bool& clipped) {
  if (top == 0.0) {
    clipped = false;
    return back * y;
  }
  const double level = round_half_away_from_zero(static_cast<double>(y) * to_level);
  const double c = clip_to(level, -top, top);
  clipped = c != level;
  return static_cast<float>(c) * back;
}

// ADC top level L = 2^(bits-1) - 1, 0 without an ADC.
inline double adc_top_level(int adc_bits) { return adc_bits > 0 ? static_cast<double>((1 << (adc_bits - 1)) - 1) : 0.0; }

namespace cpu {

// The CUDA path's algorithm on the host, step for step (the plan, the chunks,
// one SGEMM per tile pair, the entry sums): x [N, C, H, W] (conv set) or
// [N, K], y [N, outputs, Ho, Wo] or [N, outputs], bias may be null; chunks
// within `budget_floats` of scratch (the GPU's is 2^26).
TileProductCounts tile_product_emulated(const TileProductLayer& layer, const TileConverters& c,
                                        const Conv2dShape* conv, int batch, const float* x, const float* bias,
                                        float* y, std::size_t budget_floats = std::size_t{1} << 22);

}  // namespace cpu
}  // namespace sxb::nn
