// The built-in example tile: a seeded, weight-like conductance pattern
// between G_min = 1/R_off and G_max = 1/R_on at the documented defaults.
#pragma once

#include <cstdint>
#include <vector>

namespace sxb {

inline constexpr double kDefaultROn = 20e3;    // ohm
inline constexpr double kDefaultROff = 200e3;  // ohm
inline constexpr double kDefaultVRead = 0.3;   // V

// rows x cols conductances (S), row-major, from `seed`.
std::vector<double> example_conductances(int rows, int cols, std::uint64_t seed);

}  // namespace sxb
