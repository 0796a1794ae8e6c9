// Independent validation of every tile solver (tests/support/tile_backends.h:
// reference, cpu, cuda_emulated; cuda in test_tile_eigen_gpu) against an
// Eigen sparse solve of the tile's nodal system (tests/support/nodal_eigen.h,
// which shares no code with kernels/ and is refined to ~1e-12). Checked per
// solver: transfer matrices, per-vector currents, and the front door's
// batched transfer_matrices with that solver.
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
#include "tests/support/nodal_eigen.h"
#include "tests/support/random_tile.h"
#include "tests/support/tile_backends.h"

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

using test_support::SolverUnderTest;

// One size on one solver.
struct EigenCase {
  SizeCase size;
  SolverUnderTest solver;
};

// Printed by gtest (and ctest's test list) instead of the raw bytes.
void PrintTo(const EigenCase& c, std::ostream* os) {
  *os << c.size.rows << "x" << c.size.cols << " on " << c.solver.name;
}

std::string case_name(const ::testing::TestParamInfo<EigenCase>& info) {
  return std::to_string(info.param.size.rows) + "x" + std::to_string(info.param.size.cols) + "_" +
         info.param.solver.name;
}

// Every size on every solver whose max_dim it fits.
std::vector<EigenCase> cases(const std::vector<SizeCase>& sizes) {
  std::vector<EigenCase> out;
  for (const SolverUnderTest& s : test_support::solvers_under_test(true))
    for (const SizeCase& sc : sizes)
      if (sc.rows <= s.max_dim && sc.cols <= s.max_dim) out.push_back({sc, s});
  return out;
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
  double t, i;  // transfer matrix, per-vector currents
  double max() const { return std::max(t, i); }
};

// Errors of solver `s` on one tile; also checks that the oracle's transfer
// matrix and per-vector currents agree.
TileErrors solver_errors(const SolverUnderTest& s, const OwnedTile& t, const std::vector<double>& t_oracle,
                         TileRng& rng) {
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

  return TileErrors{max_relative_error(test_support::transfer_on(s, view), t_oracle),
                    max_relative_error(test_support::currents_on(s, view, v), i_oracle)};
}

class TileEigen : public ::testing::TestWithParam<EigenCase> {
 protected:
  void SetUp() override { SXB_SKIP_UNLESS_USABLE(GetParam().solver.capability()); }
};

TEST_P(TileEigen, SolverMatchesOracle) {
  const SizeCase sc = GetParam().size;
  const SolverUnderTest& s = GetParam().solver;
  const std::vector<OwnedTile> tiles = make_tiles(sc);
  TileRng rng(0xc0ffeeu + 7u * sc.rows + sc.cols);

  TileErrors worst{0, 0};
  double worst_batch = 0;
  std::string worst_tile;
  TileBatch batch;
  std::vector<std::vector<double>> oracle_transfer;
  for (const OwnedTile& t : tiles) {
    SCOPED_TRACE(describe(t));
    oracle_transfer.push_back(nodal_eigen::transfer(t.view()));
    const TileErrors e = solver_errors(s, t, oracle_transfer.back(), rng);
    if (e.max() > worst.max()) worst_tile = describe(t);
    EXPECT_LE(e.t, kTolerance) << s.name << " transfer";
    EXPECT_LE(e.i, kTolerance) << s.name << " currents";
    worst = {std::max(worst.t, e.t), std::max(worst.i, e.i)};
    batch.add(t.rows, t.cols, t.conductance.data(), t.res);
  }

  // The engine's front door with this solver, all tiles of this size in one batch.
  std::vector<std::string> fallbacks;
  const std::vector<double> t_batch =
      transfer_matrices(batch, *s.solver, [&](const std::string& line) { fallbacks.push_back(line); });
  EXPECT_TRUE(fallbacks.empty()) << fallbacks.front();
  ASSERT_EQ(t_batch.size(), batch.total_cells());
  for (std::size_t k = 0; k < batch.size(); ++k) {
    const auto first = t_batch.begin() + static_cast<std::ptrdiff_t>(batch.offset[k]);
    const std::vector<double> tk(first, first + static_cast<std::ptrdiff_t>(oracle_transfer[k].size()));
    const double e = max_relative_error(tk, oracle_transfer[k]);
    EXPECT_LE(e, kTolerance) << "transfer_matrices(" << s.name << "), " << describe(tiles[k]);
    worst_batch = std::max(worst_batch, e);
  }

  std::printf("[ max rel. error %dx%d, %zu tiles, %s ] T %.1e I %.1e | transfer_matrices %.1e; worst tile: %s\n",
              sc.rows, sc.cols, tiles.size(), s.name.c_str(), worst.t, worst.i, worst_batch, worst_tile.c_str());
}

INSTANTIATE_TEST_SUITE_P(Sizes, TileEigen,
                         ::testing::ValuesIn(cases({{1, 1, 8, true}, {1, 9, 8, true}, {9, 1, 8, true}, {8, 8, 8, true},
                                                    {16, 16, 6, true}, {32, 32, 4, true}, {24, 40, 4, true},
                                                    {64, 64, 2, true}, {128, 128, 0, false}})),
                         case_name);

class TileEigenIllConditioned : public ::testing::TestWithParam<EigenCase> {
 protected:
  void SetUp() override { SXB_SKIP_UNLESS_USABLE(GetParam().solver.capability()); }
};

TEST_P(TileEigenIllConditioned, NoWorseThanDoubleSparseLu) {
  const SizeCase sc = GetParam().size;
  const SolverUnderTest& s = GetParam().solver;
  std::vector<OwnedTile> tiles;
  add_extreme_tiles(sc.rows, sc.cols,
                    {{{1e4, 1e4, 0.01, 0.01}, "high source and sink, low wires"},
                     {{1e4, 1e4, 0.01, 50.0}, "high source and sink, low row wires"},
                     {{1e4, 1e4, 50.0, 0.01}, "high source and sink, low column wires"}},
                    tiles);
  TileRng rng(0xbadc0deu + 7u * sc.rows + sc.cols);
  double worst_lu = 0;
  TileErrors worst{0, 0};
  for (const OwnedTile& t : tiles) {
    SCOPED_TRACE(describe(t));
    const std::vector<double> t_oracle = nodal_eigen::transfer(t.view());
    const double e_lu = max_relative_error(nodal_eigen::transfer_sparse_lu(t.view()), t_oracle);
    const TileErrors e = solver_errors(s, t, t_oracle, rng);
    const double tolerance = std::max(kTolerance, 10.0 * e_lu);
    EXPECT_LE(e.t, tolerance) << s.name << " transfer; double SparseLU error " << e_lu;
    EXPECT_LE(e.i, tolerance) << s.name << " currents; double SparseLU error " << e_lu;
    worst_lu = std::max(worst_lu, e_lu);
    worst = {std::max(worst.t, e.t), std::max(worst.i, e.i)};
  }
  std::printf("[ ill-conditioned %dx%d, %zu tiles, %s ] max rel. error: double SparseLU T %.1e | T %.1e I %.1e\n",
              sc.rows, sc.cols, tiles.size(), s.name.c_str(), worst_lu, worst.t, worst.i);
}

INSTANTIATE_TEST_SUITE_P(Sizes, TileEigenIllConditioned,
                         ::testing::ValuesIn(cases({{1, 9, 0, true}, {9, 1, 0, true}, {8, 8, 0, true},
                                                    {32, 32, 0, true}, {24, 40, 0, true}, {64, 64, 0, true}})),
                         case_name);

}  // namespace
}  // namespace sxb
