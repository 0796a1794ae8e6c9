// `sparsexbar demo`: the built-in example tile, ideal vs non-ideal currents.
#include <fmt/format.h>

#include <chrono>
#include <memory>

#include "apps/commands.h"
#include "engine/example_tile.h"
#include "engine/tile_solver.h"

namespace sxb::app {

void add_demo_command(CLI::App& app) {
  struct Options {
    int size = 64;
    std::uint64_t seed = 1;
    std::string backend = "auto";
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("demo", "Simulate the built-in example tile: ideal vs non-ideal currents");
  cmd->add_option("--size", opt->size, "Tile rows = cols")->check(CLI::Range(1, kMaxTileDim));
  cmd->add_option("--seed", opt->seed, "Seed of the example conductances");
  cmd->add_option("--backend", opt->backend, "auto, cpu, cuda or reference");
  cmd->callback([opt] {
    const int n = opt->size;
    const std::vector<double> g = example_conductances(n, n, opt->seed);
    const TileView t{n, n, g.data(), TileResistances{}};
    const Backend backend = resolve(parse_backend(opt->backend, "--backend"));
    const std::vector<double> v(n, kDefaultVRead);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<double> I = tile_currents(t, v, backend);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::vector<double> ideal = ideal_currents(t, v);

    fmt::print("SparseXbar demo: {0} x {0} tile, all rows at V_read = {1} V\n", n, kDefaultVRead);
    fmt::print("devices {} .. {} kOhm; r_source {} Ohm, r_sink {} Ohm, r_wire_row {} Ohm, r_wire_col {} Ohm\n",
               kDefaultROn / 1e3, kDefaultROff / 1e3, t.res.r_source, t.res.r_sink, t.res.r_wire_row,
               t.res.r_wire_col);
    fmt::print("backend: {} ({})\n\n", to_string(backend), describe(backend));
    fmt::print("{:>6}  {:>14}  {:>14}  {:>8}\n", "column", "ideal (uA)", "non-ideal (uA)", "NF (%)");
    const int step = n > 16 ? n / 16 : 1;
    double nf_mean = 0.0, nf_max = 0.0;
    for (int j = 0; j < n; ++j) {
      const double nf = (ideal[j] - I[j]) / ideal[j];
      nf_mean += nf / n;
      nf_max = std::max(nf_max, nf);
      if (j % step == 0 || j == n - 1)
        fmt::print("{:>6}  {:>14.4f}  {:>14.4f}  {:>8.2f}\n", j, ideal[j] * 1e6, I[j] * 1e6, nf * 100.0);
    }
    fmt::print("\nnon-ideality factor over {} columns: mean {:.2f} %, max {:.2f} %  (solved in {:.2f} ms)\n", n,
               nf_mean * 100.0, nf_max * 100.0, seconds * 1e3);
  });
}

}  // namespace sxb::app
