// The batched (lanes) CPU sweep: its kernels against plain per-tile loops,
// and a tile's transfer matrix independent of the batch it is solved in.
#include <gtest/gtest.h>
#include <omp.h>

#include <random>
#include <type_traits>
#include <vector>

#include "kernels/tile/cpu/column_admittance.h"
#include "kernels/tile/cpu/dense_small.h"
#include "kernels/tile/cpu/lane_column.h"
#include "kernels/tile/cpu/lane_dense.h"
#include "kernels/tile/cpu/lane_sweep.h"
#include "kernels/tile/cpu/tile_sweep.h"
#include "kernels/tile/reference/tile_reference.h"
#include "tests/test_helpers.h"

namespace sxb::cpu {
namespace {

std::size_t at(int i, int j, int n) { return static_cast<std::size_t>(i) + static_cast<std::size_t>(j) * n; }

// Lane l of an n x n lane matrix as a plain column-major matrix.
template <int W>
std::vector<double> lane_of(LaneBuffer<W>& A, int n, int l) {
  std::vector<double> out(static_cast<std::size_t>(n) * n);
  for (std::size_t k = 0; k < out.size(); ++k) out[k] = A[k][l];
  return out;
}

// E per lane: symmetric, I + E positive definite, diagonal-dominant at
// `scale` (1e-6: a word-line segment's Y / g_w; 1: far from the identity).
template <int W>
LaneBuffer<W> random_shift(int n, double scale, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  LaneBuffer<W> E;
  E.resize(static_cast<std::size_t>(n) * n);
  for (int l = 0; l < W; ++l)
    for (int j = 0; j < n; ++j)
      for (int i = j; i < n; ++i) {
        const double v = i == j ? scale * (1.0 + 0.5 * u(rng)) : scale * u(rng) / n;
        E[at(i, j, n)][l] = v;
        E[at(j, i, n)][l] = v;
      }
  return E;
}

// The kernels at both widths (lanes.h).
template <typename Width>
class LaneKernels : public ::testing::Test {};
using Widths = ::testing::Types<std::integral_constant<int, 4>, std::integral_constant<int, 8>>;
TYPED_TEST_SUITE(LaneKernels, Widths);

TYPED_TEST(LaneKernels, InverseMatchesPerTileInverseAndKeepsSmallDifferencesExact) {
  constexpr int W = TypeParam::value;
  for (const int n : {8, 16, 24, 64})
    for (const double scale : {1e-6, 1.0}) {
      LaneBuffer<W> E = random_shift<W>(n, scale, 7 + n), panels, N;
      N.resize(E.size());
      std::copy(E.data(), E.data() + E.size(), N.data());
      panels.resize(2 * static_cast<std::size_t>(n) * kLanePivots);
      LaneMask<W> bad = {};
      lane_invert_spd<W>(n, N.data(), panels.data(), bad);
      for (int l = 0; l < W; ++l) {
        EXPECT_EQ(bad[l], 0) << "lane " << l;
        const std::vector<double> El = lane_of(E, n, l);
        std::vector<double> M = El;
        for (int i = 0; i < n; ++i) M[at(i, i, n)] += 1.0;
        ASSERT_TRUE(invert_spd(n, M.data()));
        // N = (I + E)^{-1} - I = -E M: no cancellation, unlike M - I.
        double worst = 0.0;
        for (int j = 0; j < n; ++j)
          for (int i = j; i < n; ++i) {
            long double want = 0.0L;
            for (int k = 0; k < n; ++k) want -= static_cast<long double>(El[at(i, k, n)]) * M[at(k, j, n)];
            const double got = N[at(i, j, n)][l];
            const double err = std::abs(got - static_cast<double>(want)) / (i == j ? scale : scale / n);
            worst = std::max(worst, err);
          }
        EXPECT_LE(worst, 1e-12) << "n " << n << " scale " << scale << " lane " << l;
      }
    }
}

TYPED_TEST(LaneKernels, InverseMarksOnlyTheLaneThatIsNotPositiveDefinite) {
  constexpr int W = TypeParam::value;
  const int n = 16;
  LaneBuffer<W> E = random_shift<W>(n, 0.1, 3), panels;
  E[at(5, 5, n)][3] = -2.0;  // I + E has a negative pivot in lane 3
  LaneBuffer<W> N;
  N.resize(E.size());
  std::copy(E.data(), E.data() + E.size(), N.data());
  panels.resize(2 * static_cast<std::size_t>(n) * kLanePivots);
  LaneMask<W> bad = {};
  lane_invert_spd<W>(n, N.data(), panels.data(), bad);
  for (int l = 0; l < W; ++l) EXPECT_EQ(bad[l] != 0, l == 3) << "lane " << l;
}

TYPED_TEST(LaneKernels, ShiftedProductMatchesNaiveLoops) {
  constexpr int W = TypeParam::value;
  const int n = 24;
  LaneBuffer<W> N = random_shift<W>(n, 0.3, 11), X, C;
  for (const int m : {1, 2, 3, 4, 7}) {
    X.resize(static_cast<std::size_t>(n) * m);
    C.resize(X.size());
    for (std::size_t k = 0; k < X.size(); ++k)
      for (int l = 0; l < W; ++l) X[k][l] = std::sin(1.0 + k + 0.1 * l);
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < j; ++i) N[at(i, j, n)] = Lanes<W>{} + 1e300;  // the upper triangle is not read
    lane_multiply_shifted<W>(n, m, N.data(), X.data(), C.data());
    for (int l = 0; l < W; ++l)
      for (int c = 0; c < m; ++c)
        for (int i = 0; i < n; ++i) {
          double want = X[at(i, c, n)][l];
          for (int k = 0; k < n; ++k) want += N[i >= k ? at(i, k, n) : at(k, i, n)][l] * X[at(k, c, n)][l];
          EXPECT_NEAR(C[at(i, c, n)][l], want, 1e-13 * (1.0 + std::abs(want))) << "m " << m << " lane " << l;
        }
  }
}

// lane_bit_line + lane_add_bit_line from zero against add_column_admittance,
// for every circuit of a bit line (rows padded to n).
TYPED_TEST(LaneKernels, BitLineMatchesColumnAdmittance) {
  constexpr int W = TypeParam::value;
  using Lanes = cpu::Lanes<W>;
  const int R = 13, n = 16;
  const auto g_all = test::random_conductances(R, W, 1e3, 1e6, 5);  // lane l = column l
  for (const double r_wire_col : {0.0, 2.5})
    for (const double r_sink : {0.0, 100.0}) {
      LaneBuffer<W> g, rho, k, a, e, scratch, A;
      for (auto* v : {&g, &rho, &k, &a, &e, &scratch}) v->resize(n);
      A.resize(static_cast<std::size_t>(n) * n);
      for (int i = 0; i < n; ++i) g[i] = Lanes{};
      for (int i = 0; i < R; ++i)
        for (int l = 0; l < W; ++l) g[i][l] = g_all[static_cast<std::size_t>(i) * W + l];
      const Lanes g_wire = Lanes{} + (r_wire_col > 0 ? 1.0 / r_wire_col : 0.0);
      const Lanes g_sink = Lanes{} + (r_sink > 0 ? 1.0 / r_sink : 0.0);
      lane_bit_line<W>(R, n, g.data(), r_wire_col > 0, r_sink > 0, g_wire, g_sink, rho.data(), k.data(), a.data(),
                       scratch.data());
      Lanes y_max = {};
      lane_add_bit_line<W>(n, A.data(), LaneYSource::Zero, g_wire, g.data(), rho.data(), k.data(), e.data(), false,
                           Lanes{}, y_max);
      for (int l = 0; l < W; ++l) {
        std::vector<double> S(static_cast<std::size_t>(R) * R, 0.0), a_want(R), scratch_1;
        add_column_admittance(R, g_all.data() + l, W, r_wire_col, r_sink, S.data(), a_want.data(), scratch_1);
        double scale = 0.0;
        for (double v : S) scale = std::max(scale, std::abs(v));
        for (int j = 0; j < n; ++j)
          for (int i = j; i < n; ++i) {
            const double want = i < R && j < R ? S[at(i, j, R)] : 0.0;
            EXPECT_NEAR(A[at(i, j, n)][l], want, 1e-13 * scale)
                << "r_wire_col " << r_wire_col << " r_sink " << r_sink << " (" << i << "," << j << ") lane " << l;
          }
        for (int i = 0; i < n; ++i)
          EXPECT_NEAR(a[i][l], i < R ? a_want[i] : 0.0, 1e-13 * scale) << "a[" << i << "] lane " << l;
      }
    }
}

// --- The batch driver ------------------------------------------------------

struct OneTile {
  int rows, cols;
  std::vector<double> g;
  TileResistances res;
};

std::vector<double> solve(const std::vector<const OneTile*>& tiles, bool per_tile_res, int threads,
                          LaneUse use = LaneUse::width8) {
  TileBatch batch;
  for (const OneTile* t : tiles) batch.add(t->rows, t->cols, t->g.data(), t->res);
  if (!per_tile_res) {
    batch.per_tile_resistances = false;
    batch.resistances = {tiles.front()->res};
  }
  std::vector<double> T(batch.total_cells());
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  const auto failed = batch_transfer(batch, T.data(), use);
  omp_set_num_threads(saved);
  EXPECT_TRUE(failed.empty());
  return T;
}

// A tile's T is bit-identical whatever else is in its batch (other tiles of
// its shape, other shapes, padding lanes), wherever it sits, and for any
// thread count; and it matches the reference solver. At both lane widths
// (forced), without lanes, and with this CPU's choice.
class LaneSweepUse : public ::testing::TestWithParam<LaneUse> {};

TEST_P(LaneSweepUse, TileResultDoesNotDependOnTheBatch) {
  const LaneUse use = GetParam();
  const TileResistances res{500.0, 100.0, 2.5, 2.5};
  std::vector<OneTile> tiles;
  for (int k = 0; k < 19; ++k) tiles.push_back({24, 20, test::random_conductances(24, 20, 2e4, 2e5, 40 + k), res});
  for (int k = 0; k < 5; ++k) tiles.push_back({9, 31, test::random_conductances(9, 31, 1e3, 1e6, 90 + k), res});
  const OneTile& probe = tiles[3];
  const std::size_t cells = static_cast<std::size_t>(probe.rows) * probe.cols;

  const std::vector<double> alone = solve({&probe}, true, 1, use);
  const auto reference = [&] {
    std::vector<double> T(cells);
    reference::tile_transfer(TileView{probe.rows, probe.cols, probe.g.data(), probe.res}, T.data());
    return T;
  }();
  EXPECT_LE(test::max_relative_error(alone, reference), 1e-9);

  // In a full batch of 24 (three lane groups of its shape, one padded; five of another shape).
  std::vector<const OneTile*> all;
  for (const auto& t : tiles) all.push_back(&t);
  for (const int threads : {1, 2, 3}) {
    const std::vector<double> T = solve(all, false, threads, use);
    EXPECT_EQ(std::vector<double>(T.begin() + 3 * cells, T.begin() + 4 * cells), alone) << threads << " threads";
  }
  // At other positions, with fewer companions, in reversed order.
  for (const std::size_t companions : {1u, 7u, 8u, 12u}) {
    std::vector<const OneTile*> part;
    for (std::size_t k = tiles.size(); k-- > 0 && part.size() < companions;)
      if (&tiles[k] != &probe) part.push_back(&tiles[k]);
    part.push_back(&probe);
    const std::vector<double> T = solve(part, true, 2, use);
    EXPECT_EQ(std::vector<double>(T.end() - static_cast<std::ptrdiff_t>(cells), T.end()), alone)
        << companions << " companions";
  }
}

INSTANTIATE_TEST_SUITE_P(Lanes, LaneSweepUse,
                         ::testing::Values(LaneUse::width8, LaneUse::width4, LaneUse::native, LaneUse::never));

// The lanes agree with the per-tile sweep to rounding, and the two widths
// give the same bits (the same arithmetic per lane, in the same order).
TEST(LaneSweep, LanesMatchThePerTileSweepAndEachOther) {
  const TileResistances res{500.0, 100.0, 2.5, 2.5};
  std::vector<OneTile> tiles;
  for (int k = 0; k < 11; ++k) tiles.push_back({32, 32, test::random_conductances(32, 32, 2e4, 2e5, 300 + k), res});
  std::vector<const OneTile*> all;
  for (const auto& t : tiles) all.push_back(&t);
  const std::vector<double> wide = solve(all, false, 2, LaneUse::width8);
  const std::vector<double> narrow = solve(all, false, 2, LaneUse::width4);
  const std::vector<double> single = solve(all, false, 2, LaneUse::never);
  EXPECT_LE(test::max_relative_error(wide, single), 1e-9);
  EXPECT_EQ(wide, narrow);
}

// Tiles of one shape with different (non-zero) resistances share a group.
TEST(LaneSweep, PerTileResistancesInOneGroupMatchTheReference) {
  std::vector<OneTile> tiles;
  for (int k = 0; k < 10; ++k)
    tiles.push_back({16, 16, test::random_conductances(16, 16, 2e4, 2e5, 200 + k),
                     TileResistances{100.0 * (k + 1), 10.0 * (k + 1), 0.5 * (k + 1), 0.3 * (k + 1)}});
  std::vector<const OneTile*> all;
  for (const auto& t : tiles) all.push_back(&t);
  const std::vector<double> T = solve(all, true, 2);
  for (std::size_t k = 0; k < tiles.size(); ++k) {
    std::vector<double> want(256);
    reference::tile_transfer(TileView{16, 16, tiles[k].g.data(), tiles[k].res}, want.data());
    EXPECT_LE(test::max_relative_error(std::vector<double>(T.begin() + k * 256, T.begin() + (k + 1) * 256), want),
              1e-9)
        << "tile " << k;
  }
}

}  // namespace
}  // namespace sxb::cpu
