// JSON form of a single-tile simulation (`sparsexbar tile`). See docs/cli.md.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/crossbar/backend.h"
#include "engine/crossbar/tile_solver.h"
#include "kernels/tile/tile.h"

namespace sxb {

struct TileProblem {
  ValidTile tile;                    // conductances (S); missing resistance keys keep the documented defaults
  std::vector<double> voltages;      // n_vec x rows, V
  Backend backend = Backend::Auto;
  TileView view() const { return tile.view(); }
};

// Parses and validates; errors name `source` (the file) and the field.
TileProblem parse_tile_problem(const nlohmann::json& j, const std::string& source);
TileProblem read_tile_problem(const std::string& path);

struct TileSolveOptions {
  bool transfer = false;
  bool nf = false;
};

// Solves through the front door (T at most once; the tile was validated when
// parsed) and returns the output document (currents, ideal_currents, and on
// request transfer and nf, plus backend and timing). Fallback notices go to `log`.
nlohmann::json solve_tile_problem(const TileProblem& p, const TileSolveOptions& opt,
                                  const SolverLog& log = log_to_stderr);

}  // namespace sxb
