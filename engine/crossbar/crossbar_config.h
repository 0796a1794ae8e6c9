// The crossbar configuration of a network evaluation: circuit, devices,
// mapping and tile size. Read from a JSON object whose keys are
// the fields below (unknown keys are errors), optionally starting from a named
// preset ("preset": "..."); apply_setting("key=value") overrides single keys.
// docs/model.md lists the keys, units, defaults and presets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/crossbar/calibration.h"
#include "engine/crossbar/mapping.h"
#include "engine/crossbar/mapping_scale.h"
#include "kernels/common/error.h"
#include "kernels/tile/tile.h"

namespace sxb {

struct CrossbarConfig {
  std::string preset = "default";
  double r_on = kDefaultROn, r_off = kDefaultROff;  // ohm: G_max = 1/r_on, G_min = 1/r_off
  TileResistances res;                // r_source, r_sink, r_wire_row, r_wire_col (ohm)
  double v_read = kDefaultVRead;      // V, for NF
  int tile_rows = kDefaultTileDim, tile_cols = kDefaultTileDim;
  double scale = 0.0;                 // mapping scale s; 0: per layer, max |W| (layer-max only)
  ScaleMode scale_mode = ScaleMode::LayerMax;  // engine/crossbar/mapping_scale.h
  double scale_percentile = 99.9;              // percentile: p in (0, 100]
  int levels = 0;                     // conductance levels; 0: continuous
  double variation_sigma = 0.0;       // relative device-to-device variation
  double variation_clamp_low = 0.5;   // variation clamp, x G_min
  double variation_clamp_high = 1.5;  // variation clamp, x G_max
  double stuck_at_gmin = 0.0, stuck_at_gmax = 0.0;  // fault rates
  std::uint64_t seed = 1;                           // variation and faults
  Calibration calibration = Calibration::None;      // read-out calibration of W_eff
  // Peripheral converters and weight bit slicing (engine/converters/): each 0
  // is off; any one set runs the tile-level forward instead of W_eff.
  int dac_bits = 0;                   // input quantisation: 0 or 2..24
  int adc_bits = 0;                   // quantisation of every tile column's partial sum: 0 or 2..24
  double adc_range_percentile = 100;  // ADC range: this percentile of |partial sum|, in (0, 100]
  int range_images = 64;              // training images that set the DAC and ADC ranges
  int weight_bits = 0;                // magnitude bits of the weights: 0 (analog) or 1..24
  int cell_bits = 0;                  // bits per device: 0 (= weight_bits) or 1..weight_bits
  int input_bits_per_pulse = 0;       // bit-serial inputs: 0 (all at once) or 1..dac_bits

  // Whether a converter or slicing key is set (the tile-level forward runs).
  bool tile_level() const { return dac_bits > 0 || adc_bits > 0 || weight_bits > 0; }
  // Bits per device of a sliced layer (weight_bits when cell_bits is 0).
  int bits_per_cell() const { return cell_bits > 0 ? cell_bits : weight_bits; }
  // Tile pairs per position: ceil(weight_bits / bits per cell), 1 unsliced.
  int slices() const { return weight_bits > 0 ? (weight_bits + bits_per_cell() - 1) / bits_per_cell() : 1; }
  // The same configuration with every converter and slicing key off.
  CrossbarConfig without_converters() const;

  // Error naming the field (prefixed by `context`) for non-physical values.
  void check(const Message& context) const;
  DeviceModel devices() const;
  // "calibration" is written only when not none, so that the JSON (and what
  // hashes it) of an uncalibrated configuration is unchanged.
  nlohmann::json to_json() const;
};

// Names of the presets, in documentation order.
std::vector<std::string> crossbar_presets();
CrossbarConfig crossbar_preset(const std::string& name);  // Error for an unknown name

// Starts from j["preset"] (or "default"), then applies every other key.
CrossbarConfig crossbar_config_from_json(const nlohmann::json& j, const std::string& context);
CrossbarConfig read_crossbar_config(const std::string& path);

// "key=value": value parsed as JSON when it is a number, else as a string
// (so "preset=..." works too). Unknown key or bad value: Error naming it.
void apply_setting(CrossbarConfig& c, const std::string& assignment);

// "64" or "32x64" -> rows, cols.
void parse_tile_size(const std::string& text, int& rows, int& cols, const std::string& option);

}  // namespace sxb
