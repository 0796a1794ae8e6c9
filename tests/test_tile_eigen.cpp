// Independent validation of every CPU tile solver against an Eigen sparse
// solve of the tile's nodal system (tests/support/nodal_eigen.h, which shares
// no code with kernels/ and is refined to ~1e-12). Checked: reference and
// fast CPU transfer matrices and per-vector currents, and the engine's batched
// transfer_matrices on the Cpu backend.
//
// Criterion: max |error| / max |oracle value| over a tile <= 1e-9. The one
// exception is TileEigenIllConditioned (10 kOhm source and sink with 0.01 Ohm
// wires): there a plain double-precision sparse LU of the same circuit is
// itself off by up to ~1e-8, so no double solver can promise 1e-9; the
// solvers must be within 1e-9 or within 10x the sparse LU's own error.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/crossbar/tile_solver.h"
#include "kernels/tile/cpu/tile_sweep.h"
#include "kernels/tile/reference/tile_reference.h"
#include "tests/support/nodal_eigen.h"
#include "tests/support/random_tile.h"

namespace sxb {
namespace {

using test_support::max_relative_error;
using test_support::OwnedTile;
using test_support::TileRng;

constexpr double kTolerance = 1e-9;

struct SizeCase {
  int rows, cols;
  int random_tiles;   // tiles with random device and resistance values
  bool all_extremes;  // every extreme corner, or only the first (big tiles)
};

std::string size_name(const ::testing::TestParamInfo<SizeCase>& info) {
  return std::to_string(info.param.rows) + "x" + std::to_string(info.param.cols);
}

std::string describe(const OwnedTile& t) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%dx%d %s (r_source %.17g, r_sink %.17g, r_wire_row %.17g, r_wire_col %.17g)",
                t.rows, t.cols, t.label.c_str(), t.res.r_source, t.res.r_sink, t.res.r_wire_row, t.res.r_wire_col);
  return buf;
}

struct Corner {
  TileResistances res;  // r_source, r_sink, r_wire_row, r_wire_col
  const char* name;
};

// Every device at 1 kOhm or at 10 MOhm, lines at `corners`.
void add_extreme_tiles(int rows, int cols, const std::vector<Corner>& corners, std::vector<OwnedTile>& tiles) {
  for (double r_device : {1e3, 1e7})
    for (const Corner& c : corners)
      tiles.push_back(test_support::uniform_tile(rows, cols, r_device, c.res,
                                                 std::string(r_device == 1e3 ? "devices 1 kOhm, " : "devices 10 MOhm, ") +
                                                     c.name));
}

// Random tiles (devices uniform in 20k..200k ohm; source/sink log-uniform in
// 0.01..10k ohm; wires log-uniform in 0.01..50 ohm), the default circuit, and
// extreme tiles.
std::vector<OwnedTile> make_tiles(const SizeCase& sc) {
  TileRng rng(0x5eed0000u + 1000u * sc.rows + sc.cols);
  std::vector<OwnedTile> tiles;
  for (int k = 0; k < sc.random_tiles; ++k) {
    const TileResistances res{rng.log_uniform(0.01, 1e4), rng.log_uniform(0.01, 1e4), rng.log_uniform(0.01, 50.0),
                              rng.log_uniform(0.01, 50.0)};
    tiles.push_back(rng.tile(sc.rows, sc.cols, 20e3, 200e3, res, "random " + std::to_string(k)));
  }
  tiles.push_back(rng.tile(sc.rows, sc.cols, 20e3, 200e3, TileResistances{}, "default circuit"));
  std::vector<Corner> corners = {{{1e4, 1e4, 50.0, 50.0}, "all lines high"},
                                 {{0.01, 0.01, 0.01, 0.01}, "all lines low"},
                                 {{1e4, 0.01, 50.0, 0.01}, "high source, low sink"},
                                 {{0.01, 1e4, 0.01, 50.0}, "low source, high sink"}};
  if (!sc.all_extremes) corners.resize(1);
  add_extreme_tiles(sc.rows, sc.cols, corners, tiles);
  return tiles;
}

// Three input vectors per tile: random read voltages, all at V_read, signed.
std::vector<double> input_vectors(TileRng& rng, int rows) {
  std::vector<double> v = rng.voltages(rows, 0.0, 0.3);
  v.insert(v.end(), rows, 0.3);
  const std::vector<double> signed_v = rng.voltages(rows, -0.3, 0.3);
  v.insert(v.end(), signed_v.begin(), signed_v.end());
  return v;
}
constexpr int kVectors = 3;

struct TileErrors {
  double reference_t, reference_i, cpu_t, cpu_i;
  double max() const { return std::max({reference_t, reference_i, cpu_t, cpu_i}); }
};

// Errors of the reference and fast CPU solvers on one tile; also checks that
// the oracle's transfer matrix and per-vector currents agree.
TileErrors solver_errors(const OwnedTile& t, const std::vector<double>& t_oracle, TileRng& rng) {
  const TileView view = t.view();
  const int R = t.rows, C = t.cols;
  const std::vector<double> v = input_vectors(rng, R);
  const std::vector<double> i_oracle = nodal_eigen::currents(view, v.data(), kVectors);

  std::vector<double> i_from_t(static_cast<std::size_t>(kVectors) * C, 0.0);
  for (int n = 0; n < kVectors; ++n)
    for (int j = 0; j < C; ++j)
      for (int i = 0; i < R; ++i) i_from_t[n * C + j] += t_oracle[j * R + i] * v[n * R + i];
  // Both oracle results are refined to ~1e-12 (see nodal_eigen.h).
  EXPECT_LE(max_relative_error(i_from_t, i_oracle), 1e-11) << "oracle self-check: T v vs per-vector currents";

  std::vector<double> t_ref(static_cast<std::size_t>(C) * R), t_cpu(t_ref.size());
  std::vector<double> i_ref(i_oracle.size()), i_cpu(i_oracle.size());
  reference::tile_transfer(view, t_ref.data());
  cpu::tile_transfer(view, t_cpu.data());
  reference::tile_currents(view, v.data(), kVectors, i_ref.data());
  cpu::tile_currents(view, v.data(), kVectors, i_cpu.data());
  return TileErrors{max_relative_error(t_ref, t_oracle), max_relative_error(i_ref, i_oracle),
                    max_relative_error(t_cpu, t_oracle), max_relative_error(i_cpu, i_oracle)};
}

class TileEigen : public ::testing::TestWithParam<SizeCase> {};

TEST_P(TileEigen, CpuSolversMatchOracle) {
  const SizeCase sc = GetParam();
  const std::vector<OwnedTile> tiles = make_tiles(sc);
  TileRng rng(0xc0ffeeu + 7u * sc.rows + sc.cols);

  TileErrors worst{0, 0, 0, 0};
  double worst_batch = 0;
  std::string worst_tile;
  TileBatch batch;
  std::vector<std::vector<double>> oracle_transfer;
  for (const OwnedTile& t : tiles) {
    SCOPED_TRACE(describe(t));
    oracle_transfer.push_back(nodal_eigen::transfer(t.view()));
    const TileErrors e = solver_errors(t, oracle_transfer.back(), rng);
    if (e.max() > worst.max()) worst_tile = describe(t);
    EXPECT_LE(e.reference_t, kTolerance) << "reference::tile_transfer";
    EXPECT_LE(e.reference_i, kTolerance) << "reference::tile_currents";
    EXPECT_LE(e.cpu_t, kTolerance) << "cpu::tile_transfer";
    EXPECT_LE(e.cpu_i, kTolerance) << "cpu::tile_currents";
    worst = {std::max(worst.reference_t, e.reference_t), std::max(worst.reference_i, e.reference_i),
             std::max(worst.cpu_t, e.cpu_t), std::max(worst.cpu_i, e.cpu_i)};
    batch.add(t.rows, t.cols, t.conductance.data(), t.res);
  }

  // The engine's front door, all tiles of this size in one batch.
  const std::vector<double> t_batch = transfer_matrices(batch, Backend::Cpu);
  ASSERT_EQ(t_batch.size(), batch.total_cells());
  for (std::size_t k = 0; k < batch.size(); ++k) {
    const auto first = t_batch.begin() + static_cast<std::ptrdiff_t>(batch.offset[k]);
    const std::vector<double> tk(first, first + static_cast<std::ptrdiff_t>(oracle_transfer[k].size()));
    const double e = max_relative_error(tk, oracle_transfer[k]);
    EXPECT_LE(e, kTolerance) << "transfer_matrices(Backend::Cpu), " << describe(tiles[k]);
    worst_batch = std::max(worst_batch, e);
  }

  std::printf("[ max rel. error %dx%d, %zu tiles ] reference T %.1e I %.1e | cpu T %.1e I %.1e | "
              "transfer_matrices(Cpu) %.1e; worst tile: %s\n",
              sc.rows, sc.cols, tiles.size(), worst.reference_t, worst.reference_i, worst.cpu_t, worst.cpu_i,
              worst_batch, worst_tile.c_str());
}

INSTANTIATE_TEST_SUITE_P(Sizes, TileEigen,
                         ::testing::Values(SizeCase{1, 1, 8, true}, SizeCase{1, 9, 8, true}, SizeCase{9, 1, 8, true},
                                           SizeCase{8, 8, 8, true}, SizeCase{16, 16, 6, true},
                                           SizeCase{32, 32, 4, true}, SizeCase{24, 40, 4, true},
                                           SizeCase{64, 64, 2, true}, SizeCase{128, 128, 0, false}),
                         size_name);

class TileEigenIllConditioned : public ::testing::TestWithParam<SizeCase> {};

TEST_P(TileEigenIllConditioned, NoWorseThanDoubleSparseLu) {
  const SizeCase sc = GetParam();
  std::vector<OwnedTile> tiles;
  add_extreme_tiles(sc.rows, sc.cols,
                    {{{1e4, 1e4, 0.01, 0.01}, "high source and sink, low wires"},
                     {{1e4, 1e4, 0.01, 50.0}, "high source and sink, low row wires"},
                     {{1e4, 1e4, 50.0, 0.01}, "high source and sink, low column wires"}},
                    tiles);
  TileRng rng(0xbadc0deu + 7u * sc.rows + sc.cols);
  double worst_lu = 0;
  TileErrors worst{0, 0, 0, 0};
  for (const OwnedTile& t : tiles) {
    SCOPED_TRACE(describe(t));
    const std::vector<double> t_oracle = nodal_eigen::transfer(t.view());
    const double e_lu = max_relative_error(nodal_eigen::transfer_sparse_lu(t.view()), t_oracle);
    const TileErrors e = solver_errors(t, t_oracle, rng);
    const double tolerance = std::max(kTolerance, 10.0 * e_lu);
    EXPECT_LE(e.reference_t, tolerance) << "reference::tile_transfer; double SparseLU error " << e_lu;
    EXPECT_LE(e.reference_i, tolerance) << "reference::tile_currents; double SparseLU error " << e_lu;
    EXPECT_LE(e.cpu_t, tolerance) << "cpu::tile_transfer; double SparseLU error " << e_lu;
    EXPECT_LE(e.cpu_i, tolerance) << "cpu::tile_currents; double SparseLU error " << e_lu;
    worst_lu = std::max(worst_lu, e_lu);
    worst = {std::max(worst.reference_t, e.reference_t), std::max(worst.reference_i, e.reference_i),
             std::max(worst.cpu_t, e.cpu_t), std::max(worst.cpu_i, e.cpu_i)};
  }
  std::printf("[ ill-conditioned %dx%d, %zu tiles ] max rel. error: double SparseLU T %.1e | reference T %.1e "
              "I %.1e | cpu T %.1e I %.1e\n",
              sc.rows, sc.cols, tiles.size(), worst_lu, worst.reference_t, worst.reference_i, worst.cpu_t,
              worst.cpu_i);
}

INSTANTIATE_TEST_SUITE_P(Sizes, TileEigenIllConditioned,
                         ::testing::Values(SizeCase{1, 9, 0, true}, SizeCase{9, 1, 0, true}, SizeCase{8, 8, 0, true},
                                           SizeCase{32, 32, 0, true}, SizeCase{24, 40, 0, true},
                                           SizeCase{64, 64, 0, true}),
                         size_name);

}  // namespace
}  // namespace sxb
