// The tile-level forward of one mapped layer: every tile pair's partial sums
// through the converters, added up per column (docs/model.md, "Peripheral
// converters").
//
// For each input column x (an im2col vector of a conv layer, a linear
// layer's input): the DAC quantises x (dac_bits > 0); tile pair p (slice k)
// computes y_p[j] = sum_i x_q[rows_p[i]] W_eff,p[i][j]; the ADC digitises
// u = y_p[j] / s_j and the digital side multiplies by s_j again and by the
// slice's weight f_k = 2^(k b) (2^b - 1) / (2^B - 1) (1 unsliced), so
// o[cols_p[j]] = sum_p f_k s_j ADC_k(y_p[j] / s_j). With bit-serial inputs the
// DAC levels are fed as pulses of input_bits_per_pulse bits (a positive and a
// negative pass for signed inputs), each pulse's partial sums digitised and
// shift-added.
//
// On the CPU: images in chunks (their count follows the layer shape and the
// batch only), chunks in parallel, one SGEMM per tile pair over the chunk's
// column matrix and the quantisation applied as each product is added into
// the output, so the result does not depend on the thread count.
#pragma once

#include <string>
#include <vector>

#include "engine/converters/quantisers.h"
#include "engine/crossbar/crossbar_config.h"
#include "engine/crossbar/layer_layout.h"
#include "engine/crossbar/scheduler.h"
#include "kernels/nn/layers.h"
#include "kernels/nn/tile_product.h"

namespace sxb {

// The converter keys of a crossbar configuration (defaults: CrossbarConfig's).
struct ConverterSettings {
  int dac_bits = 0, adc_bits = 0, input_bits_per_pulse = 0;  // 0: off, as in CrossbarConfig
  double adc_range_percentile = CrossbarConfig{}.adc_range_percentile;
  int range_images = CrossbarConfig{}.range_images;

  static ConverterSettings of(const CrossbarConfig& c);
};

// One tile pair of a layer: its rows and columns of the layer matrix, W_eff,p
// transposed (used columns x used rows) and the column scales s_j.
struct TilePair {
  std::vector<int> rows, cols;
  int first_row = -1;  // rows are first_row, first_row + 1, ...; -1 otherwise
  std::vector<float> w, scale;
};

// A mapped layer on its tiles, for one read-out calibration.
struct TileLayer {
  std::string layer;
  int inputs = 0, outputs = 0;  // K, N
  std::size_t positions = 0;
  int slices = 1;
  std::vector<double> slice_weight;  // f_k
  std::vector<TilePair> pairs;       // slice-major: slice k * positions + tile

  // From a LayerEffective with pair weights of one calibration (select_calibration).
  static TileLayer of(const LayerEffective& e, const LayerLayout& layout, const CrossbarConfig& config);
};

// A layer's converter ranges: the DAC's, and the ADC's per slice.
struct LayerRanges {
  DacRange dac;
  std::vector<double> adc;  // r_u per slice
};

// What the ADC did over a forward: reads and saturated reads.
struct AdcCounts {
  long long reads = 0, clipped = 0;
};

// The input of one forward call: a conv layer (conv set) or a linear layer.
struct LayerInput {
  const float* x = nullptr;  // [N, C, H, W] or [N, K], host
  int batch = 0;
  const nn::Conv2dShape* conv = nullptr;
};

// Writes y ([N, outputs, Ho, Wo] or [N, outputs], host) = the tile-level
// output plus `bias` (may be null), counting the ADC's reads into `counts`.
// With `collect` (one per slice), the ADC is ideal and every |u| is added to
// the slice's collector instead, and y is not written.
void tile_layer_forward(const TileLayer& layer, const ConverterSettings& s, const LayerRanges& ranges,
                        const LayerInput& in, const float* bias, float* y, AdcCounts* counts,
                        std::vector<AbsPercentile>* collect = nullptr);

// The layer and one call's converters in the network kernels' flat form
// (kernels/nn/tile_product.h: the CUDA path and its CPU emulation).
nn::TileProductLayer flat_tile_layer(const TileLayer& layer);
nn::TileConverters tile_converters(const ConverterSettings& s, const LayerRanges& ranges);

}  // namespace sxb
