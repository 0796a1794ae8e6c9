// Viridis: a perceptually uniform colour map whose lightness rises
// monotonically, so a picture still reads printed in grey. Interpolated
// linearly in RGB between nine anchor colours.
#pragma once

#include <cstdint>
#include <string>

namespace sxb {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
};

Rgb viridis(double t);  // t in [0, 1], clamped; NaN: light grey (no value)
std::string hex(Rgb c);  // "#rrggbb"

// The colour of series k of n (dark to light along viridis, never the
// palest yellow, which vanishes on white).
std::string series_colour(std::size_t k, std::size_t n);
// A dash pattern per series ("" solid), so lines differ in grey too.
std::string series_dash(std::size_t k);

}  // namespace sxb
