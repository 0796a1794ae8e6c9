// `sparsexbar demo`: the main job in one command. Trains (or reuses from the
// cache) a small VGG11 on the built-in synthetic set, then evaluates it on
// ideal and non-ideal crossbars at tile sizes 16, 32 and 64 and prints the
// table. `--example-tile` shows one built-in tile instead.
#include <fmt/format.h>
#include <omp.h>

#include <filesystem>
#include <memory>

#include "apps/commands.h"
#include "apps/crossbar_options.h"
#include "apps/model_options.h"
#include "apps/output_paths.h"
#include "apps/readout_options.h"
#include "apps/report_options.h"
#include "models/io/atomic_file.h"
#include "engine/io/content_hash.h"
#include "engine/evaluation/crossbar_render.h"
#include "engine/evaluation/model_evaluation.h"
#include "engine/report/html_report.h"
#include "engine/crossbar/example_tile.h"
#include "engine/crossbar/tile_solver.h"
#include "engine/studies/model_store.h"
#include "engine/studies/sweep.h"
#include "engine/io/stopwatch.h"
#include "engine/training/train.h"
#include "engine/crossbar/weff_cache.h"

namespace sxb::app {
namespace {

void example_tile_demo(int n, std::uint64_t seed, Backend backend) {
  const ExampleTileRun run = run_example_tile(n, seed, backend);
  const TileResistances& res = run.res;
  fmt::print("SparseXbar example tile: {0} x {0}, all rows at V_read = {1} V\n", n, kDefaultVRead);
  fmt::print("devices {} .. {} kOhm; r_source {} Ohm, r_sink {} Ohm, r_wire_row {} Ohm, r_wire_col {} Ohm\n",
             kDefaultROn / 1e3, kDefaultROff / 1e3, res.r_source, res.r_sink, res.r_wire_row, res.r_wire_col);
  fmt::print("backend: {} ({})\n\n", to_string(backend), describe(backend));
  fmt::print("{:>6}  {:>14}  {:>14}  {:>8}\n", "column", "ideal (uA)", "non-ideal (uA)", "NF (%)");
  const int step = n > 16 ? n / 16 : 1;
  for (int j = 0; j < n; ++j)
    if (j % step == 0 || j == n - 1)
      fmt::print("{:>6}  {:>14.4f}  {:>14.4f}  {:>8.2f}\n", j, run.ideal[j] * 1e6, run.currents[j] * 1e6,
                 run.nf[j] * 100.0);
  fmt::print("\nnon-ideality factor over {} columns: mean {:.2f} %, max {:.2f} %  (solved in {:.2f} ms)\n", n,
             run.nf_mean * 100.0, run.nf_max * 100.0, run.seconds * 1e3);
}

struct DemoOptions {
  CrossbarFlags crossbar;  // no --tile: --tiles
  std::string data = "synthetic", cache_dir, json, backend, device;
  std::vector<std::string> tiles{"16", "32", "64"};
  TrainConfig train;
  bool example_tile = false, no_cache = false, nf_by_source = false;
  std::string calibrations;  // empty: the configuration's calibration and column, side by side
  std::size_t bn_recalibrate = 512;
  int example_size = 64;
  std::string report, report_layer;
  std::size_t report_cells = HeatmapRequest{}.max_cells;
};

// The trained demo model's file, from the model store shared with sweeps: a
// model trained with the same settings is reused, else it is trained now (an
// interrupted demo training resumes).
std::string demo_model(DemoOptions& o, const Dataset& train_set, const Dataset& test_set, nn::Backend& backend) {
  TrainConfig& c = o.train;
  c.data = o.data;
  c.out = "demo.safetensors";  // replaced by the store's path
  c.check();
  ModelStore store(o.cache_dir.empty() ? default_cache_dir() : o.cache_dir, nullptr,
                   [](const std::string& line) { fmt::print(stderr, "demo:{}\n", line); });
  const nlohmann::json engine = backend.name() == "cpu" ? nlohmann::json(nullptr) : nlohmann::json(backend.name());
  const StoredModel m = store.trained(c, train_identity_json(c), engine, train_set, test_set, backend, {});
  SXB_REQUIRE(!m.interrupted, "demo: training was interrupted");
  fmt::print(stderr, "demo: the trained model is {}\n", m.path);
  return m.path;
}

void network_demo(DemoOptions& o) {
  const auto t0 = Clock::now();
  check_distinct_paths({{"--json", o.json}, {"--report", o.report}}, {{"--crossbar", o.crossbar.file}});
  if (!o.json.empty()) check_output_file(o.json, "--json");
  if (!o.report.empty()) check_output_file(o.report, "--report");
  check_output_dir(o.cache_dir.empty() ? default_cache_dir() : o.cache_dir, "--cache-dir");  // models always kept
  CrossbarEvalOptions eo;
  eo.crossbar = crossbar_from_options(o.crossbar);
  eo.backend = parse_backend(o.backend, "--backend");
  eo.cache_dir = o.no_cache ? "" : o.cache_dir.empty() ? default_cache_dir() : o.cache_dir;
  eo.data_source = o.data;
  eo.evaluation = readout_settings(o.calibrations, o.bn_recalibrate, o.nf_by_source);
  if (o.calibrations.empty())  // the configured read-out beside the column-calibrated one
    eo.evaluation.calibrations = unique_calibrations({eo.crossbar.calibration, Calibration::Column});
  if (!o.report.empty()) eo.heatmaps = HeatmapRequest{o.report_layer, o.report_cells};
  std::vector<std::pair<int, int>> tiles;
  for (const std::string& t : o.tiles) {
    int r = 0, c = 0;
    parse_tile_size(t, r, c, "--tiles");
    tiles.emplace_back(r, c);
  }

  const Dataset train_set = load_dataset(o.data, Split::Train);
  const Dataset test_set = load_dataset(o.data, Split::Test);
  std::unique_ptr<nn::Backend> backend = nn::make_backend(o.device);
  eo.bn_train = &train_set;
  ModelEvalRequest request;
  request.weights = demo_model(o, train_set, test_set, *backend);
  request.model = {o.train.model, o.train.width, std::nullopt};
  SoftwareMemo software;
  std::vector<CrossbarReport> runs;
  for (const auto& [r, c] : tiles) {
    eo.crossbar.tile_rows = r;
    eo.crossbar.tile_cols = c;
    eo.crossbar.check("crossbar configuration");
    eo.log = log_line_to_stderr;
    request.options = eo;
    const CrossbarEvalResult res = evaluate_model_file(request, *backend, test_set, &software);
    fmt::print("\n=== tiles {} x {} ===\n{}", r, c, crossbar_table(res.report));
    runs.push_back(res.report);
  }

  const double seconds = seconds_since(t0);
  const CrossbarReport& first = runs.front();
  fmt::print("\n=== summary: {} width {} on {} ({} test images), crossbar preset '{}' ===\n", first.model, first.width,
             test_set.source, test_set.size(), eo.crossbar.preset);
  fmt::print("{}", crossbar_summary(runs));
  fmt::print("demo finished in {:.1f} s\n", seconds);
  if (!o.json.empty()) {
    nlohmann::json all = nlohmann::json::array();
    for (const CrossbarReport& r : runs) all.push_back(to_json(r));
    write_file_atomic(o.json, nlohmann::json{{"runs", all}, {"seconds", seconds}}.dump(2) + "\n");
  }
  if (!o.report.empty()) write_file_atomic(o.report, crossbar_html_report(runs, {"demo", "", seconds}));
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto opt = std::make_shared<DemoOptions>();
  opt->train.width = 0.25;
  opt->train.epochs = 4;
  opt->train.seed = 1;
  CLI::App* cmd = app.add_subcommand(
      "demo", "Train (or reuse) a small VGG11 and evaluate it on ideal and non-ideal crossbars at tiles 16, 32, 64");
  cmd->add_option("--data", opt->data, "Data set (default: the built-in synthetic set)")->capture_default_str();
  cmd->add_option("--model", opt->train.model, "vgg11 or vgg16")->capture_default_str();
  cmd->add_option("--width", opt->train.width, "Width multiplier")->capture_default_str();
  cmd->add_option("--epochs", opt->train.epochs, "Training epochs")->capture_default_str();
  cmd->add_option("--seed", opt->train.seed, "Training seed")->capture_default_str();
  cmd->add_option("--tiles", opt->tiles, "Tile sizes (N or RxC)")->capture_default_str();
  add_crossbar_options(cmd, opt->crossbar, false);
  add_backend_option(cmd, opt->backend);
  add_device_option(cmd, opt->device);
  cmd->add_option("--cache-dir", opt->cache_dir, "Cache of trained models and effective weights (default: " +
                                                     default_cache_dir() + ")");
  cmd->add_flag("--no-cache", opt->no_cache, "Do not reuse or store effective weights");
  cmd->add_option("--json", opt->json, "Write every tile size's report as JSON here");
  add_readout_options(cmd, opt->calibrations, opt->bn_recalibrate, opt->nf_by_source);
  add_report_options(cmd, opt->report, opt->report_layer, opt->report_cells);
  cmd->add_flag("--example-tile", opt->example_tile, "Only simulate the built-in example tile");
  cmd->add_option("--size", opt->example_size, "Rows = cols of the example tile")->check(CLI::Range(1, kMaxTileDim));
  cmd->callback([opt] {
    if (opt->example_tile)
      example_tile_demo(opt->example_size, opt->train.seed, resolve(parse_backend(opt->backend, "--backend")));
    else
      network_demo(*opt);
  });
}

}  // namespace sxb::app
