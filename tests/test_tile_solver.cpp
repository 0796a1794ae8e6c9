// Fast CPU column sweep against the reference nodal solver, and the physics
// every solver must obey.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/crossbar/tile_solver.h"
#include "kernels/tile/cpu/tile_sweep.h"
#include "kernels/common/error.h"
#include "kernels/tile/reference/tile_reference.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

std::vector<double> reference_transfer(const TileView& t) {
  std::vector<double> T(static_cast<std::size_t>(t.rows) * t.cols);
  reference::tile_transfer(t, T.data());
  return T;
}

std::vector<double> sweep_transfer(const TileView& t) {
  std::vector<double> T(static_cast<std::size_t>(t.rows) * t.cols);
  cpu::tile_transfer(t, T.data());
  return T;
}

// The whole physical range: source/sink 0..10 kOhm, wires 0..50 Ohm, devices
// 1 kOhm..10 MOhm, and every device at G_max = 1/1 kOhm.
TEST(TileSolver, SweepMatchesReferenceOverPhysicalGrid) {
  const double ends[] = {0.0, 1.0, 100.0, 1000.0, 10000.0};
  const double wires[] = {0.0, 0.1, 2.5, 50.0};
  const int R = 12, C = 10;
  const std::vector<double> spread = test::random_conductances(R, C, 1e3, 1e7, 7);
  const std::vector<double> all_on(static_cast<std::size_t>(R) * C, 1e-3);
  double worst = 0.0;
  for (const auto* g : {&spread, &all_on})
    for (double rs : ends)
      for (double rk : ends)
        for (double wr : wires)
          for (double wc : wires) {
            const TileView t{R, C, g->data(), {rs, rk, wr, wc}};
            const double err = test::max_relative_error(sweep_transfer(t), reference_transfer(t));
            worst = std::max(worst, err);
            ASSERT_LE(err, 1e-9) << "r_source " << rs << " r_sink " << rk << " r_wire_row " << wr
                                 << " r_wire_col " << wc << (g == &all_on ? " all devices at G_max" : "");
          }
  // The corners of the grid again on 32 x 32 tiles.
  const std::vector<double> spread32 = test::random_conductances(32, 32, 1e3, 1e7, 8);
  const std::vector<double> on32(32 * 32, 1e-3);
  for (const auto* g : {&spread32, &on32})
    for (double rs : {0.0, 1000.0, 10000.0})
      for (double rk : {0.0, 1000.0, 10000.0})
        for (double wr : {0.0, 50.0})
          for (double wc : {0.0, 50.0}) {
            const TileView t{32, 32, g->data(), {rs, rk, wr, wc}};
            const double err = test::max_relative_error(sweep_transfer(t), reference_transfer(t));
            worst = std::max(worst, err);
            ASSERT_LE(err, 1e-9) << "32x32 r_source " << rs << " r_sink " << rk << " r_wire_row " << wr
                                 << " r_wire_col " << wc;
          }
  RecordProperty("worst_relative_error", std::to_string(worst));
  std::printf("worst relative error over the grid: %.3e\n", worst);
}

// The case that defeats a well-known iterative simulator: 1 kOhm source on 64 x 64.
TEST(TileSolver, SweepMatchesReferenceOnHardLargeTiles) {
  const std::vector<double> on(64 * 64, 1e-3);
  for (double r_end : {1000.0, 10000.0}) {
    const TileView t{64, 64, on.data(), {r_end, r_end, 50.0, 50.0}};
    EXPECT_LE(test::max_relative_error(sweep_transfer(t), reference_transfer(t)), 1e-9) << r_end;
  }
  const auto g = test::random_conductances(64, 64, 2e4, 2e5, 11);
  const TileView t{64, 64, g.data(), {1000.0, 1000.0, 2.5, 2.5}};
  EXPECT_LE(test::max_relative_error(sweep_transfer(t), reference_transfer(t)), 1e-9);
}

TEST(TileSolver, ShapesFromOneCellTo128) {
  const int shapes[][2] = {{1, 1}, {1, 16}, {16, 1}, {3, 40}, {40, 3}, {128, 128}};
  for (const auto& s : shapes) {
    const auto g = test::random_conductances(s[0], s[1], 2e4, 2e5, 3);
    const TileView t{s[0], s[1], g.data(), {}};
    EXPECT_LE(test::max_relative_error(sweep_transfer(t), reference_transfer(t)), 1e-9) << s[0] << "x" << s[1];
  }
}

TEST(TileSolver, ZeroParasiticsGiveIdealResultExactly) {
  const int R = 9, C = 7;
  const auto g = test::random_conductances(R, C, 1e3, 1e7, 5);
  const TileView t{R, C, g.data(), {0.0, 0.0, 0.0, 0.0}};
  for (const auto& T : {sweep_transfer(t), reference_transfer(t)})
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < C; ++j) EXPECT_EQ(T[j * R + i], g[i * C + j]);
  const auto v = test::random_voltages(R, 3, 0.3, 9);
  const auto I = tile_currents(t, v, Backend::Cpu);
  const auto ideal = ideal_currents(t, v);
  EXPECT_LE(test::max_relative_error(I, ideal), 1e-15);
}

// Superposition: T v equals the per-vector solve, which takes another path.
TEST(TileSolver, TransferTimesVoltageEqualsPerVectorSolve) {
  const int R = 20, C = 13;
  const auto g = test::random_conductances(R, C, 2e4, 2e5, 21);
  const TileView t{R, C, g.data(), {500.0, 100.0, 2.5, 2.5}};
  const auto T = sweep_transfer(t);
  const auto v = test::random_voltages(R, 4, 0.3, 22);
  const auto I = tile_currents(t, v, Backend::Cpu);
  std::vector<double> Tv(I.size(), 0.0);
  for (int n = 0; n < 4; ++n)
    for (int j = 0; j < C; ++j)
      for (int i = 0; i < R; ++i) Tv[n * C + j] += T[j * R + i] * v[n * R + i];
  EXPECT_LE(test::max_relative_error(Tv, I), 1e-12);
  std::vector<double> I_ref(I.size());
  reference::tile_currents(t, v.data(), 4, I_ref.data());
  EXPECT_LE(test::max_relative_error(I, I_ref), 1e-9);
}

double nf_mean(const TileView& t) { return nonideality_factor(t, sweep_transfer(t).data()).mean; }

TEST(TileSolver, NonidealityGrowsWithEveryParasiticResistance) {
  const int R = 16, C = 16;
  const auto g = test::random_conductances(R, C, 2e4, 2e5, 31);
  const double scales[] = {0.0, 0.5, 1.0, 2.0, 4.0};
  for (int which = 0; which < 4; ++which) {
    double previous = -1.0;
    for (double s : scales) {
      TileResistances res{500.0, 100.0, 2.5, 2.5};
      double* r[] = {&res.r_source, &res.r_sink, &res.r_wire_row, &res.r_wire_col};
      *r[which] *= s;
      const double nf = nf_mean(TileView{R, C, g.data(), res});
      EXPECT_GT(nf, previous) << "resistance " << which << " scale " << s;
      previous = nf;
    }
  }
}

TEST(TileSolver, NonidealityGrowsWithShareOfHighConductanceDevices) {
  const int R = 32, C = 32;
  const double g_min = 1.0 / 200e3, g_max = 1.0 / 20e3;
  std::vector<double> g(R * C, g_min);
  std::vector<int> order(R * C);
  for (int k = 0; k < R * C; ++k) order[k] = (k * 389) % (R * C);  // fixed scattered order
  double previous = -1.0;
  for (int step = 0; step <= 4; ++step) {
    for (int k = 0; k < step * R * C / 4; ++k) g[order[k]] = g_max;
    const double nf = nf_mean(TileView{R, C, g.data(), {}});
    EXPECT_GT(nf, previous) << "share " << step * 25 << "%";
    previous = nf;
  }
}

TEST(TileSolver, BatchOfMixedTilesMatchesSingleTiles) {
  TileBatch batch;
  const int shapes[][2] = {{4, 4}, {1, 7}, {7, 1}, {24, 40}, {16, 16}};
  const TileResistances res[] = {{500, 100, 2.5, 2.5}, {0, 0, 0, 0}, {10000, 10000, 50, 50}, {0, 100, 0, 2.5}, {50, 0, 1, 0}};
  for (int k = 0; k < 5; ++k) {
    const auto g = test::random_conductances(shapes[k][0], shapes[k][1], 1e3, 1e7, 40 + k);
    batch.add(shapes[k][0], shapes[k][1], g.data(), res[k]);
  }
  const auto T = transfer_matrices(batch, Backend::Cpu);
  for (std::size_t k = 0; k < batch.size(); ++k) {
    const auto single = reference_transfer(batch.tile(k));
    std::vector<double> part(T.begin() + batch.offset[k], T.begin() + batch.offset[k] + single.size());
    EXPECT_LE(test::max_relative_error(part, single), 1e-9) << "tile " << k;
  }
}

void expect_error(const TileView& t, const std::string& needle) {
  try {
    validate_tile(t, "tile.json");
    ADD_FAILURE() << "no error for " << needle;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tile.json"), std::string::npos) << e.what();
  }
}

TEST(TileSolver, BadInputNamesTheField) {
  std::vector<double> g(6, 1e-5);
  const TileView ok{2, 3, g.data(), {}};
  EXPECT_NO_THROW(validate_tile(ok));
  g[4] = -1e-5;
  expect_error(ok, "conductance[1][1]");
  g[4] = 0.0;
  expect_error(ok, "conductance[1][1]");
  g[4] = std::nan("");
  expect_error(ok, "conductance[1][1]");
  g[4] = 1e-5;
  TileView t = ok;
  t.res.r_source = -1.0;
  expect_error(t, "r_source");
  t = ok;
  t.res.r_wire_col = INFINITY;
  expect_error(t, "r_wire_col");
  t = ok;
  t.res.r_sink = std::nan("");
  expect_error(t, "r_sink");
  t = ok;
  t.rows = 0;
  expect_error(t, "rows");
  t = ok;
  t.cols = kMaxTileDim + 1;
  expect_error(t, "cols");
  const std::vector<double> v(4, 0.1);  // not a multiple of 3 rows... of 2 rows? 4 = 2 vectors: fine
  EXPECT_NO_THROW(tile_currents(ok, v, Backend::Cpu));
  EXPECT_THROW(tile_currents(ok, std::vector<double>(3, 0.1), Backend::Cpu), Error);
}

TEST(Backend, AutoFallsBackToCpuAndExplicitCudaExplainsWhy) {
  const Backend b = resolve(Backend::Auto);
  EXPECT_TRUE(b == Backend::Cpu || b == Backend::Cuda);
  EXPECT_THROW(parse_backend("gpu"), Error);
  EXPECT_EQ(parse_backend("cpu"), Backend::Cpu);
}

}  // namespace
}  // namespace sxb
