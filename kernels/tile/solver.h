// The tile-solver interface every implementation offers (reference, fast CPU,
// CUDA), as adapters over kernels/tile/{reference,cpu,cuda}. Input is valid
// (engine/crossbar/tile_solver.h checks it once); the front door there picks
// one solver and applies the fallback policy.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "kernels/tile/tile.h"

namespace sxb {

class TileSolver {
 public:
  virtual ~TileSolver() = default;
  virtual const char* name() const = 0;     // "reference", "cpu" or "cuda"
  virtual std::string device() const = 0;   // one line: CPU model and threads, or GPU name

  // Empty when this solver can solve `tile` (every tile of `batch`) here, else why not.
  virtual std::string supports(const TileView& tile) const = 0;
  virtual std::string supports(const TileBatch& batch) const = 0;

  // Transfer matrices of all tiles (each C x R row-major at batch.offset[k]).
  // Returns the indices of tiles it could not solve (their values are
  // unspecified); throws Error when the whole call failed.
  virtual std::vector<std::size_t> transfer(const TileBatch& batch, double* out) const = 0;

  // currents[n*C + j] for the n_vec input vectors voltages[n*R + i]. Throws
  // Error on failure.
  virtual void currents(const TileView& tile, const double* voltages, int n_vec, double* out) const = 0;

  // True when currents() is T v with T from transfer(), so a caller that has
  // T may derive the currents from it (currents_from_transfer) bit-identically.
  virtual bool currents_through_transfer() const { return false; }
};

const TileSolver& reference_tile_solver();
const TileSolver& cpu_tile_solver();
const TileSolver& cuda_tile_solver();  // present in every build; unavailable ones say why in supports()

// currents[n*C + j] = sum_i T[j*R + i] voltages[n*R + i], summed in i order.
void currents_from_transfer(const TileView& tile, const double* transfer, const double* voltages, int n_vec,
                            double* currents);

// "<CPU model>, <OpenMP threads> threads".
std::string cpu_description();

}  // namespace sxb
