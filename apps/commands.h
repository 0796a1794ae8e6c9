// Sub-commands of the `sparsexbar` executable.
#pragma once

#include <CLI/CLI.hpp>

namespace sxb::app {

void add_tile_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_bench_network_command(CLI::App& bench);  // under `bench`
void add_bench_sparse_command(CLI::App& bench);   // under `bench`
void add_bench_train_command(CLI::App& bench);    // under `bench`
void add_bench_infer_command(CLI::App& bench);    // under `bench`
void add_demo_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_software_eval_command(CLI::App& app);  // and its deprecated alias `eval`
void add_prune_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_weff_command(CLI::App& app);

}  // namespace sxb::app
