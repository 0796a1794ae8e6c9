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
BENCHMARK(BM_Sweep_Currents1)->Arg(16)->Arg(32)->Arg(64)->Arg(128)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
