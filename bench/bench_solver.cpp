// Tile-solver speed: transfer-matrix extraction by the fast CPU column sweep
// (kernels/tile/cpu/tile_sweep.h) against the general way, an Eigen SparseLU
// analyse + factorise + solve of the tile's 2RC-node nodal system with R
// right-hand sides (tests/support/nodal_eigen.h).
//
// TARGET: 64x64 transfer extraction at least 20x faster per tile than the
// SparseLU path, core for core: s_per_tile of BM_Sweep_Transfer/64 (run with
// OMP_NUM_THREADS=1) at most 1/20 of BM_SparseLU_Transfer/64 (one core).
// BM_Sweep_BatchTransfer/64 runs its 64 tiles in parallel on all OpenMP
// threads (counter `threads`): the per-tile throughput of the whole machine.
// On a busy machine compare cpu_time as well; s_per_tile is wall-clock.
//
// Tiles: default circuit (r_source 500, r_sink 100, wires 2.5 ohm), devices
// uniform in 20k..200k ohm, fixed seeds. Wall-clock time throughout; every
// benchmark reports `s_per_tile` (per tile, and for BM_Sweep_Currents1 per
// tile and input vector), so --benchmark_format=json carries it directly.
#include <omp.h>

#include <cstdint>
#include <vector>

#include <Eigen/Core>
#include <benchmark/benchmark.h>

#include "engine/crossbar/tile_solver.h"
#include "kernels/common/fma_peak.h"
#include "kernels/tile/cpu/column_admittance.h"
#include "kernels/tile/cpu/dense_small.h"
#include "kernels/tile/cpu/lane_column.h"
#include "kernels/tile/cpu/lane_dense.h"
#include "kernels/tile/cpu/lane_sweep.h"
#include "kernels/tile/cpu/tile_sweep.h"
#include "tests/support/nodal_eigen.h"
#include "tests/support/random_tile.h"

namespace {

using sxb::test_support::OwnedTile;
using sxb::test_support::TileRng;

// Every input passes the front door's checks (engine/crossbar/tile_solver.h)
// before the kernels are timed directly.
OwnedTile default_tile(int n, std::uint64_t seed) {
  TileRng rng(seed);
  OwnedTile tile = rng.tile(n, n, 20e3, 200e3, sxb::TileResistances{}, "defaults");
  sxb::validate_tile(tile.view(), "bench tile");
  return tile;
}

// s_per_tile: wall-clock seconds per tile (the benchmarks use real time);
// threads: how many threads the timed code may use.
void set_counters(benchmark::State& state, double tiles_per_iteration, int threads) {
  state.counters["s_per_tile"] = benchmark::Counter(tiles_per_iteration * static_cast<double>(state.iterations()),
                                                    benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["threads"] = threads;
}

// fma_per_s: `fma_per_iteration` useful multiply-adds per iteration, per
// second (of CPU time, or of wall-clock time with UseRealTime); compare it with BM_PeakFma's in the same run.
void set_fma_counters(benchmark::State& state, double fma_per_iteration) {
  state.counters["fma_per_s"] = benchmark::Counter(fma_per_iteration * static_cast<double>(state.iterations()),
                                                   benchmark::Counter::kIsRate);
}

// The general way: analyse + factorise + R solves (the matrix is assembled
// once, outside the timing), on one core: Eigen's own
// OpenMP parallelism of its dense kernels is switched off.
void BM_SparseLU_Transfer(benchmark::State& state) {
  Eigen::setNbThreads(1);
  const int n = static_cast<int>(state.range(0));
  const OwnedTile tile = default_tile(n, 1);
  const sxb::nodal_eigen::NodalSystem system = sxb::nodal_eigen::assemble(tile.view());
  for (auto _ : state) {
    std::vector<double> transfer = sxb::nodal_eigen::transfer_sparse_lu(system);
    benchmark::DoNotOptimize(transfer.data());
  }
  set_counters(state, 1.0, Eigen::nbThreads());
}

void BM_Sweep_Transfer(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const OwnedTile tile = default_tile(n, 1);
  std::vector<double> transfer(static_cast<std::size_t>(n) * n);
  for (auto _ : state) {
    sxb::cpu::tile_transfer(tile.view(), transfer.data());
    benchmark::DoNotOptimize(transfer.data());
  }
  set_counters(state, 1.0, omp_get_max_threads());
  set_fma_counters(state, sxb::cpu::sweep_multiply_adds(n, n));  // against BM_PeakFma
}

constexpr int kBatchTiles = 64;

void BM_Sweep_BatchTransfer(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  sxb::TileBatch batch;
  for (int k = 0; k < kBatchTiles; ++k) {
    const OwnedTile tile = default_tile(n, 100 + k);
    batch.add(n, n, tile.conductance.data());
  }
  sxb::validate_batch(batch, "bench batch");
  std::vector<double> transfer(batch.total_cells());
  for (auto _ : state) {
    const std::vector<std::size_t> failed = sxb::cpu::batch_transfer(batch, transfer.data());
    if (!failed.empty()) state.SkipWithError("batch_transfer: a tile's factorisation failed");
    benchmark::DoNotOptimize(transfer.data());
  }
  set_counters(state, kBatchTiles, omp_get_max_threads());
}

// --- The sweep's phases on one core, as shares of the measured FMA peak ---

// The anchor: multiply-adds per second of a register-only FMA loop, one thread.
void BM_PeakFma(benchmark::State& state) {
  double peak = 0.0;
  for (auto _ : state) peak = sxb::cpu::measured_fma_peak(0.5, 5);
  state.counters["fma_per_s"] = peak;
}

// A word-line segment's matrix, I + Y/g: SPD, diagonal-dominant like the sweep's.
std::vector<double> shifted_admittance(int n) {
  const OwnedTile tile = default_tile(n, 3);
  std::vector<double> A(static_cast<std::size_t>(n) * n, 0.0), a(n), scratch;
  for (int j = 0; j < n; ++j)
    sxb::cpu::add_column_admittance(n, tile.conductance.data() + j, n, 1.0, 100.0, A.data(), a.data(), scratch);
  for (double& v : A) v *= 2.5;  // Y / g with r_wire = 2.5 ohm
  for (int i = 0; i < n; ++i) A[i + static_cast<std::size_t>(i) * n] += 1.0;
  return A;
}

// The SPD inverse of each word-line segment (n^3 / 2 useful multiply-adds).
void BM_Phase_Inverse(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::vector<double> A = shifted_admittance(n);
  std::vector<double> work(A.size());
  for (auto _ : state) {
    std::copy(A.begin(), A.end(), work.begin());
    if (!sxb::cpu::invert_spd(n, work.data())) state.SkipWithError("invert_spd failed");
    benchmark::DoNotOptimize(work.data());
  }
  set_fma_counters(state, 0.5 * n * n * n);
}

// The Horner product M Q_tail at the average tail width n/2.
void BM_Phase_Product(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0)), m = n / 2;
  const std::vector<double> M = shifted_admittance(n);
  std::vector<double> X(static_cast<std::size_t>(n) * m, 0.5), C(X.size());
  for (auto _ : state) {
    sxb::cpu::multiply(n, m, M.data(), X.data(), C.data());
    benchmark::DoNotOptimize(C.data());
  }
  set_fma_counters(state, static_cast<double>(n) * n * m);
}

// One bit line's admittance added into Y (~2 n^2 multiply-adds).
void BM_Phase_BitLine(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const OwnedTile tile = default_tile(n, 4);
  std::vector<double> Y(static_cast<std::size_t>(n) * n, 0.0), a(n), scratch;
  for (auto _ : state) {
    sxb::cpu::add_column_admittance(n, tile.conductance.data(), n, 1.0, 100.0, Y.data(), a.data(), scratch);
    benchmark::DoNotOptimize(Y.data());
  }
  set_fma_counters(state, 2.0 * n * n);
}

// --- The same phases in lanes: W tiles at once (lane_sweep.h), W = 4 and 8 ---

// W scaled copies of shifted_admittance(n) - I, interleaved.
template <int W>
sxb::cpu::LaneBuffer<W> lane_matrix(int n) {
  const std::vector<double> A = shifted_admittance(n);
  sxb::cpu::LaneBuffer<W> L;
  L.resize(A.size());
  for (std::size_t k = 0; k < A.size(); ++k)
    for (int l = 0; l < W; ++l) L[k][l] = A[k] * (1.0 + 0.01 * l);
  for (int i = 0; i < n; ++i) L[i + static_cast<std::size_t>(i) * n] -= 1.0;  // stored as E = A - I
  return L;
}

template <int W>
void BM_Lane_Inverse(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  sxb::cpu::LaneBuffer<W> A = lane_matrix<W>(n), work, panels;
  work.resize(A.size());
  panels.resize(2 * static_cast<std::size_t>(n) * sxb::cpu::kLanePivots);
  for (auto _ : state) {
    std::copy(A.data(), A.data() + A.size(), work.data());
    sxb::cpu::LaneMask<W> bad = {};
    sxb::cpu::lane_invert_spd<W>(n, work.data(), panels.data(), bad);
    benchmark::DoNotOptimize(work.data());
  }
  set_fma_counters(state, W * 0.5 * n * n * n);
}

template <int W>
void BM_Lane_Product(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0)), m = n / 2;
  sxb::cpu::LaneBuffer<W> M = lane_matrix<W>(n), X, C;
  X.resize(static_cast<std::size_t>(n) * m);
  C.resize(X.size());
  for (std::size_t k = 0; k < X.size(); ++k) X[k] = M[k];
  for (auto _ : state) {
    sxb::cpu::lane_multiply_shifted<W>(n, m, M.data(), X.data(), C.data());
    benchmark::DoNotOptimize(C.data());
  }
  set_fma_counters(state, W * static_cast<double>(n) * n * m);
}

// Coefficients and the fused pass of one bit line (after a word-line segment).
template <int W>
void BM_Lane_BitLine(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const OwnedTile tile = default_tile(n, 4);
  sxb::cpu::LaneBuffer<W> A = lane_matrix<W>(n), g, rho, k, a, e, scratch;
  for (auto* v : {&g, &rho, &k, &a, &e, &scratch}) v->resize(n);
  for (int i = 0; i < n; ++i)
    for (int l = 0; l < W; ++l) g[i][l] = tile.conductance[static_cast<std::size_t>(i) * n];
  using Lanes = sxb::cpu::Lanes<W>;
  const Lanes g_wire = Lanes{} + 0.4, g_sink = Lanes{} + 0.01, inv = Lanes{} + 2.5;
  for (auto _ : state) {
    sxb::cpu::lane_bit_line<W>(n, n, g.data(), true, true, g_wire, g_sink, rho.data(), k.data(), a.data(), scratch.data());
    Lanes y_max = {};
    sxb::cpu::lane_add_bit_line<W>(n, A.data(), sxb::cpu::LaneYSource::Stored, g_wire, g.data(), rho.data(), k.data(),
                                e.data(), false, inv, y_max);
    benchmark::DoNotOptimize(A.data());
  }
  set_fma_counters(state, W * 2.0 * n * n);
}

// The whole sweep of W tiles (one thread).
template <int W>
void BM_Lane_Transfer(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<OwnedTile> owned;
  for (int l = 0; l < W; ++l) owned.push_back(default_tile(n, 100 + l));
  sxb::TileView tiles[W];
  std::vector<std::vector<double>> transfer(W, std::vector<double>(static_cast<std::size_t>(n) * n));
  double* out[W];
  for (int l = 0; l < W; ++l) {
    tiles[l] = owned[l].view();
    out[l] = transfer[l].data();
  }
  sxb::cpu::LaneWorkspace<W> ws;
  for (auto _ : state) {
    if (sxb::cpu::lane_transfer<W>(tiles, out, ws) != 0) state.SkipWithError("lane_transfer: a lane needs the per-tile sweep");
    benchmark::DoNotOptimize(out[0]);
  }
  set_counters(state, W, 1);
  set_fma_counters(state, W * sxb::cpu::sweep_multiply_adds(n, n));
}

// One input vector (all rows at V_read = 0.3 V), solved per vector.
void BM_Sweep_Currents1(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const OwnedTile tile = default_tile(n, 1);
  const std::vector<double> voltages(n, 0.3);
  std::vector<double> currents(n);
  for (auto _ : state) {
    sxb::cpu::tile_currents(tile.view(), voltages.data(), 1, currents.data());
    benchmark::DoNotOptimize(currents.data());
  }
  set_counters(state, 1.0, omp_get_max_threads());
}

BENCHMARK(BM_SparseLU_Transfer)->Arg(16)->Arg(32)->Arg(64)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Sweep_Transfer)->Arg(16)->Arg(32)->Arg(64)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Sweep_BatchTransfer)->Arg(16)->Arg(32)->Arg(64)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PeakFma)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Phase_Inverse)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Phase_Product)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Phase_BitLine)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Lane_Inverse, 4)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Lane_Inverse, 8)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Lane_Product, 4)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Lane_Product, 8)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Lane_BitLine, 4)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Lane_BitLine, 8)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);
BENCHMARK_TEMPLATE(BM_Lane_Transfer, 4)->Arg(16)->Arg(32)->Arg(64)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_Lane_Transfer, 8)->Arg(16)->Arg(32)->Arg(64)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Sweep_Currents1)->Arg(16)->Arg(32)->Arg(64)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
