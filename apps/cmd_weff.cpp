// `sparsexbar weff`: the effective weights of any state dict (e.g. a PyTorch
// model saved with safetensors), written as a state dict of the same tensors
// (engine/crossbar/state_dict_weff.h).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <omp.h>

#include <memory>

#include "apps/commands.h"
#include "apps/crossbar_options.h"
#include "apps/model_options.h"
#include "apps/output_paths.h"
#include "engine/io/stopwatch.h"
#include "engine/crossbar/layout_file.h"
#include "engine/crossbar/state_dict_weff.h"
#include "models/io/atomic_file.h"

namespace sxb::app {

void add_weff_command(CLI::App& app) {
  struct Options {
    CrossbarFlags crossbar;
    std::string weights, out, layout, json, backend;
    std::string include = StateDictWeffOptions{}.include, exclude;
    std::vector<std::string> groups;
    int threads = 0;
    bool quiet = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "weff", "Effective weights of any safetensors state dict on crossbars, as a state dict (see docs/cli.md)");
  cmd->add_option("--weights", opt->weights, "Input state dict (safetensors)")->required();
  cmd->add_option("--out", opt->out, "Output state dict: same tensors, mapped weights replaced by W_eff")->required();
  add_crossbar_options(cmd, opt->crossbar, true);
  cmd->add_option("--include", opt->include, "Map the 2-D and 4-D tensors whose name matches this regex")
      ->capture_default_str();
  cmd->add_option("--exclude", opt->exclude, "Copy the tensors whose name matches this regex unchanged");
  cmd->add_option("--layout", opt->layout, "Packed tile layout of the layers it names (<pruned>.layout.json)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--groups", opt->groups, "Groups of a grouped convolution: TENSOR=G (repeatable)");
  add_backend_option(cmd, opt->backend);
  cmd->add_option("--json", opt->json, "Write the per-layer report as JSON here");
  cmd->add_option("--threads", opt->threads, "OpenMP threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--quiet", opt->quiet, "No progress lines");
  cmd->callback([opt] {
    if (opt->threads > 0) omp_set_num_threads(opt->threads);
    check_distinct_paths({{"--out", opt->out}, {"--json", opt->json}},
                         {{"--weights", opt->weights}, {"--crossbar", opt->crossbar.file}});
    check_output_file(opt->out, "--out");  // before the solve, not after it
    if (!opt->json.empty()) check_output_file(opt->json, "--json");
    StateDictWeffOptions o;
    if (!opt->layout.empty()) o.layout = read_layout_file(opt->layout);
    o.crossbar = crossbar_from_options(opt->crossbar, o.layout ? &*o.layout : nullptr);
    o.backend = parse_backend(opt->backend, "--backend");
    o.include = opt->include;
    o.exclude = opt->exclude;
    for (const std::string& g : opt->groups) {
      const Error bad(fmt::format("--groups '{}': expected TENSOR=G with an integer G >= 1", g));
      const std::size_t eq = g.rfind('=');
      if (eq == std::string::npos || eq == 0) throw bad;
      std::size_t used = 0;
      int n = 0;
      try {
        n = std::stoi(g.substr(eq + 1), &used);
      } catch (const std::exception&) {
        throw bad;
      }
      if (used != g.size() - eq - 1 || n < 1) throw bad;
      o.groups[g.substr(0, eq)] = n;
    }
    if (!opt->quiet) o.log = log_line_to_stderr;
    {
      const RawSafetensors in = read_safetensors_raw(opt->weights);
      const StateDictWeff r = state_dict_weff(in, opt->weights, o);
      write_safetensors_raw(opt->out, r.file);
      fmt::print("{:<32} {:>16} {:>5} {:>9} {:>10} {:>9} {:>9}\n", "tensor", "shape", "dtype", "crossbars", "scale",
                 "NF mean", "rel.err");
      for (const TensorWeff& t : r.tensors)
        fmt::print("{:<32} {:>16} {:>5} {:>9} {:>10.4g} {:>9.4g} {:>9.3g}\n", t.name,
                   fmt::format("{}", fmt::join(t.shape, "x")) + (t.groups > 1 ? fmt::format("/g{}", t.groups) : ""),
                   t.dtype, 2 * t.positions, t.scale, t.nf.mean(), t.relative_error);
      fmt::print("{} tensors mapped onto {} crossbars of {} x {}, {} copied; wrote {} ({:.1f} s)\n", r.tensors.size(),
                 r.crossbars(), o.crossbar.tile_rows, o.crossbar.tile_cols, r.copied.size(), opt->out, r.seconds);
      if (!opt->json.empty()) write_file_atomic(opt->json, to_json(r, opt->weights, o).dump(2) + "\n");
    }
  });
}

}  // namespace sxb::app
