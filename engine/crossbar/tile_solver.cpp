#include "engine/crossbar/tile_solver.h"
#include "engine/io/stopwatch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

#include "kernels/common/error.h"
#include "kernels/common/fma_peak.h"
#include "kernels/tile/cpu/tile_sweep.h"

namespace sxb {

namespace {
void check_resistance(double ohm, const std::string& context, const char* name) {
  SXB_REQUIRE(std::isfinite(ohm) && ohm >= 0.0,
              fmt::format("{}: {} = {} ohm: must be a finite resistance >= 0", context, name, ohm));
}
}  // namespace

void validate_tile(const TileView& t, const std::string& context) {
  SXB_REQUIRE(t.rows >= 1 && t.rows <= kMaxTileDim,
              fmt::format("{}: rows = {}: must be between 1 and {}", context, t.rows, kMaxTileDim));
  SXB_REQUIRE(t.cols >= 1 && t.cols <= kMaxTileDim,
              fmt::format("{}: cols = {}: must be between 1 and {}", context, t.cols, kMaxTileDim));
  check_resistance(t.res.r_source, context, "r_source");
  check_resistance(t.res.r_sink, context, "r_sink");
  check_resistance(t.res.r_wire_row, context, "r_wire_row");
  check_resistance(t.res.r_wire_col, context, "r_wire_col");
  for (int i = 0; i < t.rows; ++i)
    for (int j = 0; j < t.cols; ++j) {
      const double g = t.conductance[static_cast<std::size_t>(i) * t.cols + j];
      SXB_REQUIRE(std::isfinite(g) && g > 0.0,
                  fmt::format("{}: conductance[{}][{}] = {} S: must be positive and finite", context, i, j, g));
    }
}

void validate_batch(const TileBatch& b, const std::string& context) {
  SXB_REQUIRE(b.cols.size() == b.size() && b.offset.size() == b.size(),
              context + ": inconsistent tile tables");
  SXB_REQUIRE(b.size() == 0 || !b.resistances.empty(), context + ": no resistances given");
  SXB_REQUIRE(!b.per_tile_resistances || b.resistances.size() == b.size(),
              context + ": per-tile resistances must be given for every tile");
  std::size_t expected = 0;
  for (std::size_t k = 0; k < b.size(); ++k) {
    SXB_REQUIRE(b.offset[k] == expected, fmt::format("{}: tile {} has offset {}, expected {}", context, k,
                                                     b.offset[k], expected));
    expected += static_cast<std::size_t>(std::max(b.rows[k], 0)) * std::max(b.cols[k], 0);
    SXB_REQUIRE(expected <= b.conductance.size(), fmt::format("{}: tile {} runs past the conductance array", context, k));
    validate_tile(b.tile(k), fmt::format("{} tile {}", context, k));
  }
  SXB_REQUIRE(expected == b.conductance.size(), context + ": conductance array longer than its tiles");
}

ValidTile::ValidTile(int rows, int cols, std::vector<double> conductance, const TileResistances& res,
                     const std::string& context)
    : rows_(rows), cols_(cols), conductance_(std::move(conductance)), res_(res) {
  SXB_REQUIRE(rows < 1 || cols < 1 || conductance_.size() == static_cast<std::size_t>(rows) * cols,
              fmt::format("{}: {} conductances for {} x {} devices", context, conductance_.size(), rows, cols));
  validate_tile(view(), context);
}

void log_to_stderr(const std::string& message) { std::fprintf(stderr, "sparsexbar: warning: %s\n", message.c_str()); }

const TileSolver& tile_solver(Backend backend) {
  switch (resolve(backend)) {
    case Backend::Reference: return reference_tile_solver();
    case Backend::Cuda: return cuda_tile_solver();
    default: return cpu_tile_solver();
  }
}

namespace {

void fell_back(const SolverLog& log, const TileSolver& s, const std::string& why, const std::string& what) {
  const std::string line = fmt::format("tile solver {}: {}; {} with the reference", s.name(), why, what);
  if (log) log(line);
  else log_to_stderr(line);
}

// Re-solves the tiles `failed` of `batch` with the reference, into `out`.
void resolve_with_reference(const TileBatch& batch, const std::vector<std::size_t>& failed, double* out) {
  TileBatch part;
  for (std::size_t k : failed) part.add(batch.rows[k], batch.cols[k], batch.tile(k).conductance, batch.resistances_of(k));
  std::vector<double> T(part.total_cells());
  (void)reference_tile_solver().transfer(part, T.data());
  for (std::size_t p = 0; p < failed.size(); ++p)
    std::copy_n(T.begin() + static_cast<std::ptrdiff_t>(part.offset[p]), static_cast<std::size_t>(part.rows[p]) * part.cols[p],
                out + batch.offset[failed[p]]);
}

// The fallback policy for transfer matrices of a valid batch.
void transfer_with(const TileSolver& s, const TileBatch& batch, double* out, const SolverLog& log) {
  const TileSolver& reference = reference_tile_solver();
  if (&s == &reference) {
    (void)reference.transfer(batch, out);
    return;
  }
  if (const std::string why = s.supports(batch); !why.empty()) {
    fell_back(log, s, why, fmt::format("solving all {} tiles", batch.size()));
    (void)reference.transfer(batch, out);
    return;
  }
  std::vector<std::size_t> failed;
  try {
    failed = s.transfer(batch, out);
  } catch (const Error& e) {
    fell_back(log, s, std::string("failed: ") + e.what(), fmt::format("solving all {} tiles", batch.size()));
    (void)reference.transfer(batch, out);
    return;
  }
  if (failed.empty()) return;
  fell_back(log, s,
            fmt::format("{} of {} tiles failed (first: tile {}, shifted admittance not positive definite)",
                        failed.size(), batch.size(), failed.front()),
            "re-solved them");
  resolve_with_reference(batch, failed, out);
}

// The same policy for the currents of one valid tile.
void currents_with(const TileSolver& s, const TileView& t, const std::vector<double>& v, double* out,
                   const SolverLog& log) {
  const TileSolver& reference = reference_tile_solver();
  const int n_vec = static_cast<int>(v.size() / t.rows);
  if (&s != &reference) {
    if (const std::string why = s.supports(t); !why.empty()) {
      fell_back(log, s, why, "solving the tile");
    } else {
      try {
        s.currents(t, v.data(), n_vec, out);
        return;
      } catch (const Error& e) {
        fell_back(log, s, std::string("failed: ") + e.what(), "solving the tile");
      }
    }
  }
  reference.currents(t, v.data(), n_vec, out);
}

void validate_voltages(const TileView& t, const std::vector<double>& voltages) {
  SXB_REQUIRE(voltages.size() % t.rows == 0,
              fmt::format("voltages: {} values is not a whole number of {}-row vectors", voltages.size(), t.rows));
  for (std::size_t k = 0; k < voltages.size(); ++k)
    SXB_REQUIRE(std::isfinite(voltages[k]), fmt::format("voltages[{}][{}]: not finite", k / t.rows, k % t.rows));
}

}  // namespace

std::vector<double> transfer_matrices(const TileBatch& batch, const TileSolver& solver, const SolverLog& log) {
  validate_batch(batch);
  std::vector<double> T(batch.total_cells());
  transfer_with(solver, batch, T.data(), log);
  return T;
}

std::vector<double> transfer_matrices(const TileBatch& batch, Backend backend, const SolverLog& log) {
  return transfer_matrices(batch, tile_solver(backend), log);
}

std::vector<double> tile_currents(const TileView& t, const std::vector<double>& voltages, const TileSolver& solver,
                                  const SolverLog& log) {
  validate_tile(t);
  validate_voltages(t, voltages);
  std::vector<double> I(voltages.size() / t.rows * t.cols);
  currents_with(solver, t, voltages, I.data(), log);
  return I;
}

std::vector<double> tile_currents(const TileView& t, const std::vector<double>& voltages, Backend backend,
                                  const SolverLog& log) {
  return tile_currents(t, voltages, tile_solver(backend), log);
}

TileSolution solve_tile(const ValidTile& tile, const std::vector<double>& voltages, bool with_transfer,
                        Backend backend, const SolverLog& log) {
  const TileView t = tile.view();
  validate_voltages(t, voltages);
  TileSolution out;
  out.backend = resolve(backend);
  const TileSolver& s = tile_solver(out.backend);
  out.currents.resize(voltages.size() / t.rows * t.cols);
  if (with_transfer) {
    TileBatch one;
    one.add(t.rows, t.cols, t.conductance, t.res);
    out.transfer.resize(one.total_cells());
    transfer_with(s, one, out.transfer.data(), log);
    if (s.currents_through_transfer()) {
      currents_from_transfer(t, out.transfer.data(), voltages.data(), static_cast<int>(voltages.size() / t.rows),
                             out.currents.data());
      return out;
    }
  }
  currents_with(s, t, voltages, out.currents.data(), log);
  return out;
}

double one_vector_solve_seconds(const TileBatch& batch, Backend backend, double v_read, const SolverLog& log) {
  validate_batch(batch);
  const TileSolver& s = tile_solver(backend);
  const Stopwatch watch;
  if (s.currents_through_transfer()) {
    std::vector<double> T(batch.total_cells());
    transfer_with(s, batch, T.data(), log);
  } else {
    const long n = static_cast<long>(batch.size());
    std::vector<char> failed(batch.size(), 0);
#pragma omp parallel for schedule(dynamic)
    for (long k = 0; k < n; ++k) {
      const TileView t = batch.tile(k);
      std::vector<double> v(t.rows, v_read), I(t.cols);
      try {
        s.currents(t, v.data(), 1, I.data());
      } catch (const Error&) {
        failed[k] = 1;
      }
    }
    for (long k = 0; k < n; ++k)
      if (failed[k]) {
        const TileView t = batch.tile(k);
        currents_with(reference_tile_solver(), t, std::vector<double>(t.rows, v_read),
                      std::vector<double>(t.cols).data(), log);
        fell_back(log, s, fmt::format("the one-vector solve of tile {} failed", k), "solved it");
      }
  }
  return watch.seconds();
}

std::vector<double> ideal_currents(const TileView& t, const std::vector<double>& voltages) {
  const int n_vec = static_cast<int>(voltages.size() / t.rows);
  std::vector<double> I(static_cast<std::size_t>(n_vec) * t.cols, 0.0);
  for (int n = 0; n < n_vec; ++n)
    for (int i = 0; i < t.rows; ++i)
      for (int j = 0; j < t.cols; ++j)
        I[static_cast<std::size_t>(n) * t.cols + j] +=
            voltages[static_cast<std::size_t>(n) * t.rows + i] * t.conductance[static_cast<std::size_t>(i) * t.cols + j];
  return I;
}

NonIdealityFactor nonideality_factor(const TileView& t, const double* T) {
  NonIdealityFactor nf;
  nf.per_column.resize(t.cols);
  for (int j = 0; j < t.cols; ++j) {
    double ideal = 0.0, actual = 0.0;
    for (int i = 0; i < t.rows; ++i) {
      ideal += t.conductance[static_cast<std::size_t>(i) * t.cols + j];
      actual += T[static_cast<std::size_t>(j) * t.rows + i];
    }
    nf.per_column[j] = (ideal - actual) / ideal;
    nf.mean += nf.per_column[j] / t.cols;
    nf.max = j == 0 ? nf.per_column[j] : std::max(nf.max, nf.per_column[j]);
  }
  return nf;
}

double cpu_sweep_multiply_adds(int rows, int cols) { return cpu::sweep_multiply_adds(rows, cols); }

double cpu_fma_peak_per_thread() { return cpu::measured_fma_peak(); }

}  // namespace sxb
