// `sparsexbar sweep run|list|merge`: run a sweep file, or one shard
// of it, with resumable JSON-lines results; list its points; merge the
// shards' results into CSV/Markdown tables and an SVG plot. Ctrl-C or SIGTERM
// (a Slurm time limit) finishes the current training step, writes its
// checkpoint and exits non-zero; the same command continues.
#include <fmt/format.h>
#include <omp.h>

#include <filesystem>
#include <memory>

#include "apps/commands.h"
#include "apps/number_options.h"
#include "apps/crossbar_options.h"
#include "apps/model_options.h"
#include "apps/output_paths.h"
#include "apps/output_paths.h"
#include "apps/stop_signal.h"
#include "models/io/atomic_file.h"
#include "engine/io/stopwatch.h"
#include "engine/report/sweep_report.h"
#include "engine/studies/sweep_results.h"
#include "engine/studies/sweep_run.h"
#include "engine/crossbar/weff_cache.h"
#include "kernels/common/error.h"

namespace sxb::app {
namespace {

std::string default_out(const Sweep& s) { return "sweep-" + s.name; }

// --shard's default as it is written: the Shard of every point (k/N).
std::string default_shard() {
  const Shard all;
  return std::to_string(all.k) + "/" + std::to_string(all.n);
}

void add_run(CLI::App* sweep) {
  struct Options {
    std::string file, out, shard = default_shard(), cache_dir, data_root, device, backend, sparse;
    int threads = 0;
    std::size_t max_points = 0;
    bool no_cache = false, quiet = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = sweep->add_subcommand("run", "Run every point of a sweep file (or of one shard) not yet finished");
  cmd->add_option("sweep", opt->file, "Sweep file (JSON: name, base, grid; see docs/cli.md)")->check(CLI::ExistingFile)->required();
  cmd->add_option("--out", opt->out, "Results folder (default: sweep-<name>)");
  cmd->add_option("--shard", opt->shard, "k/N: the points whose index is k modulo N; claim: take points through lock files in --out; auto: claim in a Slurm job array, the rank of an MPI launch")
      ->capture_default_str();
  cmd->add_option("--cache-dir", opt->cache_dir,
                  "Trained/pruned models and effective weights (default: " + default_cache_dir() + ")");
  cmd->add_flag("--no-cache", opt->no_cache, "Do not reuse or store effective weights (models are always kept)");
  cmd->add_option("--data-root", opt->data_root,
                  "Folder that relative data folders of the sweep file are taken from (default: $SPARSEXBAR_DATA, else "
                  "the working folder)")
      ->envname("SPARSEXBAR_DATA");
  add_device_option(cmd, opt->device);
  add_backend_option(cmd, opt->backend);
  add_sparse_option(cmd, opt->sparse);
  add_threads_option(cmd, opt->threads, "OpenMP threads (0: all cores)");
  cmd->add_option("--max-points", opt->max_points, "Stop after this many new points (0: no limit)")
      ->capture_default_str();
  cmd->add_flag("--quiet", opt->quiet, "No progress lines");
  cmd->callback([opt] {
    use_threads(opt->threads);
    const Sweep sweep = read_sweep(opt->file);
    SweepRunOptions o;
    o.shard = parse_shard(opt->shard);
    o.out_dir = opt->out.empty() ? default_out(sweep) : opt->out;
    o.cache_dir = opt->cache_dir.empty() ? default_cache_dir() : opt->cache_dir;
    o.weff_cache = !opt->no_cache;
    o.data_root = opt->data_root;
    o.device = opt->device;
    o.backend = parse_backend(opt->backend, "--backend");
    o.sparse = parse_sparse_path(opt->sparse, "--sparse");
    o.max_points = opt->max_points;
    check_output_dir(o.out_dir, "--out");
    check_output_dir(o.cache_dir, "--cache-dir");  // trained models are kept even with --no-cache
    if (!opt->quiet) o.log = log_line_to_stderr;
    SweepRunResult r;
    {
      const StopSignal stop;
      o.stop_requested = stop.poll();
      r = run_sweep(sweep, o);
    }
    const std::string summary =
        fmt::format("sweep {} shard {}: {} points, {} were done before, {} finished now, {} failed; results in {}",
                    sweep.name, o.shard.name(), r.owned, r.skipped, r.done, r.failed, r.results_file);
    if (r.interrupted)
      throw Error(summary + "; interrupted (checkpoints written): run the same command again to continue");
    fmt::print("{}\n", summary);
    if (r.failed > 0)
      throw Error(fmt::format("{} point(s) failed (see failures.{}.jsonl in {}); they run again on the next start",
                              r.failed, o.shard.name(), o.out_dir));
  });
}

void add_list(CLI::App* sweep) {
  struct Options {
    std::string file, out, shard = default_shard();
    bool json = false;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = sweep->add_subcommand("list", "List a sweep's points: index, id, done or todo, grid values");
  cmd->add_option("sweep", opt->file, "Sweep file")->check(CLI::ExistingFile)->required();
  cmd->add_option("--out", opt->out, "Results folder, to mark finished points (default: sweep-<name>)");
  cmd->add_option("--shard", opt->shard, "Only the points of shard k/N")->capture_default_str();
  cmd->add_flag("--json", opt->json, "One JSON object per point, with its normalised configuration");
  cmd->callback([opt] {
    const Sweep sweep = read_sweep(opt->file);
    Shard shard;
    shard = parse_shard(opt->shard);
    const std::set<std::string> done = read_sweep_records(opt->out.empty() ? default_out(sweep) : opt->out).ids();
    std::size_t n = 0, finished = 0;
    for (const SweepPoint& p : sweep.points) {
      if (!shard.owns(p.index)) continue;
      ++n;
      finished += done.count(p.id);
      if (opt->json)
        fmt::print("{}\n", nlohmann::json{{"index", p.index}, {"id", p.id}, {"done", done.count(p.id) > 0},
                                          {"varied", nlohmann::json::parse(p.varied.dump())},
                                          {"config", p.config.to_json()}}
                               .dump());
      else
        fmt::print("{:>5} {} {} {}\n", p.index, p.id, done.count(p.id) ? "done" : "todo", p.varied.dump());
    }
    if (!opt->json) fmt::print("{} points ({} in shard {}), {} done\n", sweep.points.size(), n, shard.name(), finished);
  });
}

void add_merge(CLI::App* sweep) {
  struct Options {
    std::vector<std::string> dirs;
    std::string csv, markdown, svg, x, y = "nonideal", series, report;
    std::vector<std::string> mean_over;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = sweep->add_subcommand("merge", "Gather the shards' results into tables (CSV, Markdown) and a plot");
  cmd->add_option("dirs", opt->dirs, "Results folders")->required();
  cmd->add_option("--csv", opt->csv, "Write the table as CSV here");
  cmd->add_option("--markdown", opt->markdown, "Write the table as Markdown here (default: print it)");
  cmd->add_option("--svg", opt->svg, "Write a line plot here (needs --x)");
  cmd->add_option("--report", opt->report,
                  "Write an HTML report here: the table, --y against every numeric grid key and CCR");
  cmd->add_option("--x", opt->x, "Plot: a numeric grid key on the x axis");
  cmd->add_option("--y", opt->y, "Plot: metric on the y axis")->capture_default_str();
  cmd->add_option("--series", opt->series, "Plot: a grid key, one line per value");
  cmd->add_option("--mean-over", opt->mean_over,
                  "Tables: mean and standard deviation over these grid keys (e.g. train.seed crossbar.seed)");
  cmd->callback([opt] {
    SXB_REQUIRE(opt->svg.empty() == opt->x.empty(), "--svg and --x go together");
    check_distinct_paths({{"--csv", opt->csv}, {"--markdown", opt->markdown}, {"--svg", opt->svg},
                          {"--report", opt->report}},
                         {});
    if (!opt->csv.empty()) check_output_file(opt->csv, "--csv");
    if (!opt->report.empty()) check_output_file(opt->report, "--report");
    if (!opt->markdown.empty()) check_output_file(opt->markdown, "--markdown");
    if (!opt->svg.empty()) check_output_file(opt->svg, "--svg");
    std::vector<nlohmann::json> records;
    std::set<std::string> ids;
    std::size_t skipped = 0;
    for (const std::string& dir : opt->dirs) {
      SXB_REQUIRE(std::filesystem::is_directory(dir), fmt::format("{}: not a results folder", dir));
      SweepRecords r = read_sweep_records(dir);
      skipped += r.skipped;
      for (auto& rec : r.records)
        if (ids.insert(rec["id"].get<std::string>()).second) records.push_back(std::move(rec));
    }
    SXB_REQUIRE(!records.empty(), "no finished points in " + fmt::format("{}", fmt::join(opt->dirs, ", ")));
    SweepTable t;
    {
      t = opt->mean_over.empty() ? sweep_table(records) : sweep_table_mean(records, opt->mean_over);
      if (!opt->csv.empty()) write_file_atomic(opt->csv, table_csv(t));
      if (!opt->markdown.empty()) write_file_atomic(opt->markdown, table_markdown(t));
      if (!opt->svg.empty()) write_file_atomic(opt->svg, sweep_svg(records, opt->x, opt->y, opt->series));
      if (!opt->report.empty()) write_file_atomic(opt->report, sweep_html_report(records, opt->y, opt->series, ""));
    }
    if (opt->markdown.empty()) fmt::print("{}", table_markdown(t));
    fmt::print(stderr, "{} points merged{}\n", records.size(),
               skipped ? fmt::format(" ({} torn or unreadable lines skipped)", skipped) : "");
  });
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  CLI::App* sweep = app.add_subcommand("sweep", "Grids of configurations: run (resumable, sharded), list, merge "
                                                "(see docs/cli.md)");
  sweep->require_subcommand(1);
  add_run(sweep);
  add_list(sweep);
  add_merge(sweep);
}

}  // namespace sxb::app
