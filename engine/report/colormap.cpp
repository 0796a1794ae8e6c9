#include "engine/report/colormap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace sxb {
namespace {

// Viridis at t = 0, 1/8, ..., 1.
constexpr std::uint8_t kAnchors[9][3] = {{68, 1, 84},   {71, 45, 123},  {59, 82, 139},  {44, 114, 142}, {33, 145, 140},
                                         {40, 174, 128}, {94, 201, 98}, {173, 220, 48}, {253, 231, 37}};

}  // namespace

Rgb viridis(double t) {
  if (std::isnan(t)) return {224, 224, 224};
  t = std::clamp(t, 0.0, 1.0) * 8.0;
  const int k = std::min(7, static_cast<int>(t));
  const double f = t - k;
  const auto mix = [&](int c) {
    return static_cast<std::uint8_t>(std::lround(kAnchors[k][c] + f * (kAnchors[k + 1][c] - kAnchors[k][c])));
  };
  return {mix(0), mix(1), mix(2)};
}

std::string hex(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b); }

std::string series_colour(std::size_t k, std::size_t n) {
  return hex(viridis(n <= 1 ? 0.3 : 0.85 * static_cast<double>(k) / static_cast<double>(n - 1)));
}

std::string series_dash(std::size_t k) {
  static const char* dashes[] = {"", "6 3", "2 3", "8 3 2 3"};
  return dashes[k % 4];
}

}  // namespace sxb
