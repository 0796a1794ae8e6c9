#include "engine/crossbar/tile_solver.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "kernels/tile/cpu/tile_sweep.h"
#include "kernels/tile/cuda/cuda_backend.h"
#include "kernels/common/error.h"
#include "kernels/tile/reference/tile_reference.h"

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

std::vector<double> transfer_matrices(const TileBatch& batch, Backend backend) {
  validate_batch(batch);
  std::vector<double> T(batch.total_cells());
  switch (resolve(backend)) {
    case Backend::Reference:
      for (std::size_t k = 0; k < batch.size(); ++k) reference::tile_transfer(batch.tile(k), T.data() + batch.offset[k]);
      break;
    case Backend::Cuda:
      cuda::batch_transfer(batch, T.data());
      break;
    default:
      for (std::size_t k : cpu::batch_transfer(batch, T.data()))
        reference::tile_transfer(batch.tile(k), T.data() + batch.offset[k]);
      break;
  }
  return T;
}

std::vector<double> tile_currents(const TileView& t, const std::vector<double>& voltages, Backend backend) {
  validate_tile(t);
  SXB_REQUIRE(voltages.size() % t.rows == 0,
              fmt::format("voltages: {} values is not a whole number of {}-row vectors", voltages.size(), t.rows));
  for (std::size_t k = 0; k < voltages.size(); ++k)
    SXB_REQUIRE(std::isfinite(voltages[k]), fmt::format("voltages[{}][{}]: not finite", k / t.rows, k % t.rows));
  const int n_vec = static_cast<int>(voltages.size() / t.rows);
  std::vector<double> I(static_cast<std::size_t>(n_vec) * t.cols);
  const Backend b = resolve(backend);
  if (b == Backend::Reference) {
    reference::tile_currents(t, voltages.data(), n_vec, I.data());
  } else if (b == Backend::Cpu) {
    try {
      cpu::tile_currents(t, voltages.data(), n_vec, I.data());
    } catch (const Error&) {
      reference::tile_currents(t, voltages.data(), n_vec, I.data());
    }
  } else {
    TileBatch one;
    one.add(t.rows, t.cols, t.conductance, t.res);
    const std::vector<double> T = transfer_matrices(one, Backend::Cuda);
    for (int n = 0; n < n_vec; ++n)
      for (int j = 0; j < t.cols; ++j) {
        double sum = 0.0;
        for (int i = 0; i < t.rows; ++i) sum += T[static_cast<std::size_t>(j) * t.rows + i] * voltages[static_cast<std::size_t>(n) * t.rows + i];
        I[static_cast<std::size_t>(n) * t.cols + j] = sum;
      }
  }
  return I;
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

}  // namespace sxb
