// `sparsexbar evaluate`: software, ideal-crossbar and non-ideal-crossbar
// accuracy of a trained (possibly pruned) model (engine/evaluation/crossbar_eval.h).
#include <fmt/format.h>
#include <omp.h>

#include <memory>

#include "apps/commands.h"
#include "apps/number_options.h"
#include "apps/crossbar_options.h"
#include "apps/model_options.h"
#include "apps/output_paths.h"
#include "apps/readout_options.h"
#include "apps/report_options.h"
#include "models/io/atomic_file.h"
#include "engine/io/stopwatch.h"
#include "engine/evaluation/crossbar_render.h"
#include "engine/evaluation/model_evaluation.h"
#include "engine/report/html_report.h"
#include "engine/crossbar/layout_file.h"
#include "engine/evaluation/sparse_forward.h"
#include "engine/crossbar/weff_cache.h"

namespace sxb::app {
void add_evaluate_command(CLI::App& app) {
  struct Options {
    ModelOptions model;
    CrossbarFlags crossbar;
    std::string data, layout, unpruned, json, predictions, backend, device, cache_dir;
    long long reference_crossbars = 0;
    int threads = 0;
    bool no_cache = false, quiet = false;
    std::string rearrange = "none";
    RearrangeOptions rearrange_options;
    std::string sparse;
    std::string calibrations;
    std::size_t bn_recalibrate = 0;
    bool nf_by_source = false;
    std::string report, report_layer;
    std::size_t report_cells = HeatmapRequest{}.max_cells;
  };
  auto opt = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "evaluate", "Accuracy of a trained model on ideal and non-ideal crossbars (see docs/cli.md)");
  add_model_options(cmd, opt->model);
  cmd->add_option("--data", opt->data, "cifar10:DIR, cifar100:DIR, cifar100-coarse:DIR, folder:DIR or synthetic[:N]")
      ->required();
  add_crossbar_options(cmd, opt->crossbar, true);
  cmd->add_option("--layout", opt->layout, "Packed tile layout of a pruned model (<pruned>.layout.json)")->check(CLI::ExistingFile);
  cmd->add_option("--unpruned", opt->unpruned, "Weights of the unpruned model, for CCR")->check(CLI::ExistingFile);
  cmd->add_option("--reference-crossbars", opt->reference_crossbars, "Crossbars of the unpruned model, for CCR")
      ->check(CLI::PositiveNumber);
  add_backend_option(cmd, opt->backend);
  add_device_option(cmd, opt->device);
  cmd->add_option("--cache-dir", opt->cache_dir, "Cache of effective weights (default: " + default_cache_dir() + ")");
  cmd->add_flag("--no-cache", opt->no_cache, "Neither read nor write the cache");
  cmd->add_option("--json", opt->json, "Write the report as JSON here");
  cmd->add_option("--predictions", opt->predictions,
                  "Write index,label,software,nonideal,logit_0.. (non-ideal logits) as CSV here");
  add_threads_option(cmd, opt->threads, "OpenMP threads (0: all cores)");
  cmd->add_flag("--quiet", opt->quiet, "No progress lines");
  add_sparse_option(cmd, opt->sparse);
  cmd->add_option("--rearrange", opt->rearrange,
                  "Column rearrangement: none, sort, sort-reverse, balance, search or spread")
      ->capture_default_str();
  cmd->add_option("--rearrange-budget", opt->rearrange_options.budget_seconds, "search: wall-time budget, seconds")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--rearrange-rounds", opt->rearrange_options.rounds, "search: most rounds (0: until the budget)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--rearrange-seed", opt->rearrange_options.seed, "search: seed of the random proposals")
      ->capture_default_str();
  cmd->add_option("--rearrange-extra", opt->rearrange_options.extra,
                  "spread: extra crossbars per layer, as a share of the layer's (0.25: up to 25 % more; at most 100)")
      ->capture_default_str();  // the range is checked with the settings (rearrange.extra)
  add_readout_options(cmd, opt->calibrations, opt->bn_recalibrate, opt->nf_by_source);
  add_report_options(cmd, opt->report, opt->report_layer, opt->report_cells);
  cmd->callback([opt] {
    use_threads(opt->threads);
    check_distinct_paths({{"--json", opt->json}, {"--predictions", opt->predictions}, {"--report", opt->report}},
                         {{"--weights", opt->model.weights}, {"--layout", opt->layout},
                          {"--unpruned", opt->unpruned}, {"--crossbar", opt->crossbar.file}});
    if (!opt->json.empty()) check_output_file(opt->json, "--json");
    if (!opt->predictions.empty()) check_output_file(opt->predictions, "--predictions");
    if (!opt->report.empty()) check_output_file(opt->report, "--report");
    const std::string cache_dir =
        opt->no_cache ? "" : usable_cache_dir(opt->cache_dir.empty() ? default_cache_dir() : opt->cache_dir,
                                              !opt->cache_dir.empty());
    CrossbarEvalOptions eo;
    if (!opt->layout.empty()) eo.layout = read_layout_file(opt->layout);
    eo.crossbar = crossbar_from_options(opt->crossbar, eo.layout ? &*eo.layout : nullptr);
    eo.backend = parse_backend(opt->backend, "--backend");
    eo.sparse = parse_sparse_path(opt->sparse, "--sparse");
    SXB_REQUIRE(opt->unpruned.empty() || opt->reference_crossbars == 0,
                "--unpruned and --reference-crossbars are alternatives");
    eo.reference_crossbars = opt->reference_crossbars;
    eo.evaluation = readout_settings(opt->calibrations, opt->bn_recalibrate, opt->nf_by_source);
    eo.rearrange = opt->rearrange_options;
    eo.rearrange.policy = parse_rearrange_policy(opt->rearrange, "--rearrange");
    eo.cache_dir = cache_dir;
    eo.data_source = opt->data;
    if (!opt->report.empty()) eo.heatmaps = HeatmapRequest{opt->report_layer, opt->report_cells};
    if (!opt->quiet) eo.log = log_line_to_stderr;

    const ModelFile mf = read_model_file(opt->model);  // the one read of the weights file
    ModelEvalRequest request;
    request.weights = opt->model.weights;
    request.file = &mf.file;
    request.config = mf.config;
    request.layout = opt->layout;
    request.unpruned = opt->unpruned;
    request.options = eo;
    std::unique_ptr<nn::Backend> backend = nn::make_backend(opt->device);
    const Dataset test_set = load_dataset(opt->data, Split::Test);
    const CrossbarEvalResult r = evaluate_model_file(request, *backend, test_set);
    fmt::print("{}", crossbar_table(r.report));
    if (!opt->json.empty()) write_file_atomic(opt->json, to_json(r.report).dump(2) + "\n");
    if (!opt->report.empty()) write_file_atomic(opt->report, crossbar_html_report({r.report}, {"evaluate", "", 0.0}));
    if (!opt->predictions.empty()) write_file_atomic(opt->predictions, crossbar_predictions_csv(r, test_set));
  });
}

}  // namespace sxb::app
