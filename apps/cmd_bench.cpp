// `sparsexbar bench solver`: seconds per tile for transfer extraction and for
// one-vector solves, on the chosen backend, through the tile solver's front
// door (CPU: per-vector path, OpenMP over tiles; CUDA: through the transfer
// matrices, which is how that backend solves).
#include <fmt/format.h>

#include <omp.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "engine/crossbar/example_tile.h"
#include "engine/crossbar/tile_solver.h"
#include "kernels/common/error.h"
#include "engine/io/version.h"
#include "engine/io/stopwatch.h"

namespace sxb::app {
namespace {

}  // namespace

void add_bench_command(CLI::App& app) {
  struct Options {
    int rows = kDefaultTileDim, cols = kDefaultTileDim, tiles = 64, repeat = 3;
    std::string backend = to_string(Backend::Auto);
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks with machine-readable output");
  bench->require_subcommand(1);
  add_bench_network_command(*bench);
  add_bench_sparse_command(*bench);
  add_bench_train_command(*bench);
  add_bench_infer_command(*bench);
  CLI::App* cmd = bench->add_subcommand("solver", "Tile solver: seconds per tile");
  cmd->add_option("--rows", opt->rows, "Tile rows")->check(CLI::Range(1, kMaxTileDim));
  cmd->add_option("--cols", opt->cols, "Tile columns")->check(CLI::Range(1, kMaxTileDim));
  cmd->add_option("--tiles", opt->tiles, "Tiles per batch")->check(CLI::Range(1, 1 << 22));
  cmd->add_option("--repeat", opt->repeat, "Timed repetitions (the best is reported)")->check(CLI::Range(1, 100));
  cmd->add_option("--backend", opt->backend, "cpu or cuda (auto: cuda if present)");
  cmd->add_flag("--json", opt->json, "Print one JSON object instead of a table");
  cmd->callback([opt] {
    const Backend backend = resolve(parse_backend(opt->backend, "--backend"));
    SXB_REQUIRE(backend != Backend::Reference, "--backend: bench solver compares the fast backends (cpu, cuda)");
    TileBatch batch;
    for (int k = 0; k < opt->tiles; ++k) {
      const auto g = example_conductances(opt->rows, opt->cols, 1000 + k);
      batch.add(opt->rows, opt->cols, g.data());
    }
    (void)transfer_matrices(batch, backend);  // warm-up (and GPU context)
    double transfer = 1e300, one_vector = 1e300;
    for (int r = 0; r < opt->repeat; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      (void)transfer_matrices(batch, backend);
      transfer = std::min(transfer, seconds_since(t0));
      one_vector = std::min(one_vector, one_vector_solve_seconds(batch, backend, kDefaultVRead));
    }
    const double n = opt->tiles;
    nlohmann::json out = {{"benchmark", "solver"},
                          {"rows", opt->rows},
                          {"cols", opt->cols},
                          {"tiles", opt->tiles},
                          {"backend", to_string(backend)},
                          {"device", describe(backend)},
                          {"transfer_s_per_tile", transfer / n},
                          {"transfer_tiles_per_s", n / transfer},
                          {"one_vector_s_per_tile", one_vector / n},
                          {"version", version_line()}};
    double share = 0.0;
    if (backend == Backend::Cpu) {
      // The sweep's useful multiply-adds against the measured peak of every thread.
      const double peak = cpu_fma_peak_per_thread(), fma = cpu_sweep_multiply_adds(opt->rows, opt->cols);
      const int threads = omp_get_max_threads();
      share = fma * n / transfer / (peak * threads);
      out["threads"] = threads;
      out["fma_peak_per_s_per_thread"] = peak;
      out["sweep_multiply_adds_per_tile"] = fma;
      out["transfer_share_of_peak"] = share;
    }
    if (opt->json) {
      std::cout << out.dump(2) << "\n";
      return;
    }
    fmt::print("tile solver, {} x {}, {} tiles, {} ({})\n", opt->rows, opt->cols, opt->tiles, to_string(backend),
               describe(backend));
    fmt::print("  transfer extraction: {:.3e} s/tile  ({:.0f} tiles/s)\n", transfer / n, n / transfer);
    fmt::print("  one-vector solve:    {:.3e} s/tile\n", one_vector / n);
    if (backend == Backend::Cpu)
      fmt::print("  transfer at {:.0f} % of the measured FMA peak ({:.1f} G/s per thread)\n", 100 * share,
                 out["fma_peak_per_s_per_thread"].get<double>() / 1e9);
  });
}

}  // namespace sxb::app
