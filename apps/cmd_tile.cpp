// `sparsexbar tile`: one tile from a JSON file.
#include <iostream>
#include <memory>

#include "apps/commands.h"
#include "apps/output_paths.h"
#include "models/io/atomic_file.h"
#include "engine/crossbar/tile_json.h"

namespace sxb::app {

void add_tile_command(CLI::App& app) {
  struct Options {
    std::string input, output;
    TileSolveOptions solve;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("tile", "Solve one crossbar tile given as JSON (see docs/cli.md)");
  cmd->add_option("--input", opt->input, "Tile JSON file")->check(CLI::ExistingFile)->required();
  cmd->add_flag("--transfer", opt->solve.transfer, "Also output the transfer matrix T (cols x rows)");
  cmd->add_flag("--nf", opt->solve.nf, "Also output the non-ideality factor per column, mean and max");
  cmd->add_option("--output", opt->output, "Write the result JSON here (default: standard output)");
  cmd->callback([opt] {
    check_distinct_paths({{"--output", opt->output}}, {{"--input", opt->input}});
    if (!opt->output.empty()) check_output_file(opt->output, "--output");
    const TileProblem problem = read_tile_problem(opt->input);
    const std::string text = solve_tile_problem(problem, opt->solve).dump(2) + "\n";
    if (opt->output.empty()) std::cout << text;
    else write_file_atomic(opt->output, text);
  });
}

}  // namespace sxb::app
