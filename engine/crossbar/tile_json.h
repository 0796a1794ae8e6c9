// JSON form of a single-tile simulation (`sparsexbar tile`). See docs/cli.md.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/crossbar/backend.h"
#include "kernels/tile/tile.h"

namespace sxb {

struct TileProblem {
  int rows = 0, cols = 0;
  std::vector<double> conductance;  // rows x cols, S
  TileResistances res;               // missing keys keep the documented defaults
  std::vector<double> voltages;      // n_vec x rows, V
  Backend backend = Backend::Auto;
  TileView view() const { return TileView{rows, cols, conductance.data(), res}; }
};

// Parses and validates; errors name `source` (the file) and the field.
TileProblem parse_tile_problem(const nlohmann::json& j, const std::string& source);
TileProblem read_tile_problem(const std::string& path);

struct TileSolveOptions {
  bool transfer = false;
  bool nf = false;
};

// Solves and returns the output document (currents, ideal_currents, and on
// request transfer and nf, plus backend and timing).
nlohmann::json solve_tile_problem(const TileProblem& p, const TileSolveOptions& opt);

}  // namespace sxb
