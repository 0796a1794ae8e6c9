// Tile-solver front door: validates input once, picks one solver
// (kernels/tile/solver.h: reference, fast CPU or CUDA) and applies one
// fallback policy for all of them: when the chosen solver says it cannot
// solve a tile (supports()) or fails (an Error, or tiles it reports as
// failed), those tiles are solved with the reference and the log callback
// says so, in the same words for CPU and CUDA. Never silent.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/crossbar/backend.h"
#include "kernels/tile/solver.h"
#include "kernels/tile/tile.h"

namespace sxb {

// Receives one line per fallback ("tile solver cuda: ...; solved with the reference").
using SolverLog = std::function<void(const std::string& message)>;
// The default: "sparsexbar: warning: <message>" on standard error.
void log_to_stderr(const std::string& message);

// Throws Error naming the offending field (prefixed by `context`, e.g. the
// input file) for: sizes outside [1, kMaxTileDim], conductances that are not
// positive and finite, resistances that are negative or not finite.
void validate_tile(const TileView& tile, const std::string& context = "tile");
void validate_batch(const TileBatch& batch, const std::string& context = "batch");

// An owned tile that passed validate_tile when it was made; immutable, so it
// stays valid and the front door does not check it again.
class ValidTile {
 public:
  // `conductance` has rows x cols values (S, row-major); errors name `context`.
  ValidTile(int rows, int cols, std::vector<double> conductance, const TileResistances& res,
            const std::string& context = "tile");
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  const std::vector<double>& conductance() const { return conductance_; }
  const TileResistances& res() const { return res_; }
  TileView view() const { return TileView{rows_, cols_, conductance_.data(), res_}; }

 private:
  int rows_, cols_;
  std::vector<double> conductance_;
  TileResistances res_;
};

// The solver `backend` names, after resolve() (Auto: CUDA when the tile
// kernel's probe says usable, else CPU).
const TileSolver& tile_solver(Backend backend);

// Transfer matrices of all tiles (each C x R row-major, at batch.offset[k]).
std::vector<double> transfer_matrices(const TileBatch& batch, Backend backend,
                                      const SolverLog& log = log_to_stderr);

// The same with the solver given (checks and fallback policy as above).
std::vector<double> transfer_matrices(const TileBatch& batch, const TileSolver& solver,
                                      const SolverLog& log = log_to_stderr);

// Output currents of one tile for n_vec input vectors (voltages[n*R + i]);
// result currents[n*C + j]. Cpu/Reference solve per vector; Cuda goes through T.
std::vector<double> tile_currents(const TileView& tile, const std::vector<double>& voltages, Backend backend,
                                  const SolverLog& log = log_to_stderr);

std::vector<double> tile_currents(const TileView& tile, const std::vector<double>& voltages,
                                  const TileSolver& solver, const SolverLog& log = log_to_stderr);

// One tile, for `sparsexbar tile`: currents for `voltages` and, when
// `with_transfer`, T, computed once (a solver that solves through T derives
// the currents from it). The tile is not validated again.
struct TileSolution {
  std::vector<double> currents;  // n_vec x C
  std::vector<double> transfer;  // C x R, empty unless asked for
  Backend backend = Backend::Cpu;  // the solver chosen
};
TileSolution solve_tile(const ValidTile& tile, const std::vector<double>& voltages, bool with_transfer,
                        Backend backend, const SolverLog& log = log_to_stderr);

// Benchmark of one-vector solves: every tile of `batch` (checked first,
// outside the timing) with all inputs at `v_read`, on `backend`: per vector
// and OpenMP-parallel over tiles on the CPU solvers, through T in one batch
// on CUDA. Returns the wall-clock seconds of the solves.
double one_vector_solve_seconds(const TileBatch& batch, Backend backend, double v_read,
                                const SolverLog& log = log_to_stderr);

// The CPU sweep's useful multiply-adds per R x C transfer extraction, and
// the measured multiply-add peak of one CPU thread (kernels/common/fma_peak.h):
// `bench solver` quotes its speed as a share of that peak.
double cpu_sweep_multiply_adds(int rows, int cols);
double cpu_fma_peak_per_thread();

// I_ideal = g^T v for each vector.
std::vector<double> ideal_currents(const TileView& tile, const std::vector<double>& voltages);

// Non-ideality factor per column for the all-V_read input:
// NF[j] = (I_ideal[j] - I[j]) / I_ideal[j] (independent of V_read).
struct NonIdealityFactor {
  std::vector<double> per_column;
  double mean = 0.0;
  double max = 0.0;
};
NonIdealityFactor nonideality_factor(const TileView& tile, const double* transfer);

}  // namespace sxb
