// Every fast tile solver against the reference nodal solver, and the physics
// every solver must obey: one table of cases, run on each solver of
// tests/support/tile_backends.h (cpu, cuda_emulated here; cuda in the
// test_tile_solver_gpu binary, SKIPPED without a GPU). Tolerances per
// operation: transfer and currents 1e-9 of the reference, T v against the
// per-vector solve 1e-12, zero parasitics exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "engine/crossbar/tile_solver.h"
#include "kernels/tile/cpu/tile_sweep.h"
#include "kernels/common/error.h"
#include "kernels/tile/reference/tile_reference.h"
#include "tests/support/tile_backends.h"
#include "tests/test_helpers.h"

namespace sxb {
namespace {

std::vector<double> reference_transfer(const TileView& t) {
  std::vector<double> T(static_cast<std::size_t>(t.rows) * t.cols);
  reference::tile_transfer(t, T.data());
  return T;
}

using test_support::SolverUnderTest;

class TileSolverOps : public ::testing::TestWithParam<SolverUnderTest> {
 protected:
  void SetUp() override { SXB_SKIP_UNLESS_USABLE(GetParam().capability()); }
  const SolverUnderTest& s() const { return GetParam(); }
  bool fits(int rows, int cols) const { return rows <= s().max_dim && cols <= s().max_dim; }
  std::vector<double> sweep_transfer(const TileView& t) const { return test_support::transfer_on(s(), t); }
  std::vector<double> currents(const TileView& t, const std::vector<double>& v) const {
    return test_support::currents_on(s(), t, v);
  }
};

// The whole physical range: source/sink 0..10 kOhm, wires 0..50 Ohm, devices
// 1 kOhm..10 MOhm, and every device at G_max = 1/1 kOhm.
TEST_P(TileSolverOps, MatchesReferenceOverPhysicalGrid) {
  // A slow (emulated) solver runs the corners of the grid only.
  const std::vector<double> ends = s().slow ? std::vector<double>{0.0, 10000.0} : std::vector<double>{0.0, 1.0, 100.0, 1000.0, 10000.0};
  const std::vector<double> wires = s().slow ? std::vector<double>{0.0, 50.0} : std::vector<double>{0.0, 0.1, 2.5, 50.0};
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
  if (s().slow) return;
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
TEST_P(TileSolverOps, MatchesReferenceOnHardLargeTiles) {
  if (!fits(64, 64)) GTEST_SKIP() << s().name << " is tested up to " << s().max_dim << " rows and columns";
  const std::vector<double> on(64 * 64, 1e-3);
  for (double r_end : {1000.0, 10000.0}) {
    const TileView t{64, 64, on.data(), {r_end, r_end, 50.0, 50.0}};
    EXPECT_LE(test::max_relative_error(sweep_transfer(t), reference_transfer(t)), 1e-9) << r_end;
  }
  const auto g = test::random_conductances(64, 64, 2e4, 2e5, 11);
  const TileView t{64, 64, g.data(), {1000.0, 1000.0, 2.5, 2.5}};
  EXPECT_LE(test::max_relative_error(sweep_transfer(t), reference_transfer(t)), 1e-9);
}

TEST_P(TileSolverOps, ShapesFromOneCellTo128) {
  const int shapes[][2] = {{1, 1}, {1, 16}, {16, 1}, {3, 40}, {40, 3}, {128, 128}};
  for (const auto& s : shapes) {
    if (!fits(s[0], s[1])) continue;
    const auto g = test::random_conductances(s[0], s[1], 2e4, 2e5, 3);
    const TileView t{s[0], s[1], g.data(), {}};
    EXPECT_LE(test::max_relative_error(sweep_transfer(t), reference_transfer(t)), 1e-9) << s[0] << "x" << s[1];
  }
}

TEST_P(TileSolverOps, ZeroParasiticsGiveIdealResultExactly) {
  const int R = 9, C = 7;
  const auto g = test::random_conductances(R, C, 1e3, 1e7, 5);
  const TileView t{R, C, g.data(), {0.0, 0.0, 0.0, 0.0}};
  for (const auto& T : {sweep_transfer(t), reference_transfer(t)})
    for (int i = 0; i < R; ++i)
      for (int j = 0; j < C; ++j) EXPECT_EQ(T[j * R + i], g[i * C + j]);
  const auto v = test::random_voltages(R, 3, 0.3, 9);
  const auto I = currents(t, v);
  const auto ideal = ideal_currents(t, v);
  EXPECT_LE(test::max_relative_error(I, ideal), 1e-15);
}

// Superposition: T v equals the per-vector solve, which takes another path.
TEST_P(TileSolverOps, TransferTimesVoltageEqualsPerVectorSolve) {
  const int R = 20, C = 13;
  const auto g = test::random_conductances(R, C, 2e4, 2e5, 21);
  const TileView t{R, C, g.data(), {500.0, 100.0, 2.5, 2.5}};
  const auto T = sweep_transfer(t);
  const auto v = test::random_voltages(R, 4, 0.3, 22);
  const auto I = currents(t, v);
  std::vector<double> Tv(I.size(), 0.0);
  for (int n = 0; n < 4; ++n)
    for (int j = 0; j < C; ++j)
      for (int i = 0; i < R; ++i) Tv[n * C + j] += T[j * R + i] * v[n * R + i];
  EXPECT_LE(test::max_relative_error(Tv, I), 1e-12);
  std::vector<double> I_ref(I.size());
  reference::tile_currents(t, v.data(), 4, I_ref.data());
  EXPECT_LE(test::max_relative_error(I, I_ref), 1e-9);
}

TEST_P(TileSolverOps, NonidealityGrowsWithEveryParasiticResistance) {
  const auto nf_mean = [&](const TileView& t) { return nonideality_factor(t, sweep_transfer(t).data()).mean; };
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

TEST_P(TileSolverOps, NonidealityGrowsWithShareOfHighConductanceDevices) {
  const auto nf_mean = [&](const TileView& t) { return nonideality_factor(t, sweep_transfer(t).data()).mean; };
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

TEST_P(TileSolverOps, BatchOfMixedTilesMatchesSingleTiles) {
  TileBatch batch;
  const int shapes[][2] = {{4, 4}, {1, 7}, {7, 1}, {24, 40}, {16, 16}};
  const TileResistances res[] = {{500, 100, 2.5, 2.5}, {0, 0, 0, 0}, {10000, 10000, 50, 50}, {0, 100, 0, 2.5}, {50, 0, 1, 0}};
  for (int k = 0; k < 5; ++k) {
    const auto g = test::random_conductances(shapes[k][0], shapes[k][1], 1e3, 1e7, 40 + k);
    batch.add(shapes[k][0], shapes[k][1], g.data(), res[k]);
  }
  const auto T = test_support::transfer_on(s(), batch);
  for (std::size_t k = 0; k < batch.size(); ++k) {
    const auto single = reference_transfer(batch.tile(k));
    std::vector<double> part(T.begin() + batch.offset[k], T.begin() + batch.offset[k] + single.size());
    EXPECT_LE(test::max_relative_error(part, single), 1e-9) << "tile " << k;
  }
}

// Mixed shapes in one batch, each under every resistance case (zeros are
// shorts), with random devices in [20 kOhm, 200 kOhm] and with every device
// at 1 kOhm; 128 x 128 only for the first and last case, to keep the
// reference solves short. Shapes beyond the solver's max_dim are left out.
TileBatch mixed_batch(int max_dim) {
  const int shapes[][2] = {{1, 1}, {1, 17}, {17, 1}, {8, 8}, {24, 40}, {64, 64}, {128, 128}};
  const TileResistances cases[] = {
      {500.0, 100.0, 2.5, 2.5},   // defaults
      {0.0, 100.0, 2.5, 2.5},     // r_source = 0
      {500.0, 0.0, 2.5, 2.5},     // r_sink = 0
      {500.0, 100.0, 0.0, 2.5},   // r_wire_row = 0
      {500.0, 100.0, 2.5, 0.0},   // r_wire_col = 0
      {0.0, 0.0, 0.0, 0.0},       // ideal
      {1e4, 1e4, 50.0, 50.0},     // large source, sink and wires
  };
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> device(1.0 / 200e3, 1.0 / 20e3);
  TileBatch batch;
  for (const auto& s : shapes) {
    const int R = s[0], C = s[1];
    if (R > max_dim || C > max_dim) continue;
    std::vector<double> g(static_cast<std::size_t>(R) * C);
    for (std::size_t c = 0; c < std::size(cases); ++c) {
      if (R == 128 && c != 0 && c + 1 != std::size(cases)) continue;
      const TileResistances& res = cases[c];
      for (double& x : g) x = device(rng);
      batch.add(R, C, g.data(), res);
      std::fill(g.begin(), g.end(), 1.0 / 1e3);
      batch.add(R, C, g.data(), res);
    }
  }
  return batch;
}

std::vector<double> reference_transfer(const TileBatch& b) {
  std::vector<double> T(b.total_cells());
  for (std::size_t k = 0; k < b.size(); ++k) reference::tile_transfer(b.tile(k), T.data() + b.offset[k]);
  return T;
}

std::string describe(const TileBatch& b, std::size_t k) {
  const TileResistances& r = b.resistances_of(k);
  return "tile " + std::to_string(k) + " (" + std::to_string(b.rows[k]) + " x " + std::to_string(b.cols[k]) +
         ", r_source " + std::to_string(r.r_source) + ", r_sink " + std::to_string(r.r_sink) + ", r_wire_row " +
         std::to_string(r.r_wire_row) + ", r_wire_col " + std::to_string(r.r_wire_col) + ")";
}

// max |T - T_ref| / max |T_ref| per tile <= 1e-9, and every value finite.
void expect_matches_reference(const TileBatch& b, const std::vector<double>& T, const std::vector<double>& ref) {
  double worst = 0.0;
  for (std::size_t k = 0; k < b.size(); ++k) {
    const std::size_t begin = b.offset[k], end = begin + static_cast<std::size_t>(b.rows[k]) * b.cols[k];
    const std::vector<double> part(T.begin() + begin, T.begin() + end), want(ref.begin() + begin, ref.begin() + end);
    const double err = test::max_relative_error(part, want);
    worst = std::max(worst, err);
    EXPECT_LE(err, 1e-9) << describe(b, k);
  }
  ::testing::Test::RecordProperty("worst_relative_error", std::to_string(worst));
}

TEST_P(TileSolverOps, MixedBatchMatchesReference) {
  // 128 x 128 reference solves only where the GPU is tested (ShapesFromOneCellTo128 covers 128 on the CPU).
  const TileBatch batch = mixed_batch(std::min(s().max_dim, s().on_gpu ? 128 : 64));
  expect_matches_reference(batch, test_support::transfer_on(s(), batch), reference_transfer(batch));
}

TEST_P(TileSolverOps, BatchWideResistances) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> device(1.0 / 200e3, 1.0 / 20e3);
  TileBatch batch;
  for (const auto& sh : {std::pair{64, 64}, std::pair{3, 64}, std::pair{64, 3}, std::pair{33, 31}}) {
    if (!fits(sh.first, sh.second)) continue;
    std::vector<double> g(static_cast<std::size_t>(sh.first) * sh.second);
    for (double& x : g) x = device(rng);
    batch.add(sh.first, sh.second, g.data());
  }
  ASSERT_GT(batch.size(), 0u);
  expect_matches_reference(batch, test_support::transfer_on(s(), batch), reference_transfer(batch));
}

TEST_P(TileSolverOps, ZeroParasiticsGiveIdealResultExactlyOnDevicesUpTo1kOhm) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> device(1.0 / 200e3, 1.0 / 1e3);
  const int R = 9, C = 7;
  std::vector<double> g(R * C);
  for (double& x : g) x = device(rng);
  const std::vector<double> T = sweep_transfer(TileView{R, C, g.data(), {0.0, 0.0, 0.0, 0.0}});
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) EXPECT_EQ(T[j * R + i], g[i * C + j]) << "row " << i << " column " << j;
}

TEST_P(TileSolverOps, EmptyBatch) {
  const TileBatch empty;
  std::vector<std::size_t> failed{1};
  EXPECT_NO_THROW(failed = s().solver->transfer(empty, nullptr));
  EXPECT_TRUE(failed.empty());
}

#ifdef SXB_GPU_INSTANCES
INSTANTIATE_TEST_SUITE_P(Gpu, TileSolverOps, ::testing::ValuesIn(test_support::solvers_under_test(false)),
                         test_support::solver_name);
#else
INSTANTIATE_TEST_SUITE_P(Cpu, TileSolverOps, ::testing::ValuesIn(test_support::solvers_under_test(false)),
                         test_support::solver_name);

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

// The front door gives what the chosen solver gives.
TEST(FrontDoor, CpuBackendIsTheCpuSolver) {
  const int R = 20, C = 13;
  const auto g = test::random_conductances(R, C, 2e4, 2e5, 21);
  const TileView t{R, C, g.data(), {500.0, 100.0, 2.5, 2.5}};
  const auto v = test::random_voltages(R, 4, 0.3, 22);
  std::vector<double> I(4 * C);
  cpu_tile_solver().currents(t, v.data(), 4, I.data());
  EXPECT_EQ(tile_currents(t, v, Backend::Cpu), I);
  TileBatch one;
  one.add(R, C, g.data(), t.res);
  std::vector<double> T(one.total_cells());
  EXPECT_TRUE(cpu_tile_solver().transfer(one, T.data()).empty());
  EXPECT_EQ(transfer_matrices(one, Backend::Cpu), T);
  const TileSolution both = solve_tile(ValidTile(R, C, g, t.res), v, true, Backend::Cpu);
  EXPECT_EQ(both.currents, I);
  EXPECT_EQ(both.transfer, T);
  EXPECT_EQ(both.backend, Backend::Cpu);
}

// A solver that cannot, throws, or fails some tiles: the front door solves
// those with the reference and logs one line naming the solver.
class BrokenSolver final : public TileSolver {
 public:
  enum Mode { Refuses, Throws, FailsOddTiles } mode;
  explicit BrokenSolver(Mode m) : mode(m) {}
  const char* name() const override { return "broken"; }
  std::string device() const override { return "nowhere"; }
  std::string supports(const TileView&) const override { return mode == Refuses ? "not here" : ""; }
  std::string supports(const TileBatch&) const override { return mode == Refuses ? "not here" : ""; }
  std::vector<std::size_t> transfer(const TileBatch& b, double* out) const override {
    if (mode == Throws) throw Error("out of luck");
    std::vector<std::size_t> failed;
    for (std::size_t k = 0; k < b.size(); ++k) {
      const std::size_t n = static_cast<std::size_t>(b.rows[k]) * b.cols[k];
      std::fill(out + b.offset[k], out + b.offset[k] + n, k % 2 ? -1.0 : 0.0);
      if (k % 2) failed.push_back(k);
      else reference::tile_transfer(b.tile(k), out + b.offset[k]);
    }
    return failed;
  }
  void currents(const TileView&, const double*, int, double*) const override { throw Error("out of luck"); }
};

TEST(FrontDoor, FallsBackToTheReferenceAndSaysSo) {
  TileBatch batch;
  for (int k = 0; k < 3; ++k) {
    const auto g = test::random_conductances(5, 4, 2e4, 2e5, 60 + k);
    batch.add(5, 4, g.data());
  }
  const std::vector<double> want = reference_transfer(batch);
  for (auto mode : {BrokenSolver::Refuses, BrokenSolver::Throws, BrokenSolver::FailsOddTiles}) {
    std::vector<std::string> lines;
    const SolverLog log = [&](const std::string& line) { lines.push_back(line); };
    EXPECT_EQ(transfer_matrices(batch, BrokenSolver(mode), log), want) << "mode " << mode;
    ASSERT_EQ(lines.size(), 1u) << "mode " << mode;
    EXPECT_EQ(lines[0].rfind("tile solver broken: ", 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find("with the reference"), std::string::npos) << lines[0];
    if (mode == BrokenSolver::FailsOddTiles) EXPECT_NE(lines[0].find("1 of 3 tiles failed"), std::string::npos) << lines[0];
  }
  std::vector<std::string> lines;
  const TileView t = batch.tile(0);
  const auto v = test::random_voltages(5, 2, 0.3, 61);
  std::vector<double> I_ref(8);
  reference::tile_currents(t, v.data(), 2, I_ref.data());
  EXPECT_EQ(tile_currents(t, v, BrokenSolver(BrokenSolver::Throws), [&](const std::string& l) { lines.push_back(l); }),
            I_ref);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("failed: out of luck"), std::string::npos) << lines[0];
}

TEST(Device, OneChoiceForSolverAndNetwork) {
  EXPECT_EQ(parse_device("cpu", "device"), Device::Cpu);
  EXPECT_EQ(parse_device("auto", "device"), Device::Auto);
  EXPECT_THROW(parse_device("reference", "device"), Error);  // a solver-only choice
  EXPECT_EQ(parse_backend("reference"), Backend::Reference);
  EXPECT_EQ(backend_on(parse_device("cuda", "device")), Backend::Cuda);
  EXPECT_EQ(resolve_device(Device::Auto, {false, "none"}, "x"), Device::Cpu);
  EXPECT_EQ(resolve_device(Device::Auto, {true, ""}, "x"), Device::Cuda);
  try {
    resolve_device(Device::Cuda, {false, "no GPU here"}, "tile solver");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "tile solver: cuda requested, but no GPU here");
  }
  const CudaCapability tile = cuda_tile_capability();
  EXPECT_EQ(tile.usable, tile.reason.empty());
  if (!tile.usable) EXPECT_THROW(transfer_matrices(TileBatch{}, Backend::Cuda), Error);
}

#endif  // SXB_GPU_INSTANCES

}  // namespace
}  // namespace sxb
