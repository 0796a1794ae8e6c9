#include "engine/crossbar/crossbar_config.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "engine/io/json_file.h"
#include "engine/io/json_keys.h"
#include "kernels/common/error.h"

namespace sxb {

namespace {

bool finite_nonnegative(double x) { return std::isfinite(x) && x >= 0.0; }

// The range of resistances the nodal solve computes in double precision:
// beyond it a gain overflows or the system loses positive definiteness.
constexpr double kMinDeviceOhm = 1e-3, kMaxOhm = 1e15;

}  // namespace

void CrossbarConfig::check(const Message& context) const {
  const auto at = [&](std::string rest) { return Message(context).add(std::move(rest)); };
  const auto require_resistance = [&](double r, const char* key) {
    SXB_REQUIRE(finite_nonnegative(r), at(fmt::format(": {} = {} must be a finite resistance >= 0 ohm", key, r)));
    SXB_REQUIRE(r <= kMaxOhm,
                at(fmt::format(": {} = {} ohm is above {:g} ohm, outside what the solver computes", key, r, kMaxOhm)));
  };
  SXB_REQUIRE(std::isfinite(r_on) && r_on > 0.0,
              at(fmt::format(": r_on = {} must be a finite resistance > 0 ohm", r_on)));
  SXB_REQUIRE(r_on >= kMinDeviceOhm, at(fmt::format(": r_on = {} ohm is below {:g} ohm, outside what the solver "
                                                    "computes (the nodal system loses positive definiteness)",
                                                    r_on, kMinDeviceOhm)));
  SXB_REQUIRE(std::isfinite(r_off) && r_off > r_on,
              at(fmt::format(": r_off = {} must be finite and greater than r_on = {}", r_off, r_on)));
  SXB_REQUIRE(r_off <= kMaxOhm,
              at(fmt::format(": r_off = {} ohm is above {:g} ohm, outside what the solver computes", r_off, kMaxOhm)));
  require_resistance(res.r_source, "r_source");
  require_resistance(res.r_sink, "r_sink");
  require_resistance(res.r_wire_row, "r_wire_row");
  require_resistance(res.r_wire_col, "r_wire_col");
  SXB_REQUIRE(std::isfinite(v_read) && v_read > 0.0, at(fmt::format(": v_read = {} must be > 0 V", v_read)));
  SXB_REQUIRE(tile_rows >= 1 && tile_rows <= kMaxTileDim,
              at(fmt::format(": tile_rows = {} outside 1..{}", tile_rows, kMaxTileDim)));
  SXB_REQUIRE(tile_cols >= 1 && tile_cols <= kMaxTileDim,
              at(fmt::format(": tile_cols = {} outside 1..{}", tile_cols, kMaxTileDim)));
  SXB_REQUIRE(finite_nonnegative(scale), at(fmt::format(": scale = {} must be >= 0 (0: max |W|)", scale)));
  SXB_REQUIRE(scale == 0.0 || scale_mode == ScaleMode::LayerMax,
              at(fmt::format(": scale = {} applies to scale_mode layer-max only (scale_mode is {})", scale,
                             to_string(scale_mode))));
  SXB_REQUIRE(std::isfinite(scale_percentile) && scale_percentile > 0.0 && scale_percentile <= 100.0,
              at(fmt::format(": scale_percentile = {} must be in (0, 100]", scale_percentile)));
  SXB_REQUIRE(levels == 0 || (levels >= 2 && levels <= 1 << 20),
              at(fmt::format(": levels = {} must be 0 (continuous) or 2..1048576", levels)));
  SXB_REQUIRE(finite_nonnegative(variation_sigma) && variation_sigma <= 10.0,
              at(fmt::format(": variation_sigma = {} must be in [0, 10]", variation_sigma)));
  SXB_REQUIRE(std::isfinite(variation_clamp_low) && variation_clamp_low > 0.0 && variation_clamp_low <= 1.0,
              at(fmt::format(": variation_clamp_low = {} must be in (0, 1]", variation_clamp_low)));
  SXB_REQUIRE(std::isfinite(variation_clamp_high) && variation_clamp_high >= 1.0,
              at(fmt::format(": variation_clamp_high = {} must be finite and >= 1", variation_clamp_high)));
  for (const auto& [rate, key] : {std::pair{stuck_at_gmin, "stuck_at_gmin"}, std::pair{stuck_at_gmax, "stuck_at_gmax"}})
    SXB_REQUIRE(finite_nonnegative(rate) && rate <= 1.0,
                at(fmt::format(": {} = {} must be a rate in [0, 1]", key, rate)));
  SXB_REQUIRE(stuck_at_gmin + stuck_at_gmax <= 1.0,
              at(fmt::format(": stuck_at_gmin + stuck_at_gmax = {} exceeds 1", stuck_at_gmin + stuck_at_gmax)));
  for (const auto& [bits, key] : {std::pair{dac_bits, "dac_bits"}, std::pair{adc_bits, "adc_bits"}})
    SXB_REQUIRE(bits == 0 || (bits >= 2 && bits <= 24),
                at(fmt::format(": {} = {} must be 0 (ideal) or 2..24", key, bits)));
  SXB_REQUIRE(std::isfinite(adc_range_percentile) && adc_range_percentile > 0.0 && adc_range_percentile <= 100.0,
              at(fmt::format(": adc_range_percentile = {} must be in (0, 100]", adc_range_percentile)));
  SXB_REQUIRE(range_images >= 1 && range_images <= 1000000,
              at(fmt::format(": range_images = {} outside 1..1000000", range_images)));
  SXB_REQUIRE(weight_bits >= 0 && weight_bits <= 24,
              at(fmt::format(": weight_bits = {} must be 0 (analog) or 1..24", weight_bits)));
  SXB_REQUIRE(cell_bits == 0 || weight_bits > 0,
              at(fmt::format(": cell_bits = {} needs weight_bits (0: analog weights)", cell_bits)));
  SXB_REQUIRE(
      cell_bits >= 0 && cell_bits <= weight_bits,
      at(fmt::format(": cell_bits = {} must be 0 (= weight_bits) or 1..weight_bits = {}", cell_bits, weight_bits)));
  SXB_REQUIRE(input_bits_per_pulse == 0 || dac_bits > 0,
              at(fmt::format(": input_bits_per_pulse = {} needs dac_bits (bit-serial inputs are DAC levels)",
                             input_bits_per_pulse)));
  SXB_REQUIRE(input_bits_per_pulse >= 0 && input_bits_per_pulse <= dac_bits,
              at(fmt::format(": input_bits_per_pulse = {} must be 0 (all at once) or 1..dac_bits = {}",
                             input_bits_per_pulse, dac_bits)));
}

CrossbarConfig CrossbarConfig::without_converters() const {
  CrossbarConfig c = *this;
  c.dac_bits = c.adc_bits = c.weight_bits = c.cell_bits = c.input_bits_per_pulse = 0;
  return c;
}

DeviceModel CrossbarConfig::devices() const {
  DeviceModel d;
  d.g_min = 1.0 / r_off;
  d.g_max = 1.0 / r_on;
  d.levels = levels;
  d.sigma = variation_sigma;
  d.clamp_low = variation_clamp_low;
  d.clamp_high = variation_clamp_high;
  d.stuck_min = stuck_at_gmin;
  d.stuck_max = stuck_at_gmax;
  d.seed = seed;
  return d;
}

nlohmann::json CrossbarConfig::to_json() const {
  nlohmann::json j = {{"preset", preset},
          {"r_on", r_on},
          {"r_off", r_off},
          {"r_source", res.r_source},
          {"r_sink", res.r_sink},
          {"r_wire_row", res.r_wire_row},
          {"r_wire_col", res.r_wire_col},
          {"v_read", v_read},
          {"tile_rows", tile_rows},
          {"tile_cols", tile_cols},
          {"scale", scale},
          {"levels", levels},
          {"variation_sigma", variation_sigma},
          {"variation_clamp_low", variation_clamp_low},
          {"variation_clamp_high", variation_clamp_high},
          {"stuck_at_gmin", stuck_at_gmin},
          {"stuck_at_gmax", stuck_at_gmax},
          {"seed", seed}};
  // Keys added after the first sweeps are written only when not their default,
  // so that sweep point ids (which hash this object) stay as they were.
  if (scale_mode != ScaleMode::LayerMax) j["scale_mode"] = to_string(scale_mode);
  if (scale_mode == ScaleMode::Percentile) j["scale_percentile"] = scale_percentile;
  if (calibration != Calibration::None) j["calibration"] = to_string(calibration);
  const CrossbarConfig d;
  if (dac_bits != d.dac_bits) j["dac_bits"] = dac_bits;
  if (adc_bits != d.adc_bits) j["adc_bits"] = adc_bits;
  if (adc_range_percentile != d.adc_range_percentile) j["adc_range_percentile"] = adc_range_percentile;
  if (range_images != d.range_images) j["range_images"] = range_images;
  if (weight_bits != d.weight_bits) j["weight_bits"] = weight_bits;
  if (cell_bits != d.cell_bits) j["cell_bits"] = cell_bits;
  if (input_bits_per_pulse != d.input_bits_per_pulse) j["input_bits_per_pulse"] = input_bits_per_pulse;
  return j;
}

std::vector<std::string> crossbar_presets() {
  return {"default", "mild", "ideal", "wire-0.15", "wire-28", "devices-300k-3M", "variation-10"};
}

CrossbarConfig crossbar_preset(const std::string& name) {
  CrossbarConfig c;  // "default": the defaults (docs/model.md says which are sourced, which assumed)
  c.preset = name;
  if (name == "default") return c;
  if (name == "mild") {  // r_source, r_sink and r_wire at 0.6 x default (docs/model.md, "Presets")
    const auto scaled = [](double r) { return r * 3.0 / 5.0; };  // exact for the default values
    c.res = TileResistances{scaled(c.res.r_source), scaled(c.res.r_sink), scaled(c.res.r_wire_row),
                            scaled(c.res.r_wire_col)};
  } else if (name == "ideal") {  // no parasitic resistances (devices and mapping unchanged)
    c.res = TileResistances{0.0, 0.0, 0.0, 0.0};
  } else if (name == "wire-0.15") {  // lowest per-cell wire resistance of published simulators
    c.res.r_wire_row = c.res.r_wire_col = 0.15;
  } else if (name == "wire-28") {  // highest per-cell wire resistance of published simulators
    c.res.r_wire_row = c.res.r_wire_col = 28.0;
  } else if (name == "devices-300k-3M") {  // high-resistance devices: the top of the published device range
    c.r_on = 300e3;
    c.r_off = 3e6;
  } else if (name == "variation-10") {  // default circuit, 10 % device-to-device variation
    c.variation_sigma = 0.1;
  } else {
    std::string names;
    for (const std::string& p : crossbar_presets()) names += (names.empty() ? "" : ", ") + p;
    throw Error(fmt::format("unknown crossbar preset '{}' (presets: {})", name, names));
  }
  return c;
}

namespace {

void set_key(CrossbarConfig& c, const std::string& key, const nlohmann::json& v, const std::string& context) {
  const std::string where = fmt::format("{}: \"{}\"", context, key);
  const auto number = [&]() -> double { return json_real(v, where); };
  if (key == "r_on") c.r_on = number();
  else if (key == "r_off") c.r_off = number();
  else if (key == "r_source") c.res.r_source = number();  // >= 0: check()
  else if (key == "r_sink") c.res.r_sink = number();  // >= 0: check()
  else if (key == "r_wire_row") c.res.r_wire_row = number();  // >= 0: check()
  else if (key == "r_wire_col") c.res.r_wire_col = number();  // >= 0: check()
  else if (key == "r_wire") c.res.r_wire_row = c.res.r_wire_col = number();  // >= 0: check()
  else if (key == "v_read") c.v_read = number();
  else if (key == "tile_rows") c.tile_rows = static_cast<int>(json_integer(v, 1, kMaxTileDim, where));
  else if (key == "tile_cols") c.tile_cols = static_cast<int>(json_integer(v, 1, kMaxTileDim, where));
  else if (key == "scale") c.scale = number();
  else if (key == "scale_mode") {
    SXB_REQUIRE(v.is_string(), fmt::format("{} must be a string (got {})", where, v.dump()));
    c.scale_mode = parse_scale_mode(v.get<std::string>(), where);
  } else if (key == "scale_percentile") c.scale_percentile = number();
  else if (key == "levels") c.levels = static_cast<int>(json_integer(v, 0, 1 << 20, where));  // 1: rejected by check()
  else if (key == "variation_sigma") c.variation_sigma = number();
  else if (key == "variation_clamp_low") c.variation_clamp_low = number();
  else if (key == "variation_clamp_high") c.variation_clamp_high = number();
  else if (key == "stuck_at_gmin") c.stuck_at_gmin = number();
  else if (key == "stuck_at_gmax") c.stuck_at_gmax = number();
  else if (key == "calibration") {
    SXB_REQUIRE(v.is_string(), fmt::format("{} must be none, column or layer (got {})", where, v.dump()));
    c.calibration = parse_calibration(v.get<std::string>(), where);
  } else if (key == "dac_bits") c.dac_bits = static_cast<int>(json_integer(v, 0, 24, where));  // 1: check()
  else if (key == "adc_bits") c.adc_bits = static_cast<int>(json_integer(v, 0, 24, where));  // 1: check()
  else if (key == "adc_range_percentile") c.adc_range_percentile = number();
  else if (key == "range_images") c.range_images = static_cast<int>(json_integer(v, 1, 1000000, where));
  else if (key == "weight_bits") c.weight_bits = static_cast<int>(json_integer(v, 0, 24, where));
  else if (key == "cell_bits") c.cell_bits = static_cast<int>(json_integer(v, 0, 24, where));
  else if (key == "input_bits_per_pulse") c.input_bits_per_pulse = static_cast<int>(json_integer(v, 0, 24, where));
  else if (key == "seed") {
    c.seed = static_cast<std::uint64_t>(json_integer(v, 0, std::numeric_limits<long long>::max(), where));
  } else
    throw Error(fmt::format("{}: unknown key (see docs/model.md, \"Crossbar configuration\")", where));
}

}  // namespace

CrossbarConfig crossbar_config_from_json(const nlohmann::json& j, const std::string& context) {
  SXB_REQUIRE(j.is_object(), context + ": a crossbar configuration must be a JSON object");
  CrossbarConfig c;
  if (j.contains("preset")) {
    SXB_REQUIRE(j["preset"].is_string(), context + ": \"preset\" must be a string");
    c = crossbar_preset(j["preset"].get<std::string>());
  }
  for (const auto& [key, value] : j.items())
    if (key != "preset") set_key(c, key, value, context);
  c.check(context);
  return c;
}

CrossbarConfig read_crossbar_config(const std::string& path) {
  return crossbar_config_from_json(read_json_file(path, "the crossbar configuration"), path);
}

void apply_setting(CrossbarConfig& c, const std::string& assignment) {
  const std::size_t eq = assignment.find('=');
  SXB_REQUIRE(eq != std::string::npos && eq > 0, fmt::format("setting '{}': expected key=value", assignment));
  const std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  nlohmann::json value = text;  // a word (a preset, a mode) unless it reads as a number
  try {
    const nlohmann::json parsed = nlohmann::json::parse(text);
    if (parsed.is_number()) value = parsed;
  } catch (const nlohmann::json::out_of_range&) {
    throw Error(fmt::format("setting '{}': {} is too large for a number", assignment, text));
  } catch (const nlohmann::json::exception&) {
  }
  if (key == "preset") {
    SXB_REQUIRE(value.is_string(), "setting preset: expected a preset name");
    const CrossbarConfig p = crossbar_preset(text);
    c = p;
  } else {
    set_key(c, key, value, "setting");
  }
  c.check("setting " + assignment);
}

void parse_tile_size(const std::string& text, int& rows, int& cols, const std::string& option) {
  // Digits only ("64", "32x64"): " 64", "+64", "1e3" or "64.5" are errors, never 64 or 1.
  const std::string range = fmt::format("{} '{}': tile sides must be in 1..{}", option, text, kMaxTileDim);
  const auto side = [&](const std::string& part) {
    SXB_REQUIRE(!part.empty() && part.find_first_not_of("0123456789") == std::string::npos,
                fmt::format("{} '{}': expected N or RxC (e.g. 64 or 32x64)", option, text));
    SXB_REQUIRE(part.size() <= 4, range);
    return std::stoi(part);
  };
  const std::size_t x = text.find('x');
  rows = side(text.substr(0, x));
  cols = x == std::string::npos ? rows : side(text.substr(x + 1));
  SXB_REQUIRE(rows >= 1 && rows <= kMaxTileDim && cols >= 1 && cols <= kMaxTileDim, range);
}

}  // namespace sxb
